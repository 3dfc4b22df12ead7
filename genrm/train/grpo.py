"""STaR-GRPO: the CoT judge trained by online RL on its own rationales (TRL's GRPOTrainer).

Each training prompt is a judge prompt (a pair shown in one order) with the letter of the human-
preferred response as its answer. GRPO samples `num_generations` rationales per prompt, scores each
with the reward terms below, and updates the judge towards the completions that beat their group's
mean (KL to the reference model as TRL computes it: `beta`).

Reward terms (each logged by TRL as `rewards/NAME`; `reward_weights` in the trainer config):
  correct      1 when the completion's verdict (its last [[A]]/[[B]] tag) is the answer, else 0
               (wrong or no verdict)
  consistency  when the same pair's other order is sampled in the same generation batch: the share
               of that order's completions that pick the same response (by content, not letter) as
               this one; 0 for a completion with no verdict; absent (None) where the other order is not
               in the batch. Both orders of a pair are adjacent in the data set and the data set is read
               in order (`shuffle_dataset: false`), so they meet; completions are gathered across
               processes first, since the two orders may land on two processes.
  format       1 when the model wrote a verdict tag itself (not forced), else 0

Forced verdicts (`force_verdict`, for small models that never write a tag): the rollout is genrm's
own CoT sampling (generation/hf.py with the cue, judges/cot.force_verdicts), on the model being
trained: the rationale is sampled, and where it has no tag "Final verdict: [[" is appended (masked
out of the loss, TRL's env_mask) and the letter is drawn from the model's probabilities there (in the
loss), then "]]" (masked). The letter is thus the judge's own verdict conditioned on its rationale,
as the CoT judge reads it at evaluation. Without forced verdicts TRL generates (HF or vLLM, as TRL
supports it: `use_vllm`, `vllm_mode`).
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from genrm.judges.prompts import LETTERS, ORDER_NAMES, parse_verdict
from genrm.types import Message

TERMS = ("correct", "consistency", "format")
ORDERS = tuple(ORDER_NAMES.values())  # "chosen_first", "chosen_second"


@dataclass(frozen=True)
class GRPOPrompt:
    """One judge prompt of a pair in one order; `answer` is the letter of the chosen response as shown."""

    prompt: list[Message]
    answer: str  # "A" | "B"
    pair_id: str
    order: str  # "chosen_first" | "chosen_second"


@dataclass
class Budget:
    """What GRPO sampled in this process: completions and the tokens the model drew (cue tokens excluded)."""

    completions: int = 0
    sampled_tokens: int = 0
    forced: int = 0


# ---------------------------------------------------------------- reward terms (pure)


def letter(text: str) -> str | None:
    verdict = parse_verdict(text)
    return LETTERS[verdict.position] if verdict.parsed else None


def correct_terms(texts: Sequence[str], answers: Sequence[str]) -> list[float]:
    return [1.0 if letter(t) == a else 0.0 for t, a in zip(texts, answers)]


def format_terms(texts: Sequence[str], forced: Sequence[bool]) -> list[float]:
    return [1.0 if not f and letter(t) is not None else 0.0 for t, f in zip(texts, forced)]


def picked(text: str, answer: str) -> str | None:
    """The response a completion prefers, by content: "chosen", "rejected", or None (no verdict)."""
    said = letter(text)
    return None if said is None else "chosen" if said == answer else "rejected"


def consistency_terms(choices: Sequence[str | None], pair_ids: Sequence[str], orders: Sequence[str]) -> list[float | None]:
    """Per completion: the share of its pair's other-order completions that pick the same response
    (`choices` from `picked`); 0.0 without a verdict; None where the other order is absent."""
    by_key: dict[tuple[str, str], list[str | None]] = {}
    for c, pid, order in zip(choices, pair_ids, orders):
        by_key.setdefault((pid, order), []).append(c)
    out: list[float | None] = []
    for c, pid, order in zip(choices, pair_ids, orders):
        others = [x for o in ORDERS if o != order for x in by_key.get((pid, o), [])]
        out.append(None if not others else 0.0 if c is None else sum(x == c for x in others) / len(others))
    return out


def text_of(completion) -> str:
    """TRL passes a conversational completion as [{"role": "assistant", "content": ...}], else a string."""
    return completion if isinstance(completion, str) else "".join(m.get("content") or "" for m in completion)


def reward_functions(weights: dict[str, float], budget: Budget) -> tuple[list, list[float]]:
    """TRL reward functions for the terms with a non-zero weight, and their weights. They read the
    data set's `answer`, `pair_id`, `order` columns and the rollout's `forced` and `sampled` fields."""
    from genrm.distributed import gather_lists

    def correct(prompts, completions, completion_ids=None, answer=(), forced=None, sampled=None, **_):
        budget.completions += len(completions)
        budget.forced += sum(forced or ())
        budget.sampled_tokens += sum(sampled) if sampled is not None else sum(len(ids) for ids in completion_ids or ())
        return correct_terms([text_of(c) for c in completions], answer)

    def consistency(prompts, completions, answer=(), pair_id=(), order=(), **_):
        mine = [(picked(text_of(c), a), p, o) for c, a, p, o in zip(completions, answer, pair_id, order)]
        slices, rank = gather_lists(mine)  # one pair's two orders may sit on two processes
        every = [x for s in slices for x in s]
        terms = consistency_terms(*zip(*every)) if every else []
        start = sum(len(s) for s in slices[:rank])
        return terms[start:start + len(mine)]

    def format(prompts, completions, forced=None, **_):
        return format_terms([text_of(c) for c in completions], forced or [False] * len(completions))

    terms = {"correct": correct, "consistency": consistency, "format": format}
    chosen = [name for name in TERMS if weights.get(name, 0.0) or name == "correct"]
    return [terms[n] for n in chosen], [float(weights.get(n, 0.0)) for n in chosen]


# ---------------------------------------------------------------- forced-verdict rollout


@dataclass
class ForcedVerdictRollout:
    """TRL `rollout_func`: genrm's CoT sampling with forced verdicts on the model being trained."""

    tokenizer: object  # left-padded
    seed: int = 0
    batch_size: int = 32
    calls: int = field(default=0)

    def __call__(self, prompts: list, trainer) -> dict:
        import torch
        from trl.models import unwrap_model_for_generation

        from genrm.data.chat import chat_ids
        from genrm.generation.base import SamplingParams
        from genrm.generation.hf import HFGenerator, single_tokens
        from genrm.judges.cot import VERDICT_CUE, force_verdicts, verdict_params

        args, tok = trainer.args, self.tokenizer
        runs = consecutive_runs(prompts)  # TRL repeats each prompt num_generations times, consecutively
        self.calls += 1
        seed = stream_seed(self.seed, trainer.state.global_step, self.calls, trainer.accelerator.process_index)
        params = SamplingParams(n=1, temperature=args.temperature, top_p=args.top_p or 1.0,
                                max_new_tokens=args.max_completion_length, seed=seed)
        cue_ids = tok.encode(VERDICT_CUE, add_special_tokens=False)
        close_ids = tok.encode("]]", add_special_tokens=False)
        letter_ids = dict(zip(LETTERS.values(), single_tokens(tok, list(LETTERS.values()))))
        made: dict[int, list[tuple]] = {}  # run index -> (prompt ids, completion ids, mask, forced) per copy
        with unwrap_model_for_generation(trainer.model_wrapped, trainer.accelerator,
                                         gather_deepspeed3_params=args.ds3_gather_for_generation,
                                         gradient_checkpointing_kwargs=args.gradient_checkpointing_kwargs) as model, \
                torch.no_grad():
            generator = HFGenerator(model, tok, batch_size=self.batch_size)
            for count in sorted({n for _, n in runs}):  # one call per repeat count (normally one: num_generations)
                which = [r for r, (_, n) in enumerate(runs) if n == count]
                group = [runs[r][0] for r in which]
                rows = chat_ids(tok, group)
                wanted = verdict_params(SamplingParams(**{**vars(params), "n": count}), True)
                samples = generator.generate_ids(rows, wanted)
                done = force_verdicts(generator, group, samples, wanted)
                for r, row, before, after in zip(which, rows, samples, done):
                    made[r] = [(list(row), *completion(b, a, tok.eos_token_id, cue_ids, close_ids, letter_ids))
                               for b, a in zip(before, after)]
        items = [item for r in range(len(runs)) for item in made[r]]
        return {"prompt_ids": [i[0] for i in items], "completion_ids": [i[1] for i in items], "logprobs": None,
                "env_mask": [i[2] for i in items], "forced": [i[3] for i in items],
                "sampled": [sum(i[2]) - (not i[3] and i[1][-1:] == [tok.eos_token_id]) for i in items]}  # EOS not counted


