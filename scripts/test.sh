#!/usr/bin/env bash
# Run every test: set-up (venv, model, npm, chromium), lint and type checks, front-end unit tests (vitest), then pytest
# (unit, embedded model, servers on 127.0.0.1, notebooks, JupyterLab in headless Chromium).
# Extra arguments go to pytest, e.g. scripts/test.sh -m "not browser" -x
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${NBCHAT_VENV:-.venv}  # scripts/test-latest.sh runs the same tests in .venv-latest
bash scripts/setup.sh --test

printf '\n\033[1m==> lint and types (ruff, ruff format, mypy --strict, tsc --noEmit)\033[0m\n'
"$VENV/bin/ruff" check nbchat tests benchmarks scripts
"$VENV/bin/ruff" format --check nbchat tests benchmarks scripts
"$VENV/bin/python" -m mypy  # [tool.mypy] in pyproject.toml: strict, on nbchat/
npm run typecheck --silent

printf '\n\033[1m==> front-end unit tests (vitest)\033[0m\n'
npm test --silent

printf '\n\033[1m==> Python tests (pytest)\033[0m\n'
set +e
"$VENV/bin/python" -m pytest "$@"
status=$?
set -e
if [ $status = 5 ]; then
  echo "pytest collected no tests: that is a failure here." >&2
  exit 1
fi
exit $status
