#!/usr/bin/env bash
# Create (or update) the TFDV peer virtualenv at ./.venv beside this script.
# Idempotent: re-running only re-syncs the venv to requirements.txt. Uses PyPI only.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$HERE/../make_venv.sh" "$HERE" \
    tensorflow-data-validation tfx-bsl tensorflow apache-beam pyarrow pandas
echo "TFDV peer ready: $HERE/.venv/bin/python $HERE/run_tfdv.py INPUT_CSV OUTPUT_JSON"
