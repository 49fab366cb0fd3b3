#!/usr/bin/env bash
# Dependency audit of what nbchat ships: fails on a known advisory in a shipped dependency.
#   JavaScript: `npm audit --omit=dev --audit-level=high` (the packages bundled into nbchat/static/; high or critical)
#   Python:     `pip-audit` on nbchat's runtime dependencies as installed in the environment (nbchat's own
#               requirements and those of the extras in $NBCHAT_AUDIT_EXTRAS, followed recursively; test and
#               demo tools are not shipped and not audited). pip-audit has no severity filter: any known advisory
#               fails; accept one on purpose with NBCHAT_AUDIT_IGNORE="GHSA-... PYSEC-..." and say why in the commit.
# Both ask their registry's advisory database over the network (registry.npmjs.org's bulk advisory endpoint,
# pypi.org's JSON API); without it (offline, or behind a registry mirror that does not serve them) the script says
# so and exits with status 3 ("not audited"), never 0. Exit status: 0 clean, 1 an advisory found, 3 not audited.
# Environment: NBCHAT_VENV=.venv (the environment to audit), NBCHAT_AUDIT_EXTRAS=transformers,openai,tgi,web,llama-cpp-python,
# PIP_AUDIT=pip-audit (else a pinned pip-audit is installed once into ${XDG_CACHE_HOME:-~/.cache}/nbchat-pip-audit).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${NBCHAT_VENV:-.venv}
EXTRAS=${NBCHAT_AUDIT_EXTRAS:-transformers,openai,tgi,web,llama-cpp-python}
PIP_AUDIT_VERSION=2.10.1
status=0

unaudited=0  # a database that could not be asked: reported, exit status 3 unless an advisory was found (1)
verdict() { "$VENV/bin/python" scripts/audit_verdict.py "$1"; }  # 0 clean, 1 advisory, 3 not audited
record() {  # record STATUS: an advisory fails the audit; an unreachable database is reported
  case $1 in
    0) ;;
    3) unaudited=1 ;;
    *) status=1 ;;
  esac
}

echo "==> npm audit --omit=dev (the JavaScript bundled into nbchat/static/; high or critical fails)"
set +e
npm audit --omit=dev --json 2>/dev/null | verdict npm; record $?
set -e

echo "==> pip-audit (nbchat's runtime dependencies installed in $VENV; extras: $EXTRAS)"
if [ ! -x "$VENV/bin/python" ]; then
  echo "No Python environment at $VENV: run scripts/setup.sh first, or set NBCHAT_VENV." >&2
  exit 1
fi
tool=${PIP_AUDIT:-}
if [ -z "$tool" ]; then
  home=${XDG_CACHE_HOME:-$HOME/.cache}/nbchat-pip-audit
  if [ ! -x "$home/bin/pip-audit" ]; then
    python3 -m venv "$home"
    "$home/bin/python" -m pip install --quiet "pip-audit==$PIP_AUDIT_VERSION" 2>&1 | grep -v "^WARNING: Location" || true
  fi
  tool=$home/bin/pip-audit
fi
shipped=$(mktemp)
trap 'rm -f "$shipped"' EXIT
NBCHAT_AUDIT_EXTRAS=$EXTRAS "$VENV/bin/python" - > "$shipped" <<'EOF'
"""name==version of nbchat's runtime dependencies (with the chosen extras), recursively, as installed."""
import os
from importlib import metadata

from packaging.requirements import Requirement

extras = {e for e in os.environ["NBCHAT_AUDIT_EXTRAS"].split(",") if e}
seen: dict[str, str] = {}
done: set[tuple[str, frozenset[str]]] = set()
todo = [("nbchat", frozenset(extras))]
while todo:
    name, wanted = todo.pop()
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        continue  # an optional dependency that is not installed here is not shipped here either
    key = dist.metadata["Name"].lower().replace("_", "-")
    if (key, wanted) in done:
        continue
    done.add((key, wanted))
    seen[key] = dist.version
    for line in dist.requires or []:
        req = Requirement(line)
        if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in (wanted or {""})):
            todo.append((req.name, frozenset(req.extras)))
for key, version in sorted(seen.items()):
    if key != "nbchat":
        print(f"{key}=={version}")
EOF
echo "auditing $(wc -l < "$shipped") packages"
ignore=()
for id in ${NBCHAT_AUDIT_IGNORE:-}; do ignore+=(--ignore-vuln "$id"); done
set +e
"$tool" --requirement "$shipped" --no-deps --disable-pip --progress-spinner off -f json "${ignore[@]}" 2>/dev/null \
  | verdict pip-audit; record $?
set -e
if [ $status = 0 ] && [ $unaudited = 1 ]; then
  echo "Not audited: an advisory database above could not be reached from this machine (offline, or a registry" \
    "mirror that does not serve it). No advisory was found in what could be checked." >&2
  exit 3
fi
exit $status
