"""DPO on (prompt, chosen completion, rejected completion) through TRL's DPOTrainer (STaR-DPO).

Rows are tokenized here with genrm.chat (content as plain text, the fixed date), the way TRL
tokenizes conversational rows: the prompt with the generation prompt, each completion the tokens
after the prompt in the closed prompt + completion conversation (ending with the template's
end-of-turn = EOS). TRL's DPOTrainer takes them as they are (`PreTokenizedDPO`). The
reference model is a frozen copy of the starting model (TRL's default). beta comes from the
config (the paper used 1.0).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from genrm.chat import chat_ids
from genrm.models import load_tokenizer, resolve_model
from genrm.train.common import enforce_length, fit, freeze_bottom, length_limit, make_args, peft_config, save_checkpoint
from genrm.types import Message

# DPO-specific defaults on top of train.common.PAPER_DEFAULTS
DPO_DEFAULTS = {"beta": 1.0, "activation_checkpointing": False}


@dataclass(frozen=True)
class DPOExample:
    prompt: list[Message]
    chosen: str
    rejected: str


def tokenize(tokenizer, examples: Sequence[DPOExample]) -> list[dict]:
    """prompt_ids / chosen_ids / rejected_ids of each example, as TRL's DPOTrainer builds them."""
    prompts = chat_ids(tokenizer, [ex.prompt for ex in examples])
    rows = []
    for ex, prompt in zip(examples, prompts):
        full = chat_ids(tokenizer, [ex.prompt + [{"role": "assistant", "content": c}] for c in (ex.chosen, ex.rejected)],
                        generation_prompt=False)
        n = min(_common(prompt, f) for f in full)
        rows.append({"prompt_ids": prompt[:n], "chosen_ids": full[0][n:], "rejected_ids": full[1][n:]})
    return rows


def _common(a: list[int], b: list[int]) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def drop_too_long(rows: list[dict], max_length: int | None) -> tuple[list[dict], list[tuple[None, int]]]:
    """Rows whose prompt + longer completion fit in max_length tokens (never truncated: a cut
    rationale loses its verdict), and (None, tokens) of each left out."""
    size = [len(r["prompt_ids"]) + max(len(r["chosen_ids"]), len(r["rejected_ids"])) for r in rows]
    kept = [r for r, n in zip(rows, size) if max_length is None or n <= max_length]
    return kept, [(None, n) for n in size if max_length is not None and n > max_length]


def pretokenized_dpo(cls):
    """TRL's DPOTrainer that takes rows already tokenized (`tokenize`) as they are."""

    class PreTokenizedDPO(cls):
        def _prepare_dataset(self, dataset, *args, **kwargs):
            return dataset

    return PreTokenizedDPO


def train_dpo(model: str, examples: Sequence[DPOExample], out: str | Path, config: dict | None = None,
              card: dict | None = None) -> Path:
    """DPO-train `model` on `examples`; returns the checkpoint directory (`out/checkpoint`)."""
    import datasets
    from transformers import AutoModelForCausalLM
    from trl import DPOConfig, DPOTrainer

    from genrm.models import torch_dtype

    out = Path(out)
    args, own = make_args(DPOConfig, config or {}, out, defaults=DPO_DEFAULTS)
    if own.get("cache_frozen_layers"):
        raise ValueError("cache_frozen_layers is implemented for SFT and BT training, not DPO (its reference model "
                         "needs the full forward pass): remove the key from the DPO settings")
    args.max_length = None  # length is enforced by dropping (genrm's max_length), never by truncating
    tokenizer = load_tokenizer(model, side="left")
    limit, policy = length_limit(own, model)
    kept, over = drop_too_long(tokenize(tokenizer, examples), limit)
    enforce_length(over, len(kept), "DPO pairs", limit, policy)
    lm = AutoModelForCausalLM.from_pretrained(resolve_model(model), dtype=torch_dtype("auto"))
    freeze_bottom(lm, own.get("freeze_layers", 0))
    trainer = pretokenized_dpo(DPOTrainer)(model=lm, args=args, train_dataset=datasets.Dataset.from_list(kept),
                         processing_class=tokenizer, peft_config=peft_config(own, "CAUSAL_LM"))
    fit(trainer)
    card = {**(card or {}), "base_model": model, "train_pairs": len(kept), "dropped_too_long": len(over),
            "hyperparameters": dict(config or {}), "beta": args.beta}
    return save_checkpoint(trainer.model, tokenizer, out, card, trainer.state.log_history)
