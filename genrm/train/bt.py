"""Bradley-Terry reward model through TRL's RewardTrainer (AutoModelForSequenceClassification,
num_labels=1, loss -log sigmoid(r_chosen - r_rejected) [+ center_rewards_coefficient * (r_c + r_r)^2]).

Pairs are tokenized here with `genrm.judges.bt.conversation_ids`, the function BTJudge scores
with, and handed to the trainer pre-tokenized (`chosen_ids`/`rejected_ids`), so training and
scoring see the same tokens. Pairs longer than the limit (`max_length`, else the model's context) are a located error or, with
`over_length: skip`, dropped and counted; never truncated.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from genrm.judges.bt import conversation_ids
from genrm.models import load_tokenizer, resolve_model
from genrm.train.cached import cached_bottom
from genrm.train.common import (
    check_keys,
    data_card,
    enforce_length,
    fit,
    freeze_bottom,
    length_limit,
    make_args,
    peft_config,
    save_checkpoint,
    training_dtype,
    write_eval,
)
from genrm.types import PreferencePair

DEFAULTS: dict = {}  # the paper's settings (train.common.PAPER_DEFAULTS) hold for BT as they are


def check_config(config: dict) -> None:
    """Raise ConfigError for a key that neither TRL's RewardConfig nor genrm knows."""
    from trl import RewardConfig

    check_keys(RewardConfig, config)


def tokenize_pairs(tokenizer, pairs: Sequence[PreferencePair],
                   max_length: int | None = None) -> tuple[list[dict], list[tuple[PreferencePair, int]]]:
    """Rows with chosen_ids/rejected_ids, and (pair, tokens) of each pair with a side over max_length."""
    rows, over = [], []
    prompts = [p.prompt for p in pairs]
    chosen = conversation_ids(tokenizer, prompts, [p.chosen for p in pairs])
    for pair, c, r in zip(pairs, chosen, conversation_ids(tokenizer, prompts, [p.rejected for p in pairs])):
        if max_length is not None and max(len(c), len(r)) > max_length:
            over.append((pair, max(len(c), len(r))))
            continue
        rows.append({"chosen_ids": c, "rejected_ids": r})
    return rows, over


def train_bt(model: str, pairs: Sequence[PreferencePair], out: str | Path, config: dict | None = None,
             eval_pairs: Sequence[PreferencePair] | None = None) -> Path:
    """Train a BT reward model on `pairs`; returns the checkpoint directory (`out/checkpoint`).
    With `eval_pairs`, also evaluates the saved judge into `out/eval/` (genrm.eval.evaluate)."""
    import datasets
    from transformers import AutoModelForSequenceClassification, set_seed
    from trl import RewardConfig, RewardTrainer

    out = Path(out)
    args, own = make_args(RewardConfig, config or {}, out, DEFAULTS)
    args.max_length = None  # enforced in tokenize_pairs by dropping, with a count
    tokenizer = load_tokenizer(model, side="right")
    limit, policy = length_limit(own, model)
    rows, over = tokenize_pairs(tokenizer, pairs, limit)
    enforce_length(over, len(rows), "training pairs", limit, policy)
    set_seed(args.seed)  # the score head is initialised at random
    rm = AutoModelForSequenceClassification.from_pretrained(resolve_model(model), num_labels=1,
                                                            dtype=training_dtype(own, args))
    rm.config.pad_token_id = tokenizer.pad_token_id
    freeze_bottom(rm, own.get("freeze_layers", 0))
    bottom = cached_bottom(rm, own, [r[k] for r in rows for k in ("chosen_ids", "rejected_ids")], tokenizer.pad_token_id,
                           args)
    trainer = RewardTrainer(model=rm, args=args, train_dataset=datasets.Dataset.from_list(rows),
                            processing_class=tokenizer, peft_config=peft_config(own, "SEQ_CLS"))
    fit(trainer, bottom)
    card = {"kind": "bt", "method": "bradley-terry", "base_model": model, "train_examples": len(rows),
            "dropped_too_long": len(over), "data": {"train": data_card(pairs)},
            "hyperparameters": dict(config or {})}
    if eval_pairs:
        card["data"]["eval"] = data_card(eval_pairs)
    checkpoint = save_checkpoint(trainer, tokenizer, out, card)
    if eval_pairs:
        write_eval(checkpoint, eval_pairs, out)
    return checkpoint
