"""The floor of a collection: the pods' paged fetch and JSON parse, and nothing else.

    python -m bench.floor URL TOKEN CAFILE PAGE_SIZE

GETs /api/v1/pods page by page (limit/continue) over TLS verified against CAFILE, with
urllib3 and orjson.loads, each page dropped once parsed. The parent times this whole process,
interpreter start-up included, beside `manage.py collect NAME --sync` as a whole process: what
no implementation of collection can beat (bytes over TLS, parsing), so their ratio is the
overhead of everything else. Prints one JSON line: {"items": N, "pages": P}.

Deliberately imports nothing of Rampart or Django: its start-up is the interpreter's.
"""

from __future__ import annotations

import sys
from typing import Any

import orjson
import urllib3


def fetch_pods(url: str, token: str, ca_file: str, page_size: int) -> dict[str, int]:
    pool = urllib3.PoolManager(maxsize=1, cert_reqs="CERT_REQUIRED", ca_certs=ca_file)
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    items = pages = 0
    continue_token: str | None = None
    while True:
        fields: dict[str, Any] = {"limit": page_size}
        if continue_token:
            fields["continue"] = continue_token
        response = pool.request("GET", url + "/api/v1/pods", fields=fields, headers=headers)
        if response.status != 200:
            raise SystemExit(f"GET /api/v1/pods: HTTP {response.status}")
        page = orjson.loads(response.data)
        items += len(page["items"])
        pages += 1
        continue_token = (page.get("metadata") or {}).get("continue")
        del page, response
        if not continue_token:
            return {"items": items, "pages": pages}


def main(argv: list[str]) -> int:
    url, token, ca_file, page_size = argv[0], argv[1], argv[2], int(argv[3])
    sys.stdout.write(orjson.dumps(fetch_pods(url, token, ca_file, page_size)).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
