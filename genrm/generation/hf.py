"""Sampling with transformers `generate`: batched, left-padded, KV cache, prefill shared across samples.

Determinism: every sample has its own random stream, seeded from (seed, prompt tokens, sample
index). A logits processor applies temperature and top-p and draws the token from that stream,
and `generate` then decodes greedily over the single surviving token. So the same seed gives the
same samples, and a sample does not depend on which other prompts share its batch, nor on whether
it was drawn alone (`first_index=j, n=1`) or as sample j of a larger call; the one exception is
float rounding of a batched forward pass against an unbatched one, which can flip a token whose
probability sits on a sampling boundary (rare; never seen on the test model).

Shared prefill: the prompts of a batch are run through the model once (all but their last
token), the KV cache is repeated for the `n` samples of each prompt, and `generate` continues
from it, so a prompt's prefill is paid once, not `n` times (`share_prefill=False` re-prefills
every sample, for comparison). The prefill runs in groups of rows within the forward-pass token
budget (genrm.forward_batches.token_budget) while decoding keeps the whole batch: on CPU a prefill of
thousands of tokens at once runs at half the FLOP rate. Shared prefix: the token prefix every
prompt of a call starts with (system prompt, template header; 38 of 104 tokens of a compact CoT
judge prompt, 175 of 273 of the MT-Bench one) is computed once per call
(genrm.forward_batches.SharedPrefix) and each batch continues from it (`share_prefix=False` turns it
off, for comparison).

Cue (SamplingParams.cue): after `generate`, its KV cache is kept and the cue's tokens are fed
after each sample's own text (positions continue from the sample's last token, its EOS and
padding masked), so the next-token probabilities after "sample + cue" cost the cue's few tokens,
not a second prefill of prompt and sample.
"""
from __future__ import annotations

import gc
import hashlib
from collections.abc import Sequence

import torch
from tqdm.auto import tqdm

from genrm.data.chat import chat_ids
from genrm.data.lengths import input_limit
from genrm.forward_batches import SharedPrefix, batches, common_prefix, left_pad, require_fit, token_budget
from genrm.generation.base import Closing, Completion, SamplingParams
from genrm.models import cache_kwarg, load_causal_lm, load_tokenizer
from genrm.types import Message


