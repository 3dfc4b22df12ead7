"""DPO on (prompt, chosen completion, rejected completion) through TRL's DPOTrainer (STaR-DPO).

Rows are conversational: `prompt` is the judge's message list, `chosen`/`rejected` one assistant
message each, so TRL renders them with the chat template exactly as the judge samples (the prompt
with the generation prompt, the completion closed by the template's end-of-turn = EOS), with the
fixed date genrm.models.render uses. The
reference model is a frozen copy of the starting model (TRL's default). beta comes from the
config (the paper used 1.0).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from genrm.models import FIXED_DATE, load_tokenizer, render, resolve_model
from genrm.train.common import fit, freeze_bottom, make_args, peft_config, report_dropped, save_checkpoint
from genrm.types import Message

# DPO-specific defaults on top of train.common.PAPER_DEFAULTS
DPO_DEFAULTS = {"beta": 1.0, "gradient_checkpointing": False}


@dataclass(frozen=True)
class DPOExample:
    prompt: list[Message]
    chosen: str
    rejected: str

    def to_row(self) -> dict:
        return {"prompt": self.prompt, "chosen": [{"role": "assistant", "content": self.chosen}],
                "rejected": [{"role": "assistant", "content": self.rejected}],
                "chat_template_kwargs": {"date_string": FIXED_DATE}}  # as genrm.models.render


def drop_too_long(tokenizer, examples: Sequence[DPOExample], max_length: int | None) -> tuple[list[DPOExample], int]:
    """Examples whose prompt + longer completion fit in max_length tokens (never truncated: a cut
    rationale loses its verdict), and the number dropped."""
    if max_length is None:
        return list(examples), 0
    prompts = tokenizer([render(tokenizer, ex.prompt) for ex in examples], add_special_tokens=False)["input_ids"]
    longest = [max(len(tokenizer.encode(ex.chosen, add_special_tokens=False)),
                   len(tokenizer.encode(ex.rejected, add_special_tokens=False))) + 1 for ex in examples]
    kept = [ex for ex, p, c in zip(examples, prompts, longest) if len(p) + c <= max_length]
    return kept, len(examples) - len(kept)


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
    max_length = own.get("max_length")
    tokenizer = load_tokenizer(model, side="left")
    kept, dropped = drop_too_long(tokenizer, examples, max_length)
    report_dropped(len(kept), dropped, "DPO pairs", max_length)
    lm = AutoModelForCausalLM.from_pretrained(resolve_model(model), dtype=torch_dtype("auto"))
    freeze_bottom(lm, own.get("freeze_layers", 0))
    trainer = DPOTrainer(model=lm, args=args, train_dataset=datasets.Dataset.from_list([ex.to_row() for ex in kept]),
                         processing_class=tokenizer, peft_config=peft_config(own, "CAUSAL_LM"))
    fit(trainer)
    card = {**(card or {}), "base_model": model, "train_pairs": len(kept), "dropped_too_long": dropped,
            "hyperparameters": dict(config or {}), "beta": args.beta}
    return save_checkpoint(trainer.model, tokenizer, out, card, trainer.state.log_history)
