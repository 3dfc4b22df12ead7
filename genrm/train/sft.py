"""Supervised fine-tuning on (prompt messages, completion text) with loss on the completion only.

Used by GenRM (completion = the indicator token, no EOS: the loss is on the indicator alone),
STaR-SFT and the rationalizer (completion = rationale + verdict + EOS), and RAFT. Examples are
tokenized here exactly as the judges score and generate: the chat-rendered prompt, then the
completion tokens, so training and inference see the same token boundary. TRL's SFTTrainer
takes the pre-tokenized `input_ids` + `labels` as they are.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from genrm.logs import quiet_trainer
from genrm.models import load_tokenizer, render, resolve_model
from genrm.train.common import freeze_bottom, make_args, peft_config, report_dropped, save_checkpoint
from genrm.types import Message


@dataclass(frozen=True)
class SFTExample:
    prompt: list[Message]
    completion: str
    eos: bool = True


def tokenize(tokenizer, examples: Sequence[SFTExample], max_length: int | None = None) -> tuple[list[dict], int]:
    """Rows with input_ids and labels (-100 on the prompt); examples over max_length are dropped
    and counted (second value), never truncated: a truncated judge prompt loses its answer."""
    rows, dropped = [], 0
    prompts = tokenizer([render(tokenizer, ex.prompt) for ex in examples], add_special_tokens=False)["input_ids"]
    completions = tokenizer([ex.completion for ex in examples], add_special_tokens=False)["input_ids"]
    for ex, p, c in zip(examples, prompts, completions):
        c = c + ([tokenizer.eos_token_id] if ex.eos else [])
        if max_length is not None and len(p) + len(c) > max_length:
            dropped += 1
            continue
        rows.append({"input_ids": p + c, "labels": [-100] * len(p) + c})
    return rows, dropped


def train_sft(model: str, examples: Sequence[SFTExample], out: str | Path, config: dict | None = None,
              card: dict | None = None) -> Path:
    """Fine-tune `model` on `examples`; returns the checkpoint directory (`out/checkpoint`)."""
    import datasets
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer

    from genrm.models import torch_dtype

    out = Path(out)
    args, own = make_args(SFTConfig, config or {}, out)
    args.max_length = None  # length is enforced in tokenize() by dropping, not truncating
    tokenizer = load_tokenizer(model, side="right")
    rows, dropped = tokenize(tokenizer, examples, own.get("max_length"))
    report_dropped(len(rows), dropped, "training examples", own.get("max_length"))
    lm = AutoModelForCausalLM.from_pretrained(resolve_model(model), dtype=torch_dtype("auto"))
    freeze_bottom(lm, own.get("freeze_layers", 0))
    trainer = SFTTrainer(model=lm, args=args, train_dataset=datasets.Dataset.from_list(rows),
                         processing_class=tokenizer, peft_config=peft_config(own, "CAUSAL_LM"))
    quiet_trainer(trainer)
    trainer.train()
    card = {**(card or {}), "base_model": model, "train_examples": len(rows), "dropped_too_long": dropped,
            "hyperparameters": {k: v for k, v in (config or {}).items()}}
    return save_checkpoint(trainer.model, tokenizer, out, card, trainer.state.log_history)
