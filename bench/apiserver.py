"""A synthetic cluster served by the fake API server, in its own process.

    python -m bench.apiserver PODS [SEED] [--shape findings] [--tls] [--change-share 0.01]

Prints one JSON line ({"url", "token", "pods", "shape", "ca_data", "changes"}) once every list is
pre-encoded and ready, then serves until stdin closes or the process is terminated. Running it
apart from the measured process keeps the server's CPU time and memory out of the numbers.

With --tls it serves https with a certificate for 127.0.0.1 from a CA made at start; `ca_data`
is that CA as base64 PEM, a kubeconfig's `certificate-authority-data`.

The control channel is stdin, one JSON line a command, each answered by one JSON line:

    {"op": "change"}  ->  {"generation": 1, "deployments": 67, "pods": 100}

flips a failing field in about --change-share of the pods (bench/changes.py: their
Deployments, ReplicaSets and pods, with new resourceVersions); the next change restores the
original content, again under new resourceVersions, and so on. Pages served afterwards carry
the new objects; the server is not restarted, so nothing else about it changes.
"""

from __future__ import annotations

import argparse
import base64
import sys
from typing import Any

import orjson

from bench.changes import Change, plan_change
from bench.shapes import SHAPES
from bench.synth import synthetic_cluster
from bench.tls import server_pki
from clusters.tests.fakeapi import FakeApiServer

TOKEN = "bench-token"  # noqa: S105  (a fake server on 127.0.0.1)


def encode_item(item: dict[str, Any]) -> bytes:
    """An item as a list response carries it: without kind and apiVersion."""
    return orjson.dumps({k: v for k, v in item.items() if k not in ("kind", "apiVersion")})


class ChangingApiServer(FakeApiServer):
    """The fake API server over lists this process encoded itself, so items can be replaced.

    A replacement is one list-slot assignment (atomic under the GIL); a page being served at
    that moment carries either the old or the new item, never a torn one.
    """

    def __init__(self, encoded: dict[str, list[bytes]], change: Change, **options: Any) -> None:
        super().__init__({}, **options)
        self.lists = encoded
        self.change = change
        self.generation = 0

    def encoded_items(self, key: str) -> list[bytes] | None:
        return self.lists.get(key)

    def apply_next_change(self) -> dict[str, int]:
        self.generation += 1
        for key, index, obj in self.change.objects_at(self.generation):
            self.lists[key][index] = encode_item(obj)
        return {
            "generation": self.generation,
            "deployments": self.change.deployments,
            "pods": self.change.pods,
        }


def _args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.apiserver")
    parser.add_argument("pods", type=int)
    parser.add_argument("seed", type=int, nargs="?", default=1)
    parser.add_argument("--shape", choices=sorted(SHAPES), default="default")
    parser.add_argument("--tls", action="store_true", help="serve https (a CA made at start)")
    parser.add_argument("--change-share", type=float, default=0.01)
    return parser.parse_args(argv)


def _command(server: ChangingApiServer, line: str) -> dict[str, Any]:
    try:
        command = orjson.loads(line)
    except orjson.JSONDecodeError:
        return {"error": f"not JSON: {line[:80]!r}"}
    if isinstance(command, dict) and command.get("op") == "change":
        return server.apply_next_change()
    return {"error": f"unknown command {line[:80]!r}"}


def main(argv: list[str]) -> int:
    args = _args(argv)
    objects, version = synthetic_cluster(args.pods, seed=args.seed, shape=args.shape)
    change = plan_change(objects, share=args.change_share)
    # Encode every list now, not during the first measured request, and drop the dicts.
    encoded = {key: [encode_item(item) for item in items] for key, items in objects.items()}
    del objects
    pki = server_pki() if args.tls else None
    server = ChangingApiServer(
        encoded,
        change,
        version=version,
        token=TOKEN,
        tls=pki.server_context() if pki else None,
    )
    with server:
        line = {
            "url": server.url,
            "token": TOKEN,
            "pods": args.pods,
            "shape": args.shape,
            "ca_data": base64.b64encode(pki.ca_pem).decode() if pki else None,
            "changes": {"deployments": change.deployments, "pods": change.pods},
        }
        sys.stdout.write(orjson.dumps(line).decode() + "\n")
        sys.stdout.flush()
        for command in sys.stdin:  # the parent closes our stdin (or terminates us) when done
            if command.strip():
                sys.stdout.write(orjson.dumps(_command(server, command)).decode() + "\n")
                sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
