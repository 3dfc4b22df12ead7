# .venv/bin/python benchmarks/int8_judging.py [--quick] [--pairs 64] [--judge smollm2-135m] [--batch-size 8]
"""int8 CPU judging (`dtype="int8"`, genrm.models.quantize_int8: dynamic quantization of the
transformer blocks' linear layers) against fp32, side by side in one run: the same judge, pairs and
batch size, each timed after a warm-up on the same pairs.

Pairs: human-labelled MT-Bench pairs from ../shared/data (mtbench_human_llmbar, the MT-Bench
template) and the demo's built-in held-out pairs (genrm.data.synth, compact template). Printed per set:
pairs/s both ways and the speed-up; mean and max |p_int8 - p_fp32|; verdicts that flip; accuracy
both ways (n, Wilson 95% CI) with the exact paired sign test between them; the process's peak RSS.
`--judge` takes any indicator judge (a trained run or export, or the zero-shot default model).
int8 stays off by default unless the change is negligible (README, Performance).
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def timed(judge, pairs, batch_size: int) -> tuple[list[float], float]:
    judge.judge(pairs[:batch_size], batch_size=batch_size)  # warm-up
    start = time.perf_counter()
    out = [j.p_chosen for j in judge.judge(pairs, batch_size=batch_size)]
    return out, time.perf_counter() - start


def main() -> None:
    from genrm.data.pairs import load_pairs
    from genrm.data.synth import make_pairs
    from genrm.eval.credit import credit
    from genrm.judges.base import load_judge
    from genrm.stats import paired_test, wilson
    from genrm.types import Judgment

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="16 pairs per set (a few minutes)")
    ap.add_argument("--pairs", type=int, default=64)
    ap.add_argument("--judge", default="smollm2-135m")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--data-dir", default=str(DATA))
    args = ap.parse_args()
    n = 16 if args.quick else args.pairs
    sets = {"MT-Bench human (MT-Bench template)": ("indicator", list(load_pairs(Path(args.data_dir) / "mtbench_human_llmbar.jsonl"))[:n]),
            "built-in held-out (compact template)": ("indicator-compact", make_pairs({"test": n})["test"])}
    judges = {dtype: load_judge(args.judge, kind="genrm", dtype=dtype) for dtype in ("float32", "int8")}
    print(f"judge={args.judge} pairs per set={n} batch={args.batch_size} threads={torch.get_num_threads()} "
          f"cpu={torch.backends.cpu.get_cpu_capability()}")
    for name, (template, pairs) in sets.items():
        runs = {}
        for dtype, judge in judges.items():
            judge.template = template
            runs[dtype] = timed(judge, pairs, args.batch_size)
        (p32, s32), (p8, s8) = runs["float32"], runs["int8"]
        diffs = [abs(a - b) for a, b in zip(p32, p8)]
        flips = sum((a > 0.5) != (b > 0.5) for a, b in zip(p32, p8))
        acc = {k: [credit(Judgment(p_chosen=p)) for p in ps] for k, (ps, _) in runs.items()}
        test = paired_test(acc["int8"], acc["float32"])

        def fmt(credits):
            a = sum(credits) / len(credits)
            low, high = wilson(a, len(credits))
            return f"{100 * a:.1f} [{100 * low:.0f}-{100 * high:.0f}]"

        print(f"{name}: fp32 {len(pairs) / s32:.2f} pairs/s, int8 {len(pairs) / s8:.2f} pairs/s, speed-up {s32 / s8:.2f}x; "
              f"|dp| mean {sum(diffs) / len(diffs):.4f} max {max(diffs):.4f}; verdicts flipped {flips}/{len(pairs)}; "
              f"accuracy fp32 {fmt(acc['float32'])} vs int8 {fmt(acc['int8'])} (n={len(pairs)}, paired sign test "
              f"p={test.p:.2g})")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {rss:.0f} MB (both judges loaded)")


if __name__ == "__main__":
    main()
