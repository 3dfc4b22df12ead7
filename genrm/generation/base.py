"""The Generator protocol: sample completions for chat prompts. Backends load lazily by name."""
from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from genrm.types import Message

# backend name -> "module:Class"; vllm is imported only inside its backend
GENERATORS = {
    "hf": "genrm.generation.hf:HFGenerator",
    "vllm": "genrm.generation.vllm:VLLMGenerator",
}


@dataclass(frozen=True)
class SamplingParams:
    """Defaults follow the paper: temperature 1.0, top-p 0.95. temperature 0 means greedy.

    `cue`: after each sample, the text `cue` is appended and the next-token probabilities of the
    single-token strings `cue_choices` are returned (Completion.cue_probs, normalised over the
    choices): what the model would say next, read from the sample's own KV cache (a CoT judge's
    forced verdict, judges/cot.py). Backends without it return cue_probs=None."""

    n: int = 1
    temperature: float = 1.0
    top_p: float = 0.95
    max_new_tokens: int = 256
    seed: int = 0
    cue: str | None = None
    cue_choices: tuple[str, ...] = ()
    only: tuple[str, ...] = ()  # every sampled token is one of these single-token strings (a forced verdict's letter)


@dataclass(frozen=True)
class Completion:
    text: str
    num_tokens: int
    finished: bool  # ended with EOS, rather than at max_new_tokens
    cue_probs: tuple[float, ...] | None = None  # see SamplingParams.cue
    token_ids: tuple[int, ...] = ()  # the sampled tokens (EOS excluded), where the backend gives them


@runtime_checkable
class Generator(Protocol):
    """What judges and loops use of a sampling backend: `tokenizer` renders prompts exactly as the
    backend does (genrm.data.chat.chat_ids; CoT forced verdicts continue a prompt's tokens), `batch_size` is
    prompts per forward batch (None where the backend schedules its own batches, as vLLM does).
    `close()` frees the model (a vLLM engine: its processes and memory); a generator is also a
    context manager that closes it (`with load_generator(...) as generator:`)."""

    tokenizer: object
    batch_size: int | None

    def generate(self, prompts: Sequence[list[Message]], params: SamplingParams, progress: bool = False,
                 first_index: int = 0) -> list[list[Completion]]:
        """For each chat prompt, `params.n` completions of the assistant's turn: samples
        first_index .. first_index + n - 1 (seeded per sample, so rounds of sampling compose)."""
        ...

    def generate_ids(self, rows: Sequence[Sequence[int]], params: SamplingParams, progress: bool = False,
                     first_index: int = 0) -> list[list[Completion]]:
        """As `generate`, for prompts already tokenized (genrm.data.chat.chat_ids: content as plain text)."""
        ...

    def close(self) -> None:
        """Free the model and its memory; the generator cannot sample afterwards. Closing twice is harmless."""
        ...

    def sleep(self) -> bool:
        """Give the device memory back but keep the generator for `load_weights` (vLLM sleep mode);
        False where the backend cannot (then close it)."""
        ...

    def load_weights(self, model: str) -> bool:
        """Put the weights of `model` (a checkpoint of the same architecture and tokenizer) into this
        generator, waking it from sleep; False where the backend cannot (then load a new one)."""
        ...


class Closing:
    """What both backends share: `with generator:` closes it on leaving the block, and sampling
    from a closed generator is an error that says so. By default a generator can neither sleep nor
    take new weights (the HF backend: loading a checkpoint anew costs little)."""

    closed = False

    def sleep(self) -> bool:
        return False

    def load_weights(self, model: str) -> bool:
        return False

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def check_open(self) -> None:
        if self.closed:
            raise RuntimeError(f"this {type(self).__name__} is closed: load the model again to sample")


def load_generator(model: str, backend: str = "hf", **options) -> Generator:
    if backend not in GENERATORS:
        raise ValueError(f"unknown generation backend {backend!r} (expected one of {sorted(GENERATORS)})")
    module, cls = GENERATORS[backend].split(":")
    return getattr(importlib.import_module(module), cls).from_pretrained(model, **options)


class GeneratorSlot:
    """One generator kept across the steps of a loop (STaR: evaluate, sample, train, evaluate, ...).
    `get(model)` returns it holding `model`: the open one when it already does; the open (or
    sleeping) one with new weights where the backend takes them (Generator.load_weights: vLLM
    reloads a checkpoint into its engine instead of starting a new one); else a new one from
    `make(model)`, after closing the old. `free()` before training gives its memory back: it sleeps
    where the backend can, else it is closed. Closing the slot (or leaving `with`) closes it."""

    def __init__(self, make):
        self.make, self.generator, self.model, self.sleeping = make, None, None, False

    def get(self, model: str) -> Generator:
        if self.generator is not None and (self.model != model or self.sleeping):
            if not self.generator.load_weights(model):
                self.close()
            self.sleeping = False
        if self.generator is None:
            self.generator = self.make(model)
        self.model = model
        return self.generator

    def free(self) -> None:
        if self.generator is not None and not self.sleeping:
            if self.generator.sleep():
                self.sleeping = True
            else:
                self.close()

    def close(self) -> None:
        if self.generator is not None:
            self.generator.close()
        self.generator, self.model, self.sleeping = None, None, False

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def sampling_generator(model: str, sampling) -> Generator:
    """The generator a genrm.config.SamplingConfig describes: `hf` batches `batch_size` prompts per
    generate call; `vllm` schedules its own batches over `tensor_parallel_size` GPUs, holding
    `gpu_memory_utilization` of each."""
    options = {"dtype": sampling.dtype}
    if sampling.backend == "vllm":
        options.update(tensor_parallel_size=sampling.tensor_parallel_size,
                       gpu_memory_utilization=sampling.gpu_memory_utilization)
    else:
        options["batch_size"] = sampling.batch_size
    return load_generator(model, sampling.backend, **options)
