#!/usr/bin/env bash
# Time from a fresh clone to `make run` answering /healthz, then sign a demo citizen in through
# the emulator. Usage: bench/fresh_clone_run.sh [--no-pip-cache]
# Prints seconds for: the whole start, of which the install; and the demo sign-in result.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
[ "${1:-}" = "--no-pip-cache" ] && export PIP_NO_CACHE_DIR=1
git clone -q "$repo" "$work/app"
cd "$work/app"
start=$(date +%s.%N)
PORT=$port make run >"$work/run.log" 2>&1 &
runner=$!
cleanup() { pkill -P "$runner" 2>/dev/null || true; pkill -f "$work/app/.venv/bin/python" 2>/dev/null || true;
            kill "$runner" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
installed=""
for _ in $(seq 1 360); do
  [ -z "$installed" ] && [ -f .venv/.installed ] && installed=$(date +%s.%N)
  if curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; then break; fi
  sleep 0.5
done
ready=$(date +%s.%N)
curl -sf "http://127.0.0.1:$port/healthz" >/dev/null || { echo "not healthy"; tail -30 "$work/run.log"; exit 1; }
signin=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/api/v1/auth/miniprogram" \
  -H 'Content-Type: application/json' -d '{"code": "test:bench-citizen"}')
python3 - "$start" "${installed:-$ready}" "$ready" "$signin" <<'PY'
import sys
start, installed, ready, signin = sys.argv[1:]
print(f"fresh clone -> /healthz: {float(ready) - float(start):.1f} s "
      f"(install {float(installed) - float(start):.1f} s); demo citizen sign-in: HTTP {signin}")
PY
