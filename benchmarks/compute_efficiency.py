# .venv/bin/python benchmarks/compute_efficiency.py [--quick] [--pairs 24] [--batch-size 8] [--profile] [--dtype float32|int8]
"""Compute efficiency of the indicator judge: model FLOP/s as a fraction of this machine's dense
fp32 matmul rate, both measured in this run (a CPU analogue of model FLOPs utilisation).

Model FLOPs count only useful work on real tokens: 2 x (non-embedding parameters) per token,
causal attention 2 x L^2 x d per layer per sequence (QK^T and AV over the lower triangle), and the
LM head at the single last position that the judge reads. Padding is not counted, so wasted
padding lowers the figure. The judge runs its plain pass (no shared prefix: sharing removes work
rather than doing it faster). Target: >= 50%.

Where the time goes (`--quick --profile`, 2 cores, Intel Xeon with AVX-512, fp32, MT-Bench
template on 8 human MT-Bench pairs, 16 sequences of 729 tokens on average). Before 2026-12-02 the
judge ran left-padded batches of 8 rows (up to 16384 tokens) with a padding mask: 26.7% of the
matmul rate (85.7 of 320.6 GFLOP/s); GEMM 46.2%, attention 28.5%, elementwise 22.0% (SiLU and the
MLP's gate x up product alone 21%), copies/masks 2.9%. Two causes, both fixed in genrm.forward_batches:
- Batches of ~6k tokens spill the MLP's activations (tokens x 1536 floats, 35 MB) out of the
  cores' caches: the elementwise ops ran from memory at ~100M elements/s, and the gate/up GEMMs
  writing those activations ran at 98 GFLOP/s against 223 for the down projection of the same
  FLOPs. Forward batches on CPU now hold at most 1024 tokens (a 729-token row runs alone):
  budgets of 512 / 1024 / 2048 / 4096 / 16384 tokens measured 180 / 190 / 165 / 150 / 90-115
  GFLOP/s on these rows, and short rows (the demo's 88-token prompts) are not slower.
- With a padding mask SDPA computes the whole L x L score square; the plain pass now right-pads
  without a mask (a causal row never attends to the padding after it), so the causal kernel
  skips the upper triangle: 1.1-1.4x at the old budget, small at the new one (little padding).
Now (same data, same run as the earlier path): 54.1% (160.0 of 295.7 GFLOP/s), 2.13x the earlier
path's speed, max |d p| 1.4e-6 between them; GEMM 64.8%, attention 21.6%, elementwise 12.1%,
copies/masks 0.8%. Tokenization, mask construction and the LM head (one position per row) are
negligible. What is left: attention costs twice its share of FLOPs, and the elementwise work
(RMSNorm, rotary, SiLU) is memory-bound; torch.compile fuses it (measured 1.45x more on this pass
in 2048-token batches, after ~4 minutes of compiling on 2 cores: not worth it below a few
thousand pairs, so not used). int8 (`--dtype int8`) is faster in wall time
(benchmarks/int8_judging.py) but is not fp32 FLOPs.
"""
from __future__ import annotations

import argparse
import resource
import time
from contextlib import contextmanager
from pathlib import Path

import torch

from genrm import forward_batches

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def matmul_rate(n: int = 2048, repeats: int = 5) -> float:
    """Best-of-`repeats` dense fp32 GEMM rate in FLOP/s."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


def model_flops(config, lengths: list[int]) -> float:
    d, layers = config.hidden_size, config.num_hidden_layers
    kv = config.num_key_value_heads * (d // config.num_attention_heads)
    per_layer = d * d * 2 + d * kv * 2 + 3 * d * config.intermediate_size  # q,o + k,v + gate,up,down
    tokens = sum(lengths)
    dense = 2 * per_layer * layers * tokens
    attention = sum(2 * L * L * d for L in lengths) * layers
    head = 2 * d * config.vocab_size * len(lengths)
    return dense + attention + head


CATEGORIES = (  # profiler op name -> where the time goes (first match wins)
    ("linear layers (GEMM)", ("addmm", "aten::mm", "matmul", "linear", "bmm", "quantized")),
    ("attention kernel", ("scaled_dot_product", "flash_attention", "softmax", "baddbmm")),
    ("norms, activations, rotary (elementwise)", ("mul", "add", "silu", "rsqrt", "pow", "mean", "neg", "cat", "sin",
                                                "cos", "div", "sub", "sigmoid", "exp")),
    ("copies, casts, indexing, masks", ("copy", "to", "contiguous", "index", "slice", "view", "reshape", "expand",
                                        "transpose", "embedding", "clone", "where", "fill", "zeros", "ones", "empty",
                                        "arange", "cumsum", "clamp", "eq", "lt", "gt", "le", "ge", "ne", "bitwise",
                                        "masked")),
)


def breakdown(judge, texts, batch_size: int) -> list[tuple[str, float]]:
    """(category, share of self CPU time) of one judging pass, from torch.profiler."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        judge.p_first(texts, batch_size)
    totals: dict[str, float] = {}
    for event in prof.key_averages():
        name = event.key.lower()
        category = next((c for c, keys in CATEGORIES if any(k in name for k in keys)), "other")
        totals[category] = totals.get(category, 0.0) + event.self_cpu_time_total
    whole = sum(totals.values()) or 1.0
    return sorted(((c, t / whole) for c, t in totals.items()), key=lambda x: -x[1])


