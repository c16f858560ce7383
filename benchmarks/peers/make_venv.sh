#!/usr/bin/env bash
# Create (or update) a peer's virtualenv at PEER_DIR/.venv from PEER_DIR/requirements.txt,
# then print the versions of the named packages. Idempotent: a re-run only re-syncs the venv
# to the lock. Uses PyPI only and never touches the project's own /work/main/.venv.
#   usage: make_venv.sh PEER_DIR PACKAGE...
set -euo pipefail
PEER_DIR="$(cd "$1" && pwd)"
shift
VENV="$PEER_DIR/.venv"
PY="${PYTHON:-3.11}"

if command -v uv >/dev/null 2>&1; then
    UV=(uv)
else
    python3 -m pip install --quiet uv
    UV=(python3 -m uv)
fi
if [ ! -x "$VENV/bin/python" ]; then
    "${UV[@]}" venv "$VENV" --python "$PY"
fi
# 'sync' makes the venv exactly the lock (removes strays), so re-runs are reproducible.
"${UV[@]}" pip sync --python "$VENV/bin/python" "$PEER_DIR/requirements.txt"
"$VENV/bin/python" - "$@" <<'PY'
import importlib.metadata as md
import sys
for p in sys.argv[1:]:
    print(f"{p}=={md.version(p)}")
PY