def sample_seed(seed: int, prompt: Sequence[int] | str, index: int) -> int:
    """The seed of sample `index` of a prompt (its token ids, or a text key): independent of batch
    and call layout."""
    key = prompt if isinstance(prompt, str) else ",".join(map(str, prompt))
    digest = hashlib.sha256(f"{seed}\0{index}\0{key}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def single_tokens(tokenizer, texts: Sequence[str]) -> list[int]:
    """The token id of each text, which must be one token (SamplingParams.only, cue_choices)."""
    ids = [tokenizer.encode(text, add_special_tokens=False) for text in texts]
    if any(len(i) != 1 for i in ids):
        raise ValueError(f"these must be single tokens of the model's tokenizer: {list(texts)}")
    return [i[0] for i in ids]


class OnlyTokens:
    """A logits processor that leaves only the `allowed` token ids possible."""

    def __init__(self, allowed: Sequence[int]):
        self.allowed = list(allowed)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        kept = torch.full_like(scores, float("-inf"))
        kept[:, self.allowed] = scores[:, self.allowed]
        return kept


class RowSampler:
    """A logits processor that samples each row from its own torch.Generator (temperature,
    top-p) and leaves only the drawn token, so greedy decoding in `generate` picks it."""

    def __init__(self, seeds: Sequence[int], temperature: float, top_p: float):
        self.rngs = [torch.Generator().manual_seed(s) for s in seeds]
        self.temperature, self.top_p = temperature, top_p

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        probs = torch.softmax(scores.float().cpu() / self.temperature, dim=-1)
        if self.top_p < 1.0:
            sorted_p, order = probs.sort(dim=-1, descending=True)
            drop = sorted_p.cumsum(-1) - sorted_p >= self.top_p  # keep the smallest set reaching top_p
            sorted_p = sorted_p.masked_fill(drop, 0.0)
            probs = torch.zeros_like(probs).scatter(-1, order, sorted_p)
        out = torch.full_like(scores, float("-inf"))
        for i, rng in enumerate(self.rngs):
            token = torch.multinomial(probs[i], 1, generator=rng)
            out[i, token.to(out.device)] = 0.0
        return out


class HFGenerator(Closing):
    """Generator backend on transformers. `batch_size` counts prompts per `generate` call (each
    brings its `n` samples). `close()` drops the model (the tokenizer stays) and returns its memory."""

    backend = "hf"  # its name in GENERATORS

    def __init__(self, model, tokenizer, batch_size: int = 8, max_length: int | None = None,
                 share_prefill: bool = True, share_prefix: bool = True, min_prefix: int = 8):
        self.model, self.tokenizer = model, tokenizer
        self.batch_size, self.max_length, self.share_prefill = batch_size, max_length, share_prefill
        self.share_prefix, self.min_prefix = share_prefix, min_prefix

    @classmethod
    def from_pretrained(cls, model: str, dtype="auto", device: str | None = None, **options) -> HFGenerator:
        return cls(load_causal_lm(model, dtype=dtype, device=device), load_tokenizer(model, side="left"), **options)

    def close(self) -> None:
        """Drop this generator's reference to the model, collect it and, on CUDA, return the cached
        blocks to the device (memory is freed only where nothing else holds the model)."""
        self.model, self.closed = None, True
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    @property
    def context(self) -> int | None:
        """The longest prompt + completion this generator takes (max_length, else the model's context)."""
        return input_limit(self.max_length, self.model, self.tokenizer)

    @property
    def device(self):
        return next(self.model.parameters()).device

    def generate(self, prompts: Sequence[list[Message]], params: SamplingParams, progress: bool = False,
                 first_index: int = 0) -> list[list[Completion]]:
        """`params.n` completions per chat prompt: samples first_index .. first_index+n-1 of each."""
        return self.generate_ids(chat_ids(self.tokenizer, prompts), params, progress, first_index)

    def generate_ids(self, rows: Sequence[Sequence[int]], params: SamplingParams, progress: bool = False,
                     first_index: int = 0) -> list[list[Completion]]:
        """As `generate`, for prompts already tokenized (genrm.data.chat.chat_ids)."""
        self.check_open()
        rows = [list(r) for r in rows]
        require_fit(rows, None if self.context is None else self.context - params.max_new_tokens)
        k = common_prefix(rows) if self.share_prefix and len(rows) > 1 else 0
        prefix = SharedPrefix(self.model, rows[0][:k], self.device) if k >= self.min_prefix else None
        order = sorted(range(len(rows)), key=lambda i: len(rows[i]))  # similar lengths batch together
        out: list[list[Completion]] = [[] for _ in rows]
        with tqdm(total=len(rows) * params.n, desc="sampling", unit="sample", disable=not progress) as bar:
            widths = [len(r) + params.max_new_tokens for r in rows]
            for idx in batches(order, widths, self.batch_size, token_budget(self.device, generate=True), params.n):
                seeds = [sample_seed(params.seed, rows[i], first_index + j) for i in idx for j in range(params.n)]
                for i, completions in zip(idx, self._batch([rows[i] for i in idx], params, seeds, prefix)):
                    out[i] = completions
                bar.update(len(idx) * params.n)
        return out

    @torch.no_grad()
    def _batch(self, rows: list[list[int]], params: SamplingParams, seeds: list[int],
               prefix: SharedPrefix | None = None) -> list[list[Completion]]:
        """`prefix`: the tokens every row starts with (SharedPrefix.prepend lays the batch out)."""
        from transformers import GenerationConfig, LogitsProcessorList

        tok, n = self.tokenizer, params.n
        head = prefix.length if prefix else 0
        batch = left_pad([r[head:] for r in rows], tok.pad_token_id, self.device)
        if prefix:
            batch = prefix.prepend(batch)
        ids = batch["input_ids"].repeat_interleave(n, 0)
        mask = batch["attention_mask"].repeat_interleave(n, 0)
        config = GenerationConfig(max_new_tokens=params.max_new_tokens, do_sample=False, num_beams=1,
                                  eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
        processors = [OnlyTokens(single_tokens(tok, params.only))] if params.only else []
        if params.temperature > 0:
            processors.append(RowSampler(seeds, params.temperature, params.top_p))
        kwargs = {"logits_processor": LogitsProcessorList(processors)} if processors else {}
        if (self.share_prefill and ids.shape[1] > head + 1) or prefix:
            kwargs[cache_kwarg(self.model)] = self._prefill(batch, n, prefix)
        output = self.model.generate(input_ids=ids, attention_mask=mask, generation_config=config,
                                     return_dict_in_generate=True, **kwargs)
        new = output.sequences[:, ids.shape[1]:]
        lengths = [row.index(tok.eos_token_id) if tok.eos_token_id in row else len(row) for row in new.tolist()]
        cue = self._cue_probs(output, mask, new, lengths, params) if params.cue else [None] * len(lengths)
        completions = [Completion(text=tok.decode(row[:k], skip_special_tokens=True), num_tokens=k, finished=k < len(row),
                                  cue_probs=c, token_ids=tuple(row[:k])) for row, k, c in zip(new.tolist(), lengths, cue)]
        return [completions[k * n:(k + 1) * n] for k in range(len(rows))]

    def _cue_probs(self, output, mask, new, lengths: list[int], params: SamplingParams) -> list[tuple[float, ...]]:
        """Probabilities of `params.cue_choices` after each row's sample + `params.cue`, continuing
        `generate`'s KV cache (which holds every token but the last one sampled)."""
        tok = self.tokenizer
        cache = getattr(output, "cache", None) or getattr(output, "past_key_values", None)
        choices = single_tokens(tok, params.cue_choices)
        cue = tok.encode(params.cue, add_special_tokens=False)
        rows, steps = new.shape
        done = torch.tensor([k < steps for k in lengths])  # ended with EOS: its last sampled token is not content
        fed = torch.arange(steps - 1)[None, :] < torch.tensor(lengths)[:, None]  # sampled tokens in the cache, attended
        past = torch.cat([mask.cpu(), fed.long()], dim=1)
        last = torch.where(done, torch.full((rows,), tok.pad_token_id), new[:, -1].cpu())
        feed = torch.cat([last[:, None], torch.tensor(cue).repeat(rows, 1)], dim=1)
        attend = torch.cat([past, (~done).long()[:, None], torch.ones(rows, len(cue), dtype=torch.long)], dim=1)
        start = mask.sum(-1).cpu() + torch.tensor(lengths)  # the position after each sample's last token
        positions = torch.cat([(start - 1 + done.long())[:, None], start[:, None] + torch.arange(len(cue))[None, :]], dim=1)
        logits = self.model(input_ids=feed.to(self.device), attention_mask=attend.to(self.device),
                            position_ids=positions.to(self.device), use_cache=True, logits_to_keep=1,
                            **{cache_kwarg(self.model): cache}).logits[:, -1, :]
        probs = torch.softmax(logits[:, choices].float(), dim=-1).cpu()
        return [tuple(float(x) for x in row) for row in probs]

    def _prefill(self, batch: dict, n: int, prefix: SharedPrefix | None = None):
        """KV cache of every prompt but its last token, computed once and repeated n times; it
        starts from the shared prefix's cache when there is one (without share_prefill, only the
        prefix is cached and `generate` prefills the rest of each of the n copies). The prompts
        run in groups of rows within the forward-pass token budget (genrm.forward_batches.token_budget:
        on CPU a large prefill batch runs at half the FLOP rate), stacked into one cache."""
        from transformers import DynamicCache

        def fresh(rows: int):
            return prefix.copies(rows) if prefix else DynamicCache(config=self.model.config)

        rows, start = batch["input_ids"].shape[0], prefix.length if prefix else 0
        width = batch["input_ids"].shape[1] - 1 - start
        if not (self.share_prefill and width > 0):
            cache = fresh(rows)
        else:
            step = max(1, token_budget(self.device) // width)
            parts = []
            for lo in range(0, rows, step):
                part = slice(lo, lo + step)
                cache = fresh(min(step, rows - lo))
                self.model(input_ids=batch["input_ids"][part, start:-1], attention_mask=batch["attention_mask"][part, :-1],
                           position_ids=batch["position_ids"][part, start:-1], use_cache=True,
                           **{cache_kwarg(self.model): cache}, logits_to_keep=1)
                parts.append(cache)
            cache = parts[0] if len(parts) == 1 else stacked(parts, self.model.config)
        if n > 1:
            cache.batch_repeat_interleave(n)
        return cache


def stacked(caches: Sequence, config):
    """One DynamicCache holding the rows of `caches` (each of the same length) in their order."""
    from transformers import DynamicCache

    out = DynamicCache(config=config)
    for i in range(len(caches[0].layers)):
        out.update(torch.cat([c.layers[i].keys for c in caches]), torch.cat([c.layers[i].values for c in caches]), i)
    return out
