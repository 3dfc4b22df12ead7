"""Judging across the processes of `accelerate launch` (any backend: gloo on CPU, NCCL on GPU).

With one process these are plain calls. Under `accelerate launch --multi_gpu --num_processes P`
(or `torchrun --nproc_per_node P`), each process judges one contiguous shard of the pairs and every
process receives all judgments, in order. Scores do not depend on batch neighbours
(genrm/forward_batches.py), so sharded results equal single-process ones up to float rounding.

On a machine without CUDA, accelerate only forms a process group (gloo) when its state is created
with cpu=True: `state()` does that. `accelerate launch --cpu --num_processes P` without MPI starts
ONE process; `check_launch` says so instead of letting a run pass for a P-process one.
"""
from __future__ import annotations

import os
from collections.abc import Sequence

from genrm.types import Judgment, PreferencePair


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    return process_index() == 0


def process_index() -> int:
    """This process's rank among all the launched processes (all nodes); 0 without a launcher."""
    return int(os.environ.get("RANK", "0"))


def state():
    """accelerate's PartialState, on CPU (gloo) when there is no CUDA device."""
    import torch
    from accelerate import PartialState

    return PartialState(cpu=not torch.cuda.is_available())


def check_launch() -> str | None:
    """A warning when `accelerate launch --cpu --num_processes P>1` started a single process
    (accelerate sets MASTER_ADDR for P>1 but, without MPI, runs one process with no WORLD_SIZE)."""
    env = os.environ
    if (env.get("ACCELERATE_USE_CPU", "").lower() in ("1", "true") and "MASTER_ADDR" in env and "WORLD_SIZE" not in env
            and not any(k in env for k in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE"))):
        return ("genrm: warning: this is ONE process. `accelerate launch --cpu --num_processes N` starts a single process "
                "unless MPI is configured; for N processes on CPU (gloo) use `accelerate launch --multi_gpu "
                "--num_processes N` or `torchrun --nproc_per_node N -m genrm.cli ...`")
    return None


def check_tensor_parallel(size: int, key: str) -> None:
    """A vLLM tensor-parallel size above the GPUs this process sees fails before anything loads,
    naming the setting (the recipes say 8: one node of 8 GPUs)."""
    from genrm.config import ConfigError

    if size < 1:
        raise ConfigError(f"{key}={size}: it must be at least 1")
    if size == 1:
        return
    import torch

    visible = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if size > visible:
        shown = os.environ.get("CUDA_VISIBLE_DEVICES")
        raise ConfigError(f"{key}={size} but this process sees {visible} GPU(s)"
                          f"{f' (CUDA_VISIBLE_DEVICES={shown})' if shown is not None else ''}: set {key}={max(visible, 1)} "
                          "or make more GPUs visible")


def wait_for_everyone() -> None:
    if world_size() > 1:
        state().wait_for_everyone()


def judge_all(judge, pairs: Sequence[PreferencePair], batch_size: int = 8, progress: bool = False) -> list[Judgment]:
    """`judge.judge(pairs)`, sharded across processes when launched with several."""
    size = world_size()
    if size <= 1:
        return judge.judge(list(pairs), batch_size=batch_size, progress=progress)
    from accelerate.utils import gather_object

    rank = state().process_index
    per = -(-len(pairs) // size)
    local = list(pairs[rank * per:(rank + 1) * per])
    judgments = judge.judge(local, batch_size=batch_size, progress=progress and rank == 0) if local else []
    gathered = gather_object(judgments)
    if len(gathered) != len(pairs):
        raise RuntimeError(f"sharded judging gathered {len(gathered)} judgments for {len(pairs)} pairs")
    return gathered


def gather_lists(local: Sequence) -> tuple[list[list], int]:
    """(every process's `local` list, in process order; this process's index). A collective:
    every process must call it. One process: ([local], 0)."""
    if world_size() <= 1:
        return [list(local)], 0
    from accelerate.utils import gather_object

    rank = state().process_index
    return gather_object([list(local)]), rank
