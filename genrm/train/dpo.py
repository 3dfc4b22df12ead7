"""DPO on (prompt, chosen completion, rejected completion) through TRL's DPOTrainer (STaR-DPO).

Rows are tokenized here with genrm.data.chat (content as plain text, the fixed date), the way TRL
tokenizes conversational rows: the prompt with the generation prompt, each completion the tokens
after the prompt in the closed prompt + completion conversation (ending with the template's
end-of-turn = EOS). TRL's DPOTrainer takes them as they are (`PreTokenizedDPO`). A completion's
`*_prefix` (STaR's `loss_on: verdict`: the rationale before the verdict letter) is part of the
assistant turn the model reads, but left out of the log-probabilities DPO compares, and so is
its `*_suffix` (the text after the verdict letter, the same in both completions). The
reference model is a frozen copy of the starting model (TRL's default); with
`cache_frozen_layers` there is none: the reference log-probs are computed once up front (TRL's
`precompute_ref_log_probs`) from the cached frozen bottom, as the training steps are. beta comes
from the config (the paper used 1.0).
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from genrm.data.chat import chat_ids
from genrm.models import load_tokenizer, resolve_model
from genrm.train.cached import cached_bottom
from genrm.train.common import (
    enforce_length,
    fit,
    freeze_bottom,
    label_positions_only,
    lay_out_units,
    length_limit,
    make_args,
    peft_config,
    save_checkpoint,
    training_dtype,
)
from genrm.types import Message

# DPO-specific defaults on top of train.common.PAPER_DEFAULTS
DPO_DEFAULTS = {"beta": 1.0, "activation_checkpointing": False}


@dataclass(frozen=True)
class DPOExample:
    prompt: list[Message]
    chosen: str
    rejected: str
    chosen_prefix: str = ""  # read before `chosen` in the same turn, not compared
    rejected_prefix: str = ""
    chosen_suffix: str = ""  # read after `chosen` in the same turn, not compared (nor is the end of the turn)
    rejected_suffix: str = ""


SPANS = ("chosen_span", "rejected_span")  # per row: [start, end) of the completion tokens compared, where not all


def tokenize(tokenizer, examples: Sequence[DPOExample]) -> list[dict]:
    """prompt_ids / chosen_ids / rejected_ids of each example, as TRL's DPOTrainer builds them."""
    prompts = chat_ids(tokenizer, [ex.prompt for ex in examples])
    rows = []
    for ex, prompt in zip(examples, prompts):
        texts = ((ex.chosen_prefix, ex.chosen, ex.chosen_suffix), (ex.rejected_prefix, ex.rejected, ex.rejected_suffix))
        full = chat_ids(tokenizer, [ex.prompt + [{"role": "assistant", "content": "".join(t)}] for t in texts],
                        generation_prompt=False)
        n = min(_common(prompt, f) for f in full)
        row = {"prompt_ids": prompt[:n], "chosen_ids": full[0][n:], "rejected_ids": full[1][n:]}
        if any(read or after for read, _, after in texts):
            row.update({key: compared_span(tokenizer, ids, *text)
                        for key, ids, text in zip(SPANS, (row["chosen_ids"], row["rejected_ids"]), texts)})
        rows.append(row)
    return rows


def compared_span(tokenizer, ids: list[int], prefix: str, text: str, suffix: str) -> list[int]:
    """[start, end) of the completion `ids` that spell `text` after `prefix`: a token that crosses
    either boundary is compared; without a suffix the span runs to the end of the turn."""
    start = 0
    while prefix and start < len(ids) and prefix.startswith(tokenizer.decode(ids[:start + 1])):
        start += 1
    if not suffix:
        return [start, len(ids)]
    end = start + 1
    while end < len(ids) and not tokenizer.decode(ids[:end]).startswith(prefix + text):
        end += 1
    return [start, end]


def _common(a: list[int], b: list[int]) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def drop_too_long(rows: list[dict], max_length: int | None, unit: int = 1) -> tuple[list[dict], list[tuple[None, int]]]:
    """Rows whose prompt + longer completion fit in max_length tokens (never truncated: a cut
    rationale loses its verdict), and (None, tokens) of each left out; a unit of `unit`
    consecutive rows is kept or left out whole."""
    size = [len(r["prompt_ids"]) + max(len(r["chosen_ids"]), len(r["rejected_ids"])) for r in rows]
    kept, over = [], []
    for k in range(0, len(rows), unit):
        if max_length is not None and any(n > max_length for n in size[k:k + unit]):
            over += [(None, n) for n in size[k:k + unit]]
        else:
            kept += rows[k:k + unit]
    return kept, over


