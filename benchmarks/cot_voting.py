# .venv/bin/python benchmarks/cot_voting.py [--quick] [--pairs 4] [--votes 8 16 32] [--orders 2 1] [--max-new-tokens 32] [--no-prefill]
"""CoT majority voting: adaptive stopping vs fixed K, and shared prompt prefill vs re-prefill.

1. For each K: the CoT judge (embedded SmolLM2-135M, temperature 1.0, both orders, forced verdicts)
   votes with a fixed K samples per order and with the exact adaptive rule (stop a pair once the
   remaining votes cannot change the majority). Samples are seeded per (prompt, index), so the
   adaptive run draws a prefix of the fixed run's samples: verdicts must be identical. Figure:
   tokens generated, fixed vs adaptive. Target (issue 7 item 3): >= 40% fewer tokens.
   The exact rule cannot stop before a strict majority of the whole budget B (= K x orders) has
   voted one way, so it saves at most (B/2 - 1)/B (44% at K=8 with both orders, 47% at 16, 48% at
   32), and only when the votes agree. `--orders 1` judges in one order: a position-biased judge's
   votes agree there, which shows the rule's reach; `--orders 2` (genrm's default) is the real case.
2. The K samples of a prompt generated with the prompt's KV cache computed once and repeated, vs
   each sample prefilling the prompt itself (same samples). Figure: tokens/s ratio.
"""
from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import torch

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def summary(savings: dict, extra: str = "") -> str:
    both = [v for (o, _), v in savings.items() if o == 2] or list(savings.values())
    return (f"summary: adaptive stopping saves {min(both):.0%}..{max(both):.0%} of tokens with both orders, "
            f"{max(savings.values()):.0%} at best (target >= 40%) {'MET' if min(both) >= 0.4 else 'NOT MET'}{extra}")


def main() -> None:
    from genrm.data.pairs import load_pairs
    from genrm.generation.base import SamplingParams
    from genrm.generation.hf import HFGenerator
    from genrm.judges.cot import CoTJudge
    from genrm.judges.prompts import judge_messages

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2 pairs, K = 4 and 8, 12 new tokens (about a minute)")
    ap.add_argument("--pairs", type=int, default=4)
    ap.add_argument("--votes", type=int, nargs="+", default=[8, 16, 32])
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--orders", type=int, nargs="+", default=[2, 1], choices=(1, 2), help="orders per pair (2: both)")
    ap.add_argument("--no-prefill", action="store_true", help="skip part 2 (timed; token counts need no idle machine)")
    ap.add_argument("--model", default="smollm2-135m")
    args = ap.parse_args()
    if args.quick:
        args.pairs, args.votes, args.max_new_tokens = 2, [4, 8], 12
    pairs = sorted(load_pairs(DATA / "mtbench_human_llmbar.jsonl"),
                   key=lambda p: len(p.chosen_text) + len(p.rejected_text))[: args.pairs]

    base = CoTJudge.from_pretrained(args.model, votes=1, max_new_tokens=args.max_new_tokens, force_verdict=True)
    generator = base.generator
    print(f"model={args.model} pairs={len(pairs)} max_new_tokens={args.max_new_tokens} threads={torch.get_num_threads()}")
    print(f"{'orders':>6}{'K':>4}{'fixed tokens':>14}{'adaptive tokens':>17}{'saved':>8}{'ceiling':>9}"
          f"{'verdicts equal':>16}{'vote agreement':>16}")
    savings = {}
    for orders in args.orders:
        for k in args.votes:
            tokens, verdicts = {}, {}
            for adaptive in (False, True):
                judge = CoTJudge(generator, votes=k, max_new_tokens=args.max_new_tokens, adaptive=adaptive,
                                 both_orders=orders == 2, force_verdict=True)
                judgments = judge.judge(pairs, batch_size=8)
                tokens[adaptive], verdicts[adaptive] = judge.tokens_generated, [j.verdict for j in judgments]
                if not adaptive:  # the share of a pair's parsed votes on its majority side, mean over pairs
                    agree = [max(j.votes["chosen"], j.votes["rejected"]) / max(1, j.votes["chosen"] + j.votes["rejected"])
                             for j in judgments]
            saved = 1 - tokens[True] / tokens[False]
            budget = k * orders
            savings[(orders, k)] = saved
            print(f"{orders:>6}{k:>4}{tokens[False]:>14}{tokens[True]:>17}{saved:>8.0%}{(budget // 2 - 1) / budget:>9.0%}"
                  f"{verdicts[True] == verdicts[False]!s:>16}{sum(agree) / len(agree):>16.0%}")
    if args.no_prefill:
        print(summary(savings))
        return

    k = max(args.votes)
    params = SamplingParams(n=k, temperature=1.0, top_p=0.95, max_new_tokens=args.max_new_tokens, seed=0)
    prompts = [judge_messages(p, True, "cot") for p in pairs]
    rates, texts = {}, {}
    for shared in (False, True):
        gen = HFGenerator(generator.model, generator.tokenizer, batch_size=1, share_prefill=shared)
        start = time.perf_counter()
        out = gen.generate(prompts, params)
        seconds = time.perf_counter() - start
        rates[shared] = sum(c.num_tokens for o in out for c in o) / seconds
        texts[shared] = [c.text for o in out for c in o]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"prefill shared across K={k}: {rates[True]:.1f} tokens/s vs re-prefilled {rates[False]:.1f} tokens/s "
          f"({rates[True] / rates[False]:.2f}x), same samples: {texts[True] == texts[False]}; peak RSS {rss:.0f} MB")
    print(summary(savings, f"; shared prefill {rates[True] / rates[False]:.2f}x"))


if __name__ == "__main__":
    main()
