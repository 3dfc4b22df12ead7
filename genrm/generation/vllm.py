"""Sampling with vLLM (optional extra `genrm[vllm]`; imported only here, when this backend is used).

Prompts are rendered with the model's own tokenizer (the same chat template and token boundary as
the HF backend and the trainers) and passed as token ids. Each sample is its own request (n=1)
seeded from (seed, prompt tokens, sample index), exactly as on the HF backend, so a sample does not
depend on the batch or on how samples were split across calls; automatic prefix caching (on)
computes each prompt's prefill once for all its samples. vLLM's kernels are not bitwise equal to
transformers', so the two backends give different samples for the same seed.
"""
from __future__ import annotations

from collections.abc import Sequence

from genrm.data.chat import chat_ids
from genrm.generation.base import Completion, SamplingParams
from genrm.generation.hf import sample_seed
from genrm.models import load_tokenizer, resolve_model
from genrm.types import Message


class VLLMGenerator:
    batch_size = None  # vLLM schedules its own batches

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
        path = resolve_model(model)
        llm = LLM(model=path, tokenizer=path, tensor_parallel_size=tensor_parallel_size, dtype=dtype,
                  gpu_memory_utilization=gpu_memory_utilization, enable_prefix_caching=enable_prefix_caching,
                  max_model_len=max_length, **engine_options)
        return cls(llm, load_tokenizer(model, side="left"), max_length=max_length)

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

        requests, settings = [], []
        for row in rows:
            row = list(row)
            for j in range(params.n):
                requests.append(TokensPrompt(prompt_token_ids=row))
                settings.append(VLLMParams(n=1, temperature=params.temperature, top_p=params.top_p,
                                           max_tokens=params.max_new_tokens,
                                           seed=sample_seed(params.seed, row, first_index + j)))
        outputs = self.llm.generate(requests, sampling_params=settings, use_tqdm=progress)
        flat = []
        for out in outputs:
            sample = out.outputs[0]
            flat.append(Completion(text=sample.text, num_tokens=len(sample.token_ids),
                                   finished=sample.finish_reason == "stop"))
        return [flat[k * params.n:(k + 1) * params.n] for k in range(len(rows))]
