# .venv/bin/python benchmarks/judge_throughput.py [--quick] [--pairs 16] [--max-new-tokens 256]
"""Indicator-judge throughput vs a generative judge that decodes its verdict the RewardBench way.

Same model, same pairs. The indicator judge scores BOTH orders with one last-position forward
pass each. The generative judge follows the official RewardBench generative script: one order
per pair, greedy decoding of an explanation and a `[[A]]`/`[[B]]` verdict (parsed; unparsed
verdicts counted), up to --max-new-tokens. Target (issue 7 item 1): >= 20x pairs/s.
Also printed, from the same prompts: prefill tokens/s and the cost of one decode step at the batch
size, which together explain the ratio on the machine at hand.
"""
from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import torch

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@torch.no_grad()
def costs(judge, prompts, steps: int = 16) -> tuple[float, float]:
    """(prefill tokens/s, ms per decode step) on one left-padded batch of `prompts`."""
    from transformers import GenerationConfig

    from genrm.batching import encode, left_pad
    from genrm.models import render

    tok = judge.tokenizer
    batch = left_pad(encode(tok, [render(tok, m) for m in prompts]), tok.pad_token_id, "cpu")
    start = time.perf_counter()
    judge.model(**batch, logits_to_keep=1)
    prefill_s = time.perf_counter() - start
    times = []
    for n in (1, steps + 1):  # the difference is `steps` decode steps
        config = GenerationConfig(max_new_tokens=n, min_new_tokens=n, do_sample=False, pad_token_id=tok.pad_token_id)
        start = time.perf_counter()
        judge.model.generate(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], generation_config=config)
        times.append(time.perf_counter() - start)
    return int(batch["attention_mask"].sum()) / prefill_s, 1000 * (times[1] - times[0]) / steps


def main() -> None:
    from genrm.data import load_pairs
    from genrm.generation.base import SamplingParams
    from genrm.generation.hf import HFGenerator
    from genrm.judges.indicator import IndicatorJudge
    from genrm.prompts import judge_messages, parse_verdict

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="4 pairs, 64 new tokens (under a minute)")
    ap.add_argument("--pairs", type=int, default=16)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=256)
    ap.add_argument("--model", default="smollm2-135m")
    args = ap.parse_args()
    if args.quick:
        args.pairs, args.max_new_tokens = 4, 64
    pairs = list(load_pairs(DATA / "mtbench_human_llmbar.jsonl"))[: args.pairs]

    judge = IndicatorJudge.from_pretrained(args.model, dtype=torch.float32)
    judge.judge(pairs[:2], batch_size=args.batch_size)  # warm-up
    start = time.perf_counter()
    judge.judge(pairs, batch_size=args.batch_size)
    indicator_s = time.perf_counter() - start

    generator = HFGenerator(judge.model, judge.tokenizer, batch_size=args.batch_size)
    greedy = SamplingParams(n=1, temperature=0.0, max_new_tokens=args.max_new_tokens)
    prompts = [judge_messages(p, chosen_first=(i % 2 == 0), template="cot") for i, p in enumerate(pairs)]
    start = time.perf_counter()
    outputs = generator.generate(prompts, greedy)
    generative_s = time.perf_counter() - start
    tokens = sum(c.num_tokens for out in outputs for c in out)
    unparsed = sum(not parse_verdict(out[0].text).parsed for out in outputs)

    prefill_rate, step_ms = costs(judge, prompts[: args.batch_size])
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ind_rate, gen_rate = len(pairs) / indicator_s, len(pairs) / generative_s
    print(f"model={args.model} pairs={len(pairs)} batch={args.batch_size} threads={torch.get_num_threads()} "
          f"peak RSS {rss:.0f} MB")
    print(f"indicator (both orders): {ind_rate:.3f} pairs/s ({indicator_s:.1f} s)")
    print(f"generative (greedy, one order, <= {args.max_new_tokens} new tokens): {gen_rate:.3f} pairs/s "
          f"({generative_s:.1f} s, {tokens} tokens generated, {unparsed} unparsed)")
    print(f"prefill {prefill_rate:.0f} tokens/s; one decode step at batch {args.batch_size}: {step_ms:.0f} ms")
    ratio = ind_rate / gen_rate
    print(f"ratio: {ratio:.1f}")
    print(f"summary: indicator vs generative judging {ratio:.1f}x (target >= 20x) {'MET' if ratio >= 20 else 'NOT MET'}")


if __name__ == "__main__":
    main()
