#!/usr/bin/env bash
# The main job: set up, then open JupyterLab on the first tutorial notebook (chat with the embedded model).
# Prints the URL to open. Options: PORT=8888 (default), HOST=127.0.0.1 (default).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
root_flag=""
[ "$(id -u)" = 0 ] && root_flag="--allow-root"  # containers often run as root
exec .venv/bin/jupyter lab notebooks/01_first_chatbot.ipynb $root_flag \
  --ip="${HOST:-127.0.0.1}" --port="${PORT:-8888}" --no-browser --ServerApp.root_dir="$PWD"
