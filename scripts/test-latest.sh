#!/usr/bin/env bash
# Run every test against the newest releases that pyproject.toml allows (no lock), in a separate environment
# (.venv-latest), and print what differs from requirements/test.txt. An upgrade is then a decision: if the tests
# pass, `scripts/lock.sh` moves the lock (commit it with the report); if not, the report says which release to look at.
# Extra arguments go to pytest, as with scripts/test.sh. torch stays the CPU build 2.13.0 (see scripts/setup.sh).
set -uo pipefail
cd "$(dirname "$0")/.."
export NBCHAT_VENV=.venv-latest NBCHAT_LOCK=none
bash scripts/setup.sh --test || exit
report() {
  printf '\n\033[1m==> newest releases against the lock (requirements/test.txt)\033[0m\n'
  "$NBCHAT_VENV/bin/python" scripts/lock_diff.py requirements/test.txt requirements/no-deps.txt
  printf "front-end packages with newer releases than package-lock.json (npm outdated):\n"
  npm outdated || true
}
report
bash scripts/test.sh "$@"
status=$?
report
echo "tests against the newest releases: exit status $status"
exit $status