def completion(before, after, eos: int, cue_ids: list[int], close_ids: list[int],
               letter_ids: dict[str, int]) -> tuple[list[int], list[int], bool]:
    """(completion ids, loss mask, forced) of a sample `before` and the same after force_verdicts:
    the model's tokens (and EOS) in the loss; a forced verdict's cue and "]]" out of it, its letter in."""
    ids, mask = list(before.token_ids), [1] * len(before.token_ids)
    if after.text != before.text:
        ids += cue_ids + [letter_ids[letter(after.text)]] + close_ids
        return ids, mask + [0] * len(cue_ids) + [1] + [0] * len(close_ids), True
    if before.finished:
        return ids + [eos], mask + [1], False
    return ids, mask, False


def consecutive_runs(prompts: Sequence) -> list[tuple[object, int]]:
    """[(prompt, times it repeats consecutively)] in order."""
    runs: list[tuple[object, int]] = []
    for p in prompts:
        if runs and runs[-1][0] == p:
            runs[-1] = (p, runs[-1][1] + 1)
        else:
            runs.append((p, 1))
    return runs


def stream_seed(*parts) -> int:
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:4], "little")


# ---------------------------------------------------------------- training


GENERATION_KEYS = {"num_generations": "samples", "max_completion_length": "sampling.max_new_tokens",
                   "temperature": "sampling.temperature", "top_p": "sampling.top_p"}


