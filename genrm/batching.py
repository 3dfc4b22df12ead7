"""Batched last-position forward passes that do not depend on batch neighbours.

Rows are sorted by length (less padding), left-padded, given position ids that start at 0 at
each row's first real token, and returned in the caller's order. Scores are therefore the same
at any batch size up to float rounding.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from tqdm.auto import tqdm


def encode(tokenizer, texts: Sequence[str], max_length: int | None = None) -> list[list[int]]:
    """Token ids of chat-rendered texts (the template already holds the special tokens)."""
    ids = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    if max_length is not None:
        too_long = [i for i, row in enumerate(ids) if len(row) > max_length]
        if too_long:
            raise ValueError(f"{len(too_long)} prompt(s) exceed max_length={max_length} tokens (first: #{too_long[0]}, "
                             f"{len(ids[too_long[0]])} tokens); raise max_length or shorten the data")
    return ids


def left_pad(rows: Sequence[Sequence[int]], pad_id: int, device) -> dict[str, torch.Tensor]:
    width = max(len(r) for r in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        input_ids[i, width - len(r):] = torch.tensor(r, dtype=torch.long)
        mask[i, width - len(r):] = 1
    position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
    return {"input_ids": input_ids.to(device), "attention_mask": mask.to(device), "position_ids": position_ids.to(device)}


@torch.no_grad()
def map_batches(rows: Sequence[Sequence[int]], fn: Callable[[dict], torch.Tensor], pad_id: int, device,
                batch_size: int = 8, progress: bool = False, desc: str = "scoring",
                sort: bool = True) -> list[torch.Tensor]:
    """Apply `fn` (a batch of left-padded inputs -> one tensor row per input) in length-sorted
    batches (`sort=False`: in input order, for comparison); return the rows in input order."""
    order = sorted(range(len(rows)), key=lambda i: len(rows[i])) if sort else list(range(len(rows)))
    out: list[torch.Tensor | None] = [None] * len(rows)
    with tqdm(total=len(rows), desc=desc, disable=not progress, unit="seq") as bar:
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            result = fn(left_pad([rows[i] for i in idx], pad_id, device)).float().cpu()
            for j, i in enumerate(idx):
                out[i] = result[j]
            bar.update(len(idx))
    return out  # type: ignore[return-value]
