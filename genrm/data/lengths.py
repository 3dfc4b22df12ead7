"""The length policy, one for every path: evaluation, training, STaR, best-of-N, RAFT, the server.

The limit of a model input is `max_length` when set, else the model's context (its config's
position limit, or the tokenizer's `model_max_length` when smaller), less what the path generates
after it (a CoT judge's rationale). An input over the limit is never truncated (a cut judge prompt
loses the answers it compares) and never reaches the model (no out-of-memory crash); by policy it is
  "error" (default): a DataError naming the file, row, field (the longest of prompt / chosen /
           rejected), the input's token count and the limit;
  "skip":  left out, counted and reported (`skip_report`: results.json "skipped", per subset).

Counting is cheap for ordinary data: a rendered text of at most limit - 8 UTF-8 bytes cannot hold
more tokens than the limit (a token covers at least one byte; 8 covers added prefix tokens), so only
longer texts are tokenized; a text of more characters than the limit times the vocabulary's longest
token is over the limit without tokenizing (reported as "more than N tokens").
"""
from __future__ import annotations

import resource
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from genrm.data.pairs import DataError
from genrm.types import Message, PreferencePair

POLICIES = ("error", "skip")
Inputs = list[tuple[list[Message], bool]]  # the conversations a judge builds for one pair (messages, generation prompt)


@dataclass(frozen=True)
class TooLong:
    """One item (a PreferencePair, or a prompt row with `id`, `source` and `messages`) over the limit."""

    pair: Any
    tokens: int
    limit: int
    exact: bool = True

    @property
    def field(self) -> str:
        if not isinstance(self.pair, PreferencePair):
            return "prompt"
        sizes = {"prompt": sum(len(m["content"]) for m in self.pair.prompt), "chosen": len(self.pair.chosen_text),
                 "rejected": len(self.pair.rejected_text)}
        return max(sizes, key=sizes.get)

    def error(self, count: int = 1) -> DataError:
        path, _, row = self.pair.source.rpartition(":")
        path, row = (path, int(row)) if row.isdigit() else (self.pair.source, None)
        size = f"{self.tokens} tokens" if self.exact else f"more than {self.tokens} tokens"
        what = "pair" if isinstance(self.pair, PreferencePair) else "prompt"
        more = f" ({count - 1} more over the limit)" if count > 1 else ""
        return DataError(path, row, self.field, f"{what} {self.pair.id!r} is {size}, over the limit of {self.limit} "
                         f"(max_length, else the model's context, less the tokens generated after it){more}; shorten "
                         "it, raise max_length, or skip such rows (--over-length skip / over_length=skip)", "too_long")


def check_policy(policy: str) -> str:
    if policy not in POLICIES:
        raise ValueError(f"over_length must be one of {', '.join(POLICIES)}, not {policy!r}")
    return policy


def context_length(model=None, tokenizer=None) -> int | None:
    """The longest input `model` (a model or its config) takes: its config's position limit, or
    the tokenizer's when smaller."""
    limits = []
    if model is not None:  # a model or its config
        config = getattr(model, "config", model)
        config = config.get_text_config() if hasattr(config, "get_text_config") else config
        for attr in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
            if isinstance(getattr(config, attr, None), int):
                limits.append(getattr(config, attr))
                break
    if tokenizer is not None and isinstance(getattr(tokenizer, "model_max_length", None), int) \
            and tokenizer.model_max_length < 10**7:
        limits.append(tokenizer.model_max_length)
    return min(limits) if limits else None


def input_limit(max_length: int | None, model=None, tokenizer=None, reserve: int = 0) -> int | None:
    """The effective limit: max_length, else the context; less `reserve` tokens generated after it."""
    limit = max_length if max_length is not None else context_length(model, tokenizer)
    return None if limit is None else limit - reserve


def model_limit(model: str, tokenizer=None, reserve: int = 0) -> int | None:
    """The context of the model named `model` (read from its config, no weights loaded), less `reserve`."""
    from transformers import AutoConfig

    from genrm.models import resolve_model

    return input_limit(None, AutoConfig.from_pretrained(resolve_model(model)), tokenizer, reserve)


def too_long(tokenizer, pairs: Sequence, inputs: Sequence[Inputs], limit: int | None) -> list[TooLong]:
    """The items whose longest input (of `inputs[i]`, what the model is given for pairs[i]) exceeds `limit`."""
    from genrm.data.chat import chat_ids, render

    if limit is None:
        return []
    longest = 0  # characters of the vocabulary's longest token, read when first needed
    out = []
    for pair, convs in zip(pairs, inputs):
        worst, exact = 0, True
        for messages, generation_prompt in convs:
            text = render(tokenizer, messages, generation_prompt)
            if len(text.encode("utf-8")) + 8 <= limit:
                continue
            longest = longest or max((len(t) for t in tokenizer.get_vocab()), default=1)
            if len(text) > (limit + 1) * longest:
                worst, exact = max(worst, len(text) // longest), False
                continue
            (ids,) = chat_ids(tokenizer, [messages], generation_prompt)
            worst = max(worst, len(ids))
        if worst > limit:
            out.append(TooLong(pair, worst, limit, exact))
    return out


def apply_policy(pairs: Sequence, over: Sequence[TooLong], policy: str = "error") -> tuple[list, list[TooLong]]:
    """(the pairs within the limit, the ones left out); under "error" the first one over is raised."""
    check_policy(policy)
    if not over:
        return list(pairs), []
    if policy == "error":
        raise over[0].error(len(over))
    out_ids = {id(t.pair) for t in over}  # (by identity: items need not be hashable)
    return [p for p in pairs if id(p) not in out_ids], list(over)


def skip_report(over: Sequence[TooLong]) -> dict:
    """What results.json says of pairs left out for length: count, limit, per subset, the first few."""
    if not over:
        return {}
    return {"too_long": {"n": len(over), "limit": over[0].limit, "subsets": dict(Counter(t.pair.subset for t in over)),
                         "first": [{"id": t.pair.id, "source": t.pair.source, "field": t.field, "tokens": t.tokens,
                                    "exact": t.exact} for t in over[:10]]}}


def fit_prompts(rows: Sequence, model: str, max_new_tokens: int, policy: str = "error") -> tuple[list, list[TooLong]]:
    """Prompt rows (`messages`, `id`, `source`) with room for `max_new_tokens` in `model`'s context:
    one over it is a located error, or under "skip" left out (best-of-N, rejection sampling, RAFT)."""
    from genrm.models import load_tokenizer

    tok = load_tokenizer(model)
    limit = model_limit(model, tok, max_new_tokens)
    return apply_policy(rows, too_long(tok, rows, [[(r.messages, True)] for r in rows], limit), policy)


def peak_memory() -> dict:
    """Peak resident memory of this process (GiB), and of CUDA when used."""
    out = {"peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3)}
    try:
        import torch

        if torch.cuda.is_available() and torch.cuda.is_initialized():
            out["peak_cuda_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 3)
    except ImportError:
        pass
    return out
