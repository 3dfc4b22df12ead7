# .venv/bin/python benchmarks/shared_prefix.py [--quick] [--pairs 48] [--batch-size 16]
"""Shared-prefix reuse (genrm.forward_batches.SharedPrefix): the judge prompts' common prefix (system
prompt, template header) computed once per run instead of once per row, against the plain pass.

Side by side in one run, same judge, same pairs, same batch size: the indicator judge (both
orders) on the demo's built-in pairs with the compact and the MT-Bench template, and on
RewardBench-like pairs; the CoT judge (the demo's settings: 1 vote per order, 8 sampled tokens and
the forced verdict read through the KV cache; genrm.generation.hf shares the prefix the same way)
on the built-in pairs with the compact template and on RewardBench-like pairs (../shared/data alpacaeval / xstest / humanevalpack, the shortest
--pairs of them); the BT judge (a one-label head on the same base model; its conversations share
the chat template's default system prompt) on the built-in pairs. Prints pairs/s both ways, the
speed-up, max |difference| of p (must stay <= 1e-4), the shared prefix length and peak RSS.
"""
from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import torch

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def timed(judge, pairs, batch_size: int, share: bool) -> tuple[float, list]:
    getattr(judge, "generator", judge).share_prefix = share  # CoT: its generator holds the switch
    start = time.perf_counter()
    out = judge.judge(pairs, batch_size=batch_size)
    return time.perf_counter() - start, out


def main() -> None:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from genrm.data.chat import chat_ids
    from genrm.data.pairs import load_pairs
    from genrm.data.synth import make_pairs
    from genrm.forward_batches import common_prefix
    from genrm.generation.hf import HFGenerator
    from genrm.judges.bt import BTJudge
    from genrm.judges.cot import CoTJudge
    from genrm.judges.indicator import IndicatorJudge
    from genrm.judges.prompts import judge_messages
    from genrm.models import load_tokenizer, resolve_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="12 pairs per set")
    ap.add_argument("--pairs", type=int, default=48)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--model", default="smollm2-135m")
    args = ap.parse_args()
    n = 12 if args.quick else args.pairs
    builtin = make_pairs({"test": n})["test"]
    real = [p for name in ("alpacaeval", "xstest", "humanevalpack") for p in load_pairs(DATA / f"{name}.jsonl")]
    real = sorted(real, key=lambda p: len(p.chosen_text) + len(p.rejected_text) + len(p.prompt[-1]["content"]))[:n]

    indicator = IndicatorJudge.from_pretrained(args.model, dtype=torch.float32)
    path = resolve_model(args.model)
    head = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1, dtype=torch.float32).eval()
    bt = BTJudge(head, AutoTokenizer.from_pretrained(path))
    generator = HFGenerator(indicator.model, load_tokenizer(args.model, side="left"))
    cot = CoTJudge(generator, votes=1, max_new_tokens=8, force_verdict=True, adaptive=False)
    cases = [("indicator, indicator-compact, built-in", indicator, "indicator-compact", builtin),
             ("indicator, MT-Bench template, built-in", indicator, "indicator", builtin),
             ("indicator, MT-Bench template, RewardBench-like", indicator, "indicator", real),
             ("BT, built-in", bt, None, builtin),
             ("CoT, cot-compact, built-in", cot, "cot-compact", builtin),
             ("CoT, MT-Bench template, RewardBench-like", cot, "cot", real)]
    print(f"model={args.model} pairs per set={n} batch={args.batch_size} threads={torch.get_num_threads()}")
    speedups = []
    for label, judge, template, pairs in cases:
        if template:
            judge.template = template
            tok = getattr(judge, "tokenizer", None) or judge.generator.tokenizer
            rows = chat_ids(tok, [judge_messages(p, True, template) for p in pairs])
        else:
            from genrm.judges.base import both_responses
            from genrm.judges.bt import conversation_ids

            rows = conversation_ids(judge.tokenizer, *both_responses(pairs))
        judge.judge(pairs[:2], batch_size=args.batch_size)  # warm-up
        plain_s, plain = timed(judge, pairs, args.batch_size, share=False)
        shared_s, shared = timed(judge, pairs, args.batch_size, share=True)
        key = "score_chosen" if template is None else "p_chosen"
        delta = max(abs(getattr(a, key) - getattr(b, key)) for a, b in zip(plain, shared))
        tokens = sum(len(r) for r in rows)
        speedups.append(plain_s / shared_s)
        print(f"{label}: plain {len(pairs) / plain_s:.2f} pairs/s, shared {len(pairs) / shared_s:.2f} pairs/s, "
              f"speed-up {plain_s / shared_s:.2f}x, max |delta {key}| {delta:.1e}, shared prefix "
              f"{common_prefix(rows)} of {tokens / len(rows):.0f} tokens per row")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {rss:.0f} MB")
    print("summary: shared prefix speed-up " + ", ".join(f"{s:.2f}x" for s in speedups) + " (" +
          "; ".join(c[0] for c in cases) + f"), peak RSS {rss:.0f} MB")


if __name__ == "__main__":
    main()
