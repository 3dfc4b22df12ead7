"""Batched last-position forward passes that do not depend on batch neighbours.

Rows are sorted by length (less padding), left-padded, given position ids that start at 0 at
each row's first real token, and returned in the caller's order. Scores are therefore the same
at any batch size up to float rounding.

Causal readers (`map_batches(causal=True)`: the function reads each row's outputs at `batch["last"]`)
get the plain pass right-padded and without an attention mask: in a causal model a row's real
tokens never attend to the padding after them, so the mask is redundant and SDPA runs its causal
kernel, which skips the upper triangle that a padding mask makes it compute
(benchmarks/compute_efficiency.py).

Shared prefix: judge prompts all open with the same system prompt and template header. With a
`SharedPrefix` (the rows' longest common token prefix, run through the model once), each batch
holds only the rows' own tokens and continues from a copy of the prefix's KV cache; the prefix's
keys and values are the same as in an unshared pass, so scores agree up to float rounding.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import torch
from tqdm.auto import tqdm

# padded tokens per batch (rows x longest row, by device): a few long rows run in small batches.
# Forward passes over whole rows (scoring): on CPU a batch over ~1k tokens spills its activations
# (tokens x 1536 floats in SmolLM2's MLP) out of the cores' caches and runs at half the FLOP rate
# (benchmarks/compute_efficiency.py). Generation (prompt + new tokens, x samples) keeps larger
# batches: each decode step reads all the weights once for the whole batch.
MAX_BATCH_TOKENS = {"cpu": 1024, "cuda": 262144}
GENERATE_BATCH_TOKENS = {"cpu": 16384, "cuda": 262144}


def token_budget(device, generate: bool = False) -> int:
    table = GENERATE_BATCH_TOKENS if generate else MAX_BATCH_TOKENS
    return table.get(torch.device(device).type, table["cpu"])


def require_fit(rows: Sequence[Sequence[int]], limit: int | None) -> None:
    """The last guard before a model: rows over `limit` tokens are an error (the located checks of
    genrm.data.lengths name the pair or prompt before this is reached)."""
    if limit is None:
        return
    too_long = [i for i, row in enumerate(rows) if len(row) > limit]
    if too_long:
        raise ValueError(f"{len(too_long)} input(s) over the limit of {limit} tokens (first: #{too_long[0]}, "
                         f"{len(rows[too_long[0]])} tokens); raise max_length or shorten the data")


def batches(order: Sequence[int], widths: Sequence[int], batch_size: int, max_tokens: int | None,
            copies: int = 1) -> Iterator[list[int]]:
    """Consecutive groups of `order` of at most `batch_size` rows and at most `max_tokens` padded
    tokens (rows x copies x the group's widest row); a row wider than the budget goes alone."""
    group: list[int] = []
    for i in order:
        wider = max([widths[j] for j in group] + [widths[i]])
        if group and (len(group) >= batch_size or (max_tokens and (len(group) + 1) * copies * wider > max_tokens)):
            yield group
            group = []
        group.append(i)
    if group:
        yield group


def left_pad(rows: Sequence[Sequence[int]], pad_id: int, device) -> dict[str, torch.Tensor]:
    width = max(len(r) for r in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        input_ids[i, width - len(r):] = torch.tensor(r, dtype=torch.long)
        mask[i, width - len(r):] = 1
    position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
    return {"input_ids": input_ids.to(device), "attention_mask": mask.to(device), "position_ids": position_ids.to(device)}


def right_pad(rows: Sequence[Sequence[int]], pad_id: int, device) -> dict[str, torch.Tensor]:
    """Right-padded rows with no attention mask (for causal models only) and each row's last real
    position as `last`."""
    width = max(len(r) for r in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    for i, r in enumerate(rows):
        input_ids[i, :len(r)] = torch.tensor(r, dtype=torch.long)
    return {"input_ids": input_ids.to(device), "last": torch.tensor([len(r) - 1 for r in rows], device=device)}


def last_logits(model, batch: dict) -> torch.Tensor:
    """The causal LM's logits at each row's last real token (`batch["last"]`; a left-padded batch
    has none: its rows end at the last column). The LM head runs only at those positions."""
    batch = dict(batch)
    last = batch.pop("last", None)
    if last is None:
        return model(**batch, logits_to_keep=1).logits[:, -1, :]
    keep = torch.unique(last)  # sorted; a few distinct positions per batch
    logits = model(**batch, logits_to_keep=keep).logits
    return logits[torch.arange(len(last), device=last.device), torch.searchsorted(keep, last)]


def common_prefix(rows: Sequence[Sequence[int]]) -> int:
    """Length of the longest token prefix every row shares, leaving at least one token in each."""
    if not rows:
        return 0
    first, n = rows[0], min(len(r) for r in rows) - 1
    for k in range(max(n, 0)):
        if any(r[k] != first[k] for r in rows):
            return k
    return max(n, 0)


class SharedPrefix:
    """The KV cache of a token prefix every row starts with, computed once; `extend(batch)` makes a
    batch of the rows' remaining tokens continue from it, `prepend(batch)` puts the prefix's tokens
    back in front (for `generate`, which takes whole sequences beside a cache of their start)."""

    def __init__(self, model, prefix: Sequence[int], device):
        from transformers import DynamicCache

        from genrm.models import cache_kwarg

        self.tokens, self.length, self.name = list(prefix), len(prefix), cache_kwarg(model)
        self.cache = DynamicCache(config=model.config)
        with torch.no_grad():
            model(input_ids=torch.tensor([self.tokens], device=device), use_cache=True, **{self.name: self.cache})

    def copies(self, rows: int):
        """The prefix's cache repeated for `rows` rows (a fresh copy: a forward pass extends it)."""
        import copy

        cache = copy.deepcopy(self.cache)
        cache.batch_repeat_interleave(rows)
        return cache

    def _attended(self, mask: torch.Tensor) -> torch.Tensor:
        return torch.cat([torch.ones((mask.shape[0], self.length), dtype=mask.dtype, device=mask.device), mask], dim=1)

    def prepend(self, batch: dict) -> dict:
        """A left-padded batch of the rows' remaining tokens with the prefix in front (attended;
        the rows' positions continue after it, their padding stays masked in between)."""
        ids = batch["input_ids"]
        head = torch.tensor([self.tokens] * ids.shape[0], dtype=ids.dtype, device=ids.device)
        return {**batch, "input_ids": torch.cat([head, ids], dim=1), "attention_mask": self._attended(batch["attention_mask"]),
                "position_ids": torch.cat([torch.arange(self.length, device=ids.device).expand(ids.shape[0], -1),
                                           batch["position_ids"] + self.length], dim=1)}

    def extend(self, batch: dict) -> dict:
        return {**batch, "attention_mask": self._attended(batch["attention_mask"]),
                "position_ids": batch["position_ids"] + self.length, self.name: self.copies(batch["input_ids"].shape[0])}


@torch.no_grad()
def map_batches(rows: Sequence[Sequence[int]], fn: Callable[[dict], torch.Tensor], pad_id: int, device,
                batch_size: int = 8, progress: bool = False, desc: str = "scoring",
                sort: bool = True, model=None, min_prefix: int = 8,
                max_tokens: int | None = None, causal: bool = False) -> list[torch.Tensor]:
    """Apply `fn` (a batch of left-padded inputs -> one tensor row per input) in length-sorted
    batches (`sort=False`: in input order, for comparison) of at most `batch_size` rows and
    `max_tokens` padded tokens (`batches`; default `token_budget(device)`); return the rows in input order. With
    `model`, a common prefix of at least `min_prefix` tokens is computed once (SharedPrefix) and
    the batches hold only what follows it. `causal=True` (a causal model, and `fn` reads the
    positions in `batch["last"]` where present, as `last_logits` does): batches without a shared
    prefix are right-padded without a mask (`right_pad`)."""
    k = common_prefix(rows) if model is not None and len(rows) > 1 else 0
    prefix = SharedPrefix(model, rows[0][:k], device) if k >= min_prefix else None
    if prefix is not None:
        rows = [r[k:] for r in rows]
    order = sorted(range(len(rows)), key=lambda i: len(rows[i])) if sort else list(range(len(rows)))
    out: list[torch.Tensor | None] = [None] * len(rows)
    with tqdm(total=len(rows), desc=desc, disable=not progress, unit="seq") as bar:
        for idx in batches(order, [len(r) for r in rows], batch_size, max_tokens or token_budget(device)):
            pad = right_pad if causal and prefix is None else left_pad
            batch = pad([rows[i] for i in idx], pad_id, device)
            result = fn(prefix.extend(batch) if prefix else batch).float().cpu()
            for j, i in enumerate(idx):
                out[i] = result[j]
            bar.update(len(idx))
    return out  # type: ignore[return-value]
