# HF_HUB_OFFLINE=1 flock /tmp/genrm-heavy.lock .venv/bin/python benchmarks/rewardbench_partial.py --per-subset 10 --seed 0 --out runs/bench-rewardbench-partial
"""Zero-shot SmolLM2-135M-Instruct (indicator judge, both orders) on the partial RewardBench in
../shared/data: alpacaeval.jsonl (Chat: alpacaeval-*), xstest.jsonl (Safety: xstest-*) and
humanevalpack.jsonl (Reasoning: hep-*). Other Chat/Safety subsets and all of Chat Hard and
math-prm are not available offline, so sections are partial (weights renormalised over the
subsets present) and the overall is the mean of three sections: not a leaderboard number.

Subsampling: each subset is sorted by id and `--per-subset` pairs are drawn with
random.Random(f"{seed}:{subset}") (genrm.eval.runner.subsample), so the same seed gives the same
pairs. Prints the table (with the length baseline on the same pairs) and writes results.json,
report.md and chart.png to --out.
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

FILES = ("alpacaeval.jsonl", "xstest.jsonl", "humanevalpack.jsonl")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--per-subset", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--out", default="runs/bench-rewardbench-partial")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import torch

    from genrm.data.pairs import load_pairs
    from genrm.eval.report import print_table
    from genrm.eval.runner import evaluate, subsample
    from genrm.judges.base import load_judge

    pairs = [p for name in FILES for p in load_pairs(Path(args.data_dir) / name)]
    picked = subsample(pairs, args.per_subset, args.seed)
    print(f"{len(picked)} of {len(pairs)} pairs ({args.per_subset} per subset, seed {args.seed}); "
          f"torch threads {torch.get_num_threads()}", flush=True)
    judge = load_judge(args.model, kind="genrm")
    start = time.perf_counter()
    results = evaluate(judge, picked, bench="rewardbench", out=args.out, batch_size=args.batch_size, progress=True,
                       model=args.model, data_source=f"{args.data_dir}/{{{','.join(FILES)}}} per-subset={args.per_subset} seed={args.seed}")
    seconds = time.perf_counter() - start
    print_table(results)
    print(f"{seconds:.0f} s judging ({seconds / len(picked):.2f} s per pair, both orders); wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
