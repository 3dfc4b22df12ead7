"""Supervised fine-tuning on (prompt messages, completion text) with loss on the completion only.

Used by GenRM (completion = the indicator token, no EOS: the loss is on the indicator alone),
STaR-SFT and the rationalizer (completion = rationale + verdict + EOS, or with `prefix` = the
rationale, the verdict alone: STaR's `loss_on: verdict`), and RAFT. Examples are
tokenized here exactly as the judges score and generate: the chat-rendered prompt, then the
completion tokens, so training and inference see the same token boundary. TRL's SFTTrainer
takes the pre-tokenized `input_ids` + `labels` as they are.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from genrm.data.chat import chat_ids, plain_ids
from genrm.models import load_tokenizer, resolve_model
from genrm.train.cached import cached_bottom
from genrm.train.common import (
    enforce_length,
    fit,
    freeze_bottom,
    lay_out_units,
    length_limit,
    make_args,
    peft_config,
    save_checkpoint,
    training_dtype,
)
from genrm.types import Message, PreferencePair


@dataclass(frozen=True)
class SFTExample:
    prompt: list[Message]
    completion: str
    eos: bool = True
    pair: PreferencePair | None = None  # the pair it was made from, to locate an over-length example
    prefix: str = ""  # text between the prompt and the completion that is read but not trained on


def tokenize(tokenizer, examples: Sequence[SFTExample], max_length: int | None = None,
             unit: int = 1) -> tuple[list[dict], list[tuple[PreferencePair | None, int]]]:
    """Rows with input_ids and labels (-100 on the prompt and any prefix), and (pair, tokens) of each example over
    max_length, left out (never truncated: a truncated judge prompt loses its answer). With `unit`
    > 1 a unit of consecutive examples is kept or left out whole. Content is plain text (genrm.data.chat)."""
    prompts = chat_ids(tokenizer, [ex.prompt for ex in examples])
    completions = plain_ids(tokenizer, [ex.completion for ex in examples])
    prefixes = plain_ids(tokenizer, [ex.prefix for ex in examples])
    encoded = []
    for ex, p, c, read in zip(examples, prompts, completions, prefixes):
        p = p + (read if ex.prefix else [])
        c = c + ([tokenizer.eos_token_id] if ex.eos else [])
        encoded.append({"input_ids": p + c, "labels": [-100] * len(p) + c})
    rows, over = [], []
    for k in range(0, len(encoded), unit):
        group = encoded[k:k + unit]
        if max_length is not None and any(len(r["input_ids"]) > max_length for r in group):
            over += [(ex.pair, len(r["input_ids"])) for ex, r in zip(examples[k:k + unit], group)]
            continue
        rows += group
    return rows, over


def train_sft(model: str, examples: Sequence[SFTExample], out: str | Path, config: dict | None = None,
              card: dict | None = None, unit: int = 1) -> Path:
    """Fine-tune `model` on `examples`; returns the checkpoint directory (`out/checkpoint`).

    `unit` > 1: consecutive examples form units that stay in one batch (GenRM's two orders of a
    pair, so the "A" and "B" targets of the same pair meet in every batch and a position prior
    earns nothing): the data is laid out unit by unit, shuffled per pass, and read in order."""
    import datasets
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer

    out = Path(out)
    args, own = make_args(SFTConfig, config or {}, out)
    args.max_length = None  # length is enforced in tokenize() by dropping, not truncating
    tokenizer = load_tokenizer(model, side="right")
    limit, policy = length_limit(own, model)
    rows, over = tokenize(tokenizer, examples, limit, unit)
    enforce_length(over, len(rows), "training examples", limit, policy)
    kept = len(rows)
    rows = lay_out_units(rows, unit, args)
    lm = AutoModelForCausalLM.from_pretrained(resolve_model(model), dtype=training_dtype(own, args))
    freeze_bottom(lm, own.get("freeze_layers", 0))
    bottom = cached_bottom(lm, own, [r["input_ids"] for r in rows], tokenizer.pad_token_id, args)
    trainer = SFTTrainer(model=lm, args=args, train_dataset=datasets.Dataset.from_list(rows),
                         processing_class=tokenizer, peft_config=peft_config(own, "CAUSAL_LM"))
    fit(trainer, bottom)
    card = {**(card or {}), "base_model": model, "train_examples": kept, "dropped_too_long": len(over),
            "hyperparameters": {k: v for k, v in (config or {}).items()}}
    return save_checkpoint(trainer, tokenizer, out, card)
