"""Frozen bottom layers computed once: the top of a model trains on cached activations.

With `freeze_layers: N` the bottom N blocks (and the embeddings) never change, so what they
compute for a training sequence is the same at every step and epoch. `CachedBottom` runs each
training sequence through them once (right-padded, as the trainer pads) and keeps the input of
block N; while training, the model's embedding module is replaced by a lookup of those cached
activations (keyed by the sequence's tokens) and its block list by the top blocks alone, so each
step costs the top blocks' forward and backward only. The activations live in a memory-mapped file
(DiskCache), so a large training set's cache is bounded by disk, not memory, and its computation
shows progress. The trainer (TRL) is unchanged: it still
feeds token ids, pads, masks and computes the loss as usual. On exit the model is whole again,
with the trained top blocks. Valid without dropout in the bottom blocks and without LoRA there.
Used by SFT (GenRM, STaR), BT and DPO training (train/dpo.py: the reference log-probs too).
Measured in benchmarks/training_throughput.py (`--method dpo` for DPO).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class _Stop(Exception):
    pass


def decoder(model):
    """(the module holding `embed_tokens` and `layers`, its layer list) of a HF decoder model."""
    base = model.base_model if hasattr(model, "base_model") else model
    inner = base if hasattr(base, "layers") else getattr(base, "model", None)
    if inner is None or not hasattr(inner, "layers") or not hasattr(inner, "embed_tokens"):
        raise ValueError(f"cannot find the transformer blocks of {type(model).__name__}")
    return inner, inner.layers


class DiskCache:
    """Activations of many sequences in one file, memory-mapped: what is resident is what the
    operating system keeps in its page cache, so the cache of a large training set does not have to
    fit in memory. `add(key, tensor)` while writing; `close()` maps the file; `cache[key]` reads."""

    def __init__(self, hidden: int, dtype, directory: str | None = None):
        import shutil
        import tempfile
        import weakref

        self.hidden, self.dtype, self.rows, self.index = hidden, dtype, 0, {}
        self.directory = tempfile.mkdtemp(prefix="genrm-frozen-cache-", dir=directory)
        self.path = f"{self.directory}/activations.bin"
        self.file, self.mapped = open(self.path, "wb"), None  # noqa: SIM115 -- closed in close()
        weakref.finalize(self, shutil.rmtree, self.directory, True)

    def add(self, key: tuple, value: torch.Tensor) -> None:
        value = value.to(self.dtype).contiguous()
        self.file.write(value.view(torch.uint8).numpy().tobytes())
        self.index[key] = (self.rows, value.shape[0])
        self.rows += value.shape[0]

    def close(self) -> None:
        self.file.close()
        size = self.rows * self.hidden
        self.mapped = (torch.from_file(self.path, shared=False, size=size, dtype=self.dtype).view(self.rows, self.hidden)
                       if size else torch.empty(0, self.hidden, dtype=self.dtype))

    def get(self, key: tuple) -> torch.Tensor | None:
        where = self.index.get(key)
        return None if where is None else self.mapped[where[0]:where[0] + where[1]]

    def __len__(self) -> int:
        return len(self.index)

    @property
    def nbytes(self) -> int:
        return self.rows * self.hidden * self.dtype.itemsize


class CachedActivations(nn.Module):
    """Stands in for the embedding: token ids (right-padded with `pad_id`) -> cached block-N inputs."""

    def __init__(self, cache: DiskCache, pad_id: int, hidden: int, dtype):
        super().__init__()
        self.cache, self.pad_id, self.hidden, self.dtype = cache, pad_id, hidden, dtype

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        out = torch.zeros((*input_ids.shape, self.hidden), dtype=self.dtype, device=input_ids.device)
        for b, row in enumerate(input_ids.tolist()):
            while row and row[-1] == self.pad_id:
                row.pop()
            cached = self.cache.get(tuple(row))
            if cached is None:
                raise KeyError(f"sequence #{b} of the batch was not cached ({len(row)} tokens)")
            out[b, :len(row)] = cached.to(out.device)
        return out


class CachedBottom:
    """`with CachedBottom(model, n_layers, rows, pad_id): trainer.train()` (see the module docstring)."""

    def __init__(self, model, n_layers: int, rows: Sequence[Sequence[int]], pad_id: int, batch_size: int = 16):
        self.model, self.n = model, n_layers
        self.inner, layers = decoder(model)
        if not 0 < n_layers < len(layers):
            raise ValueError(f"cache_frozen_layers needs 0 < freeze_layers < {len(layers)}, not {n_layers}")
        self.cache = self._compute(layers, rows, pad_id, batch_size)
        weight = self.inner.embed_tokens.weight
        self.lookup = CachedActivations(self.cache, pad_id, weight.shape[1], weight.dtype)

    @torch.no_grad()
    def _compute(self, layers, rows, pad_id: int, batch_size: int) -> DiskCache:
        from tqdm.auto import tqdm

        captured = {}

        def grab(module, args, kwargs):
            captured["h"] = args[0] if args else kwargs["hidden_states"]
            raise _Stop

        unique = sorted({tuple(r) for r in rows}, key=len)
        device = next(self.model.parameters()).device
        weight = self.inner.embed_tokens.weight
        cache = DiskCache(weight.shape[1], weight.dtype)
        hook = layers[self.n].register_forward_pre_hook(grab, with_kwargs=True)
        was_training = self.model.training
        self.model.eval()
        bar = tqdm(total=len(unique), desc=f"caching the frozen {self.n} blocks", unit="seq",
                   disable=len(unique) < 4 * batch_size, leave=False)
        try:
            for start in range(0, len(unique), batch_size):
                batch = unique[start:start + batch_size]
                width = max(len(r) for r in batch)
                ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
                mask = torch.zeros((len(batch), width), dtype=torch.long)
                for i, r in enumerate(batch):
                    ids[i, :len(r)], mask[i, :len(r)] = torch.tensor(r), 1
                try:
                    self.inner(input_ids=ids.to(device), attention_mask=mask.to(device),
                               position_ids=torch.arange(width, device=device)[None].expand(len(batch), -1))
                except _Stop:
                    pass
                for i, r in enumerate(batch):
                    cache.add(r, captured["h"][i, :len(r)].detach().cpu())
                bar.update(len(batch))
                bar.set_postfix_str(f"{cache.nbytes / 2**30:.2f} GiB on disk", refresh=False)
        finally:
            hook.remove()
            self.model.train(was_training)
            bar.close()
        cache.close()
        return cache

    def __enter__(self):
        self.embed, self.layers = self.inner.embed_tokens, self.inner.layers
        self.inner.embed_tokens = self.lookup
        self.inner.layers = nn.ModuleList(list(self.layers)[self.n:])
        return self

    def __exit__(self, *exc):
        self.inner.embed_tokens, self.inner.layers = self.embed, self.layers


def cached_bottom(model, own: dict, rows: Sequence[Sequence[int]], pad_id: int, args):
    """CachedBottom when genrm's `cache_frozen_layers` is set (with `freeze_layers`), else a no-op.
    The trainer's gradient checkpointing is turned off: only the top blocks run, and its input hook
    would sit on the replaced embedding."""
    from contextlib import nullcontext

    if not own.get("cache_frozen_layers"):
        return nullcontext()
    if own.get("lora"):
        raise ValueError("cache_frozen_layers trains the top blocks themselves: it cannot be combined with lora")
    if not own.get("freeze_layers"):
        raise ValueError("cache_frozen_layers needs freeze_layers=N (the frozen bottom blocks are what is cached)")
    args.activation_checkpointing = args.gradient_checkpointing = False
    return CachedBottom(model, own["freeze_layers"], rows, pad_id)
