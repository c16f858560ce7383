#!/usr/bin/env bash
# Create (or update) the TF.Transform peer virtualenv at ./.venv beside this script.
# Idempotent: re-running only re-syncs the venv to requirements.txt. Uses PyPI only.
# Does not touch the project's own /work/main/.venv.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$HERE/.venv"
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
"${UV[@]}" pip sync --python "$VENV/bin/python" "$HERE/requirements.txt"
"$VENV/bin/python" - <<'PY'
import importlib.metadata as md
for p in ("tensorflow-transform", "tfx-bsl", "tensorflow", "apache-beam", "pyarrow", "pandas"):
    print(f"{p}=={md.version(p)}")
PY
echo "TF.Transform peer ready: $VENV/bin/python $HERE/run_tft.py INPUT_CSV OUTPUT_DIR"
