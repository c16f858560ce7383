#!/usr/bin/env bash
# Create (or update) the TFX peer virtualenv at ./.venv beside this script.
# Idempotent: re-running only re-syncs the venv to requirements.txt. Uses PyPI only.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$HERE/../make_venv.sh" "$HERE" \
    tfx ml-pipelines-sdk ml-metadata tensorflow tf-keras keras tensorflow-transform \
    tensorflow-data-validation tensorflow-model-analysis tfx-bsl apache-beam pyarrow
echo "TFX peer ready: $HERE/.venv/bin/python $HERE/run_tfx_taxi.py INPUT_CSV_DIR PIPELINE_ROOT"
