#!/usr/bin/env bash
# Create (or update) the KServe peer virtualenv at ./.venv beside this script.
# Idempotent: re-running only re-syncs the venv to requirements.txt. Uses PyPI only.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$HERE/../make_venv.sh" "$HERE" kserve tensorflow-cpu fastapi uvicorn numpy
echo "KServe peer ready: $HERE/.venv/bin/python $HERE/kserve_taxi.py --model-dir DIR --http-port P"