EARLIER_BUDGET = 16384  # CPU tokens per forward batch before 2026-12-02


@contextmanager
def earlier_path():
    """The judge's plain pass as it was before 2026-12-02: left-padded batches with a padding mask,
    up to EARLIER_BUDGET tokens each (for the side-by-side figure)."""
    saved = forward_batches.right_pad, dict(forward_batches.MAX_BATCH_TOKENS)
    forward_batches.right_pad, forward_batches.MAX_BATCH_TOKENS["cpu"] = forward_batches.left_pad, EARLIER_BUDGET
    try:
        yield
    finally:
        forward_batches.right_pad = saved[0]
        forward_batches.MAX_BATCH_TOKENS.update(saved[1])


def main() -> None:
    from genrm.data.chat import chat_ids
    from genrm.data.pairs import load_pairs
    from genrm.judges.indicator import IndicatorJudge
    from genrm.judges.prompts import judge_messages

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="8 pairs (under a minute)")
    ap.add_argument("--pairs", type=int, default=24)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--dtype", default="float32", choices=("float32", "int8"))
    ap.add_argument("--template", default="indicator", help="judge template (indicator: MT-Bench, ~400-token prompts)")
    ap.add_argument("--profile", action="store_true", help="also print where the time goes (torch.profiler)")
    args = ap.parse_args()
    n_pairs = 8 if args.quick else args.pairs
    judge = IndicatorJudge.from_pretrained(args.model, dtype=args.dtype, template=args.template)
    judge.share_prefix = False  # model FLOPs count every token: measure the plain pass (sharing removes work)
    pairs = list(load_pairs(DATA / "mtbench_human_llmbar.jsonl"))[:n_pairs]
    texts = [judge_messages(p, first, judge.template) for p in pairs for first in (True, False)]
    lengths = [len(r) for r in chat_ids(judge.tokenizer, texts)]
    judge.p_first(texts[: args.batch_size], args.batch_size)  # warm-up
    peak = matmul_rate()
    start = time.perf_counter()
    judge.p_first(texts, args.batch_size)
    seconds = time.perf_counter() - start
    achieved = model_flops(judge.model.config, lengths) / seconds
    with earlier_path():
        start = time.perf_counter()
        before = judge.p_first(texts, args.batch_size)
        earlier_seconds = time.perf_counter() - start
    now = judge.p_first(texts, args.batch_size)
    peak_after = matmul_rate()  # the machine is shared: take the better of before/after
    peak = max(peak, peak_after)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"threads={torch.get_num_threads()} sequences={len(texts)} tokens={sum(lengths)} "
          f"mean_len={sum(lengths) / len(lengths):.0f} batch={args.batch_size}")
    print(f"fp32 matmul rate (2048^3 GEMM): {peak / 1e9:.1f} GFLOP/s")
    print(f"judge forward: {achieved / 1e9:.1f} GFLOP/s over {seconds:.2f} s "
          f"({len(pairs) / seconds:.2f} pairs/s, both orders), peak RSS {rss:.0f} MB")
    print(f"earlier path (left-padded with a mask, up to {EARLIER_BUDGET} tokens per batch): "
          f"{model_flops(judge.model.config, lengths) / earlier_seconds / 1e9:.1f} GFLOP/s over {earlier_seconds:.2f} s; "
          f"now {earlier_seconds / seconds:.2f}x faster, max |d p| {max(abs(a - b) for a, b in zip(now, before)):.1e}")
    frac = achieved / peak
    print(f"summary: efficiency: {frac:.1%} of matmul peak (target >= 50%) {'MET' if frac >= 0.5 else 'NOT MET'}")
    if args.profile:
        for category, share in breakdown(judge, texts, args.batch_size):
            print(f"  {share:6.1%}  {category}")


if __name__ == "__main__":
    main()
