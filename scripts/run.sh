#!/usr/bin/env bash
# `make run`: set up Rampart on the embedded default (SQLite + Celery's filesystem transport),
# register the demo clusters, and run web + worker + beat until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-}"
if [ -z "$PYTHON" ]; then
  for candidate in python3.12 python3 python; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null; then
      PYTHON="$candidate"; break
    fi
  done
fi
[ -n "$PYTHON" ] || { echo "Rampart needs Python 3.12 (pyenv: 'pyenv install 3.12'; .python-version selects it)." >&2; exit 1; }

scripts/install.sh "$PYTHON"
VENV=.venv/bin

if [ ! -f .env ]; then
  echo "Writing .env with fresh secrets (kept out of git)"
  {
    echo "SECRET_KEY=$($VENV/python -c 'import secrets; print(secrets.token_urlsafe(50))')"
    echo "RAMPART_ENCRYPTION_KEYS=$($VENV/python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')"
    echo "DEBUG=false"
    echo "# plain http on 127.0.0.1; set SECURE_COOKIES=true behind TLS"
    echo "SECURE_COOKIES=false"
    echo "ALLOWED_HOSTS=127.0.0.1,localhost"
    echo "EMAIL_BACKEND=django.core.mail.backends.console.EmailBackend"
  } > .env
fi

$VENV/python manage.py migrate --noinput
$VENV/python manage.py collectstatic --noinput -v 0
$VENV/python manage.py ensure_admin
$VENV/python manage.py load_demo

pids=()
stop() {
  trap - INT TERM
  echo; echo "Stopping Rampart..."
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  # Give each process time for a clean shutdown (the worker finishes or requeues its task, late
  # acks make that safe), then make sure nothing is left behind.
  for _ in $(seq 20); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.5
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "Stopped."
}
trap stop INT TERM

$VENV/celery -A config worker --loglevel INFO --concurrency 2 --hostname "worker@%h" & pids+=($!)
$VENV/celery -A config beat --loglevel INFO --schedule var/celerybeat-schedule & pids+=($!)
$VENV/gunicorn config.wsgi --bind "${RAMPART_BIND:-127.0.0.1:8000}" --workers 2 --access-logfile - & pids+=($!)

echo
echo "Rampart is starting on http://${RAMPART_BIND:-127.0.0.1:8000} (Ctrl-C stops web, worker and beat)."
wait -n "${pids[@]}" || true
stop