def pretokenized_dpo(cls):
    """TRL's DPOTrainer that takes rows already tokenized (`tokenize`) as they are."""

    class PreTokenizedDPO(cls):
        def _prepare_dataset(self, dataset, *args, **kwargs):
            return dataset

        def _set_signature_columns_if_needed(self):
            super()._set_signature_columns_if_needed()
            self._signature_columns = [*self._signature_columns, *SPANS]

        def _precompute_ref_logps(self, dataset, name, batch_size):
            # the passes laid out by train.common.lay_out_units repeat rows: each distinct row's reference once
            import datasets

            keys = [json.dumps([row[k] for k in ("prompt_ids", "chosen_ids", "rejected_ids", *SPANS) if k in row])
                    for row in dataset]
            first: dict[str, int] = {}  # each distinct row -> where it first occurs
            for i, key in enumerate(keys):
                first.setdefault(key, i)
            if len(first) == len(keys):
                return super()._precompute_ref_logps(dataset, name, batch_size)
            done = super()._precompute_ref_logps(dataset.select(list(first.values())), name, batch_size)
            where = {key: j for j, key in enumerate(first)}
            logps = done.select_columns(["ref_chosen_logps", "ref_rejected_logps"]).select([where[k] for k in keys])
            return datasets.concatenate_datasets([dataset, logps], axis=1)

    return PreTokenizedDPO


def _compared_spans(collate):
    """TRL's preference collator, then the completion tokens outside each row's SPANS taken out of
    the completion mask (rows are right-padded: row i's completion starts after its prompt;
    rejected rows follow the chosen ones)."""

    def call(examples):
        batch = collate([{k: v for k, v in ex.items() if k not in SPANS} for ex in examples])
        mask = batch["completion_mask"]
        for half, key in enumerate(SPANS):
            for i, ex in enumerate(examples):
                if ex.get(key):
                    start, end = (len(ex["prompt_ids"]) + k for k in ex[key])
                    mask[half * len(examples) + i, :start] = 0
                    mask[half * len(examples) + i, end:] = 0
        return batch

    return call


def train_dpo(model: str, examples: Sequence[DPOExample], out: str | Path, config: dict | None = None,
              card: dict | None = None, unit: int = 1) -> Path:
    """DPO-train `model` on `examples`; returns the checkpoint directory (`out/checkpoint`).
    `unit` > 1: consecutive examples form units that share a batch (train.common.lay_out_units)."""
    import datasets
    from transformers import AutoModelForCausalLM
    from trl import DPOConfig, DPOTrainer
    from trl.trainer.dpo_trainer import DataCollatorForPreference

    out = Path(out)
    args, own = make_args(DPOConfig, config or {}, out, defaults=DPO_DEFAULTS)
    if own.get("cache_frozen_layers"):  # the reference's log-probs once, up front (the starting model's top blocks on
        args.precompute_ref_log_probs = True  # the cached bottom): no reference copy, no reference pass per step
    args.max_length = None  # length is enforced by dropping (genrm's max_length), never by truncating
    tokenizer = load_tokenizer(model, side="left")
    limit, policy = length_limit(own, model)
    kept, over = drop_too_long(tokenize(tokenizer, examples), limit, unit)
    enforce_length(over, len(kept), "DPO pairs", limit, policy)
    laid = lay_out_units(kept, unit, args)
    lm = AutoModelForCausalLM.from_pretrained(resolve_model(model), dtype=training_dtype(own, args))
    freeze_bottom(lm, own.get("freeze_layers", 0))
    collate = _compared_spans(DataCollatorForPreference(pad_token_id=tokenizer.pad_token_id))
    bottom = cached_bottom(lm, own, [r["prompt_ids"] + r[k] for r in laid for k in ("chosen_ids", "rejected_ids")],
                           tokenizer.pad_token_id, args)
    # the reference log-probs (computed when the trainer is built) and the training read the cached bottom,
    # and project only the compared positions onto the vocabulary (train.common.label_positions_only)
    with bottom, label_positions_only():
        trainer = pretokenized_dpo(DPOTrainer)(model=lm, args=args, train_dataset=datasets.Dataset.from_list(laid),
                                               data_collator=collate, processing_class=tokenizer,
                                               peft_config=peft_config(own, "CAUSAL_LM"))
        fit(trainer)
    card = {**(card or {}), "base_model": model, "train_pairs": len(kept), "dropped_too_long": len(over),
            "hyperparameters": dict(config or {}), "beta": args.beta}
    return save_checkpoint(trainer, tokenizer, out, card)