def train_grpo(model: str, prompts: Sequence[GRPOPrompt], out: str | Path, config: dict | None = None,
               card: dict | None = None, weights: dict[str, float] | None = None, force_verdict: bool = False,
               seed: int = 0) -> tuple[Path, Budget]:
    """GRPO on `prompts` (kept in the given order: a pair's orders adjacent); returns the checkpoint
    directory (`out/checkpoint`) and what was sampled (all processes summed)."""
    import datasets
    from transformers import AutoModelForCausalLM
    from trl import GRPOConfig, GRPOTrainer

    from genrm.distributed import gather_lists
    from genrm.models import load_tokenizer, resolve_model
    from genrm.train.common import fit, freeze_bottom, make_args, peft_config, save_checkpoint, training_dtype

    out = Path(out)
    args, own = make_args(GRPOConfig, config or {}, out)
    if force_verdict and args.use_vllm:
        from genrm.config import ConfigError

        raise ConfigError("force_verdict with train.use_vllm: the forced-verdict rollout samples with transformers; "
                          "set force_verdict: false (the model writes its own tags) or use_vllm: false")
    budget = Budget()
    funcs, args.reward_weights = reward_functions(weights or {"correct": 1.0}, budget)
    tokenizer = load_tokenizer(model, side="left")
    rows = [{"prompt": p.prompt, "answer": p.answer, "pair_id": p.pair_id, "order": p.order} for p in prompts]
    lm = AutoModelForCausalLM.from_pretrained(resolve_model(model), dtype=training_dtype(own, args))
    freeze_bottom(lm, own.get("freeze_layers", 0))
    rollout = ForcedVerdictRollout(tokenizer, seed) if force_verdict else None
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")  # rollout_func is marked experimental in TRL
    trainer = GRPOTrainer(model=lm, reward_funcs=funcs, args=args, train_dataset=datasets.Dataset.from_list(rows),
                          processing_class=tokenizer, peft_config=peft_config(own, "CAUSAL_LM"), rollout_func=rollout)
    fit(trainer)
    slices, _ = gather_lists([budget])
    total = Budget(*(sum(getattr(b, k) for s in slices for b in s) for k in ("completions", "sampled_tokens", "forced")))
    card = {**(card or {}), "base_model": model, "train_prompts": len(rows),
            "hyperparameters": {k: v for k, v in (config or {}).items()}}
    return save_checkpoint(trainer, load_tokenizer(model, side="right"), out, card), total
