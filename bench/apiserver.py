"""A synthetic cluster served by the fake API server, in its own process.

    python -m bench.apiserver PODS [SEED]

Prints one JSON line ({"url", "token", "pods"}) once every list is pre-encoded and ready, then
serves until stdin closes or the process is terminated. Running it apart from the measured
process keeps the server's CPU time and memory out of the numbers.
"""

from __future__ import annotations

import sys

import orjson

from bench.synth import synthetic_cluster
from clusters.resources import RESOURCES
from clusters.tests.fakeapi import FakeApiServer

TOKEN = "bench-token"  # noqa: S105  (a fake server on 127.0.0.1)


def main(argv: list[str]) -> int:
    pods = int(argv[0])
    seed = int(argv[1]) if len(argv) > 1 else 1
    objects, version = synthetic_cluster(pods, seed=seed)
    server = FakeApiServer(objects, version, token=TOKEN)
    del objects
    for resource in RESOURCES:  # encode every list now, not during the first measured request
        server.encoded_items(resource.key)
    with server:
        line = {"url": server.url, "token": TOKEN, "pods": pods}
        sys.stdout.write(orjson.dumps(line).decode() + "\n")
        sys.stdout.flush()
        sys.stdin.read()  # the parent closes our stdin (or terminates us) when done
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
