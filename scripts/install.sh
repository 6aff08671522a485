#!/usr/bin/env bash
# Create .venv and install Rampart's locked dependency tree: every package, pinned, with its
# hashes (requirements.lock, written by `make lock`). Runs again only when the lock or
# pyproject.toml changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${1:-python3.12}"
LOCK=requirements.lock
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.rampart-installed
wanted="$(cat "$LOCK" pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
  # --require-hashes: a package whose files differ from the ones locked is refused.
  .venv/bin/python -m pip install --quiet --require-hashes -r "$LOCK"
  # Rampart itself, without letting pip resolve anything the lock did not decide.
  .venv/bin/python -m pip install --quiet --no-deps -e .
  echo "$wanted" > "$stamp"
fi
