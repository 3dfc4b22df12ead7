"""GenRM indicator judge: p(first is better) = softmax over the two indicator-token logits.

One forward pass per order, reading only the last position's logits. Zero-shot on any chat
model (the paper's LLM-as-judge baseline) or after `genrm train genrm`. By default both orders
are scored and p_chosen is their mean; per-order values are kept for position-bias reports.
With `both_orders=False` each pair is shown in one seeded random order (prompts.shown_orders).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch

from genrm.data.chat import chat_ids
from genrm.data.lengths import TooLong, apply_policy, input_limit, too_long
from genrm.forward_batches import last_logits, map_batches, require_fit
from genrm.judges.prompts import indicator_ids, judge_messages, shown_orders
from genrm.models import load_causal_lm, prepare_tokenizer, resolve_model
from genrm.types import Judgment, PreferencePair


class IndicatorJudge:
    kind = "genrm"

    def __init__(self, model, tokenizer, indicators: tuple[str, str] = ("A", "B"), both_orders: bool = True,
                 max_length: int | None = None, name: str = "genrm", order_seed: int = 0, template: str = "indicator",
                 share_prefix: bool = True):
        self.model, self.tokenizer, self.name = model, prepare_tokenizer(tokenizer, side="left"), name
        self.share_prefix = share_prefix  # the judge prompts' common prefix computed once (genrm.forward_batches)
        self.indicators, self.both_orders, self.max_length = tuple(indicators), both_orders, max_length
        self.order_seed, self.template = order_seed, template
        self.ids = indicator_ids(tokenizer, self.indicators)

    @classmethod
    def from_pretrained(cls, path: str, card: dict | None = None, name: str | None = None, dtype="auto", **options):
        from transformers import AutoTokenizer

        path, card = resolve_model(path), card or {}
        opts = {"indicators": tuple(card.get("indicators", ("A", "B"))), "both_orders": card.get("both_orders", True),
                "template": card.get("template", "indicator")}
        opts.update(options)
        return cls(load_causal_lm(path, dtype=dtype), AutoTokenizer.from_pretrained(path), name=name or path, **opts)

    def card(self) -> dict:
        """The judge card to store with a checkpoint (`genrm_judge.json`)."""
        return {"kind": self.kind, "template": self.template, "indicators": list(self.indicators),
                "both_orders": self.both_orders}

    def too_long(self, pairs: Sequence[PreferencePair]) -> list[TooLong]:
        inputs = [[(judge_messages(p, first, self.template), True) for first in shown_orders(p, self.both_orders,
                                                                                              self.order_seed)]
                  for p in pairs]
        return too_long(self.tokenizer, pairs, inputs, input_limit(self.max_length, self.model, self.tokenizer))

    def p_first(self, prompts: Sequence[list], batch_size: int = 8, progress: bool = False) -> list[float]:
        """Probability that the first-shown response is better, for each judge prompt (messages)."""
        rows = chat_ids(self.tokenizer, prompts)
        require_fit(rows, input_limit(self.max_length, self.model, self.tokenizer))
        ids = torch.tensor(self.ids)

        def p_indicator(batch):
            logits = last_logits(self.model, batch)
            return torch.softmax(logits[:, ids.to(logits.device)].float(), dim=-1)[:, 0]

        device = next(self.model.parameters()).device
        return [float(x) for x in map_batches(rows, p_indicator, self.tokenizer.pad_token_id, device, batch_size, progress,
                                              "judging", model=self.model if self.share_prefix else None,
                                              causal=True)]

    def judge(self, pairs: Sequence[PreferencePair], batch_size: int = 8, progress: bool = False) -> list[Judgment]:
        if not pairs:
            return []
        apply_policy(pairs, self.too_long(pairs))
        shown = [(i, first) for i, p in enumerate(pairs) for first in shown_orders(p, self.both_orders, self.order_seed)]
        prompts = [judge_messages(pairs[i], first, self.template) for i, first in shown]
        per_pair: list[dict] = [{} for _ in pairs]
        for (i, first), p in zip(shown, self.p_first(prompts, batch_size, progress)):
            per_pair[i]["p_chosen_first" if first else "p_chosen_second"] = p if first else 1.0 - p
        return [Judgment(p_chosen=sum(v.values()) / len(v), **v) for v in per_pair]
