"""One measurement in a fresh process, so peak RSS belongs to this run alone.

    python -m bench.measure MODE URL TOKEN PAGE_SIZE [CAFILE]

With CAFILE (https), every mode verifies the server against that CA. MODE is one of:
  collect   clusters.kube.collect, then posture.checks.base.run_all (what a worker does)
  raw       the pods only: paged GETs with urllib3 + orjson.loads, each page dropped after
            parsing (the floor: bytes over HTTP and JSON parsing, nothing else)
  raw-all   the same for every resource collect lists (diagnostic: collect's own floor)
  model     the kubernetes client's models: CoreV1Api.list_pod_for_all_namespaces with
            limit/continue, items kept (what a client-library collector does)

Imports happen before the clock starts. Prints one JSON line: wall and CPU seconds (the
process's user+system time), peak RSS (ru_maxrss) and RSS before the work, in MB.
"""

from __future__ import annotations

import gc
import os
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson


def _rss_mb() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _raw(
    url: str, token: str, page_size: int, paths: list[str], ca_file: str | None
) -> dict[str, Any]:
    import urllib3

    tls: dict[str, Any] = {"cert_reqs": "CERT_REQUIRED", "ca_certs": ca_file} if ca_file else {}
    pool = urllib3.PoolManager(maxsize=1, **tls)
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    def run() -> dict[str, Any]:
        count = 0
        for path in paths:
            token_: str | None = None
            while True:
                fields: dict[str, Any] = {"limit": page_size}
                if token_:
                    fields["continue"] = token_
                response = pool.request("GET", url + path, fields=fields, headers=headers)
                if response.status != 200:
                    break
                page = orjson.loads(response.data)
                count += len(page["items"])
                token_ = (page.get("metadata") or {}).get("continue")
                del page, response
                if not token_:
                    break
        return {"items": count}

    return _timed(run)


def _collect(url: str, token: str, page_size: int, ca_file: str | None) -> dict[str, Any]:
    import base64

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from clusters.kube import collect
    from clusters.kubeconfig import Credentials
    from posture import checks  # noqa: F401  (import every check before timing)
    from posture.checks.base import run_all
    from posture.services import check_context

    ca_data = base64.b64encode(Path(ca_file).read_bytes()).decode() if ca_file else None
    credentials = Credentials(server=url, token=token, context="bench", ca_data=ca_data)
    phases: dict[str, float] = {}

    def run() -> dict[str, Any]:
        started = time.perf_counter()
        inventory = collect(credentials, page_size=page_size, timeout=120)
        phases["collect_s"] = time.perf_counter() - started
        started = time.perf_counter()
        results = run_all(inventory, check_context())
        phases["evaluate_s"] = time.perf_counter() - started
        statuses: dict[str, int] = {}
        for result in results:
            statuses[result.status.value] = statuses.get(result.status.value, 0) + 1
        return {"items": len(inventory.objects.get("pods", [])), "statuses": statuses}

    out = _timed(run)
    out.update({k: round(v, 4) for k, v in phases.items()})
    return out


def _model(url: str, token: str, page_size: int, ca_file: str | None) -> dict[str, Any]:
    from kubernetes import client

    configuration = client.Configuration(host=url)
    if ca_file:
        configuration.ssl_ca_cert = ca_file
    configuration.api_key = {"BearerToken": token}
    configuration.api_key_prefix = {"BearerToken": "Bearer"}
    api = client.CoreV1Api(client.ApiClient(configuration))

    def run() -> dict[str, Any]:
        items: list[Any] = []
        token_: str | None = None
        while True:
            kwargs: dict[str, Any] = {"limit": page_size, "_request_timeout": 300}
            if token_:
                kwargs["_continue"] = token_
            page = api.list_pod_for_all_namespaces(**kwargs)
            items.extend(page.items)
            token_ = page.metadata._continue if page.metadata else None
            if not token_:
                return {"items": len(items)}

    return _timed(run)


def _timed(work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    gc.collect()
    rss_before = _rss_mb()
    wall, cpu = time.perf_counter(), time.process_time()
    out = work()
    out.update(
        wall_s=round(time.perf_counter() - wall, 4),
        cpu_s=round(time.process_time() - cpu, 4),
        peak_rss_mb=round(_peak_mb(), 1),
        rss_before_mb=round(rss_before, 1),
    )
    return out


def main(argv: list[str]) -> int:
    mode, url, token, page_size = argv[0], argv[1], argv[2], int(argv[3])
    ca_file = argv[4] if len(argv) > 4 else None
    if mode == "collect":
        out = _collect(url, token, page_size, ca_file)
    elif mode == "raw":
        out = _raw(url, token, page_size, ["/api/v1/pods"], ca_file)
    elif mode == "raw-all":
        from clusters.resources import RESOURCES

        out = _raw(url, token, page_size, [r.list_path() for r in RESOURCES], ca_file)
    elif mode == "model":
        out = _model(url, token, page_size, ca_file)
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    out["mode"] = mode
    sys.stdout.write(orjson.dumps(out).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
