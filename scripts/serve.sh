#!/usr/bin/env bash
# Run the web server and one django-q2 worker per queue ("default" and "long") until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
export Q_WORKERS=${Q_WORKERS:-1}

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

$BIN/python manage.py qcluster & pids+=($!)
Q_CLUSTER_NAME=long $BIN/python manage.py qcluster & pids+=($!)

echo
echo "Loyalty platform: http://$HOST:$PORT/  (staff pages; admin at /admin/, API docs at /api/v1/docs/)"
echo "Sign in as demo-analyst or demo-approver (password demo-loyalty-2026) to run the week."
echo "Workers: queue 'default' and queue 'long' are running. Stop everything with Ctrl-C."
echo
$BIN/python manage.py runserver "$HOST:$PORT" --noreload
