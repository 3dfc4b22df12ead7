# .venv/bin/python benchmarks/bt_batching.py [--quick] [--pairs 48] [--batch-size 8]
"""BT evaluation with length-sorted batching vs naive fixed-order batching, same pairs.

The BT judge (a one-label classifier built from the embedded SmolLM2-135M; its head is untrained,
which does not change the cost) scores the same chosen/rejected conversations twice: batches of
similar length (genrm's default) and batches in the order given. Mixed-length data: a seeded
shuffle of the partial RewardBench in ../shared/data (alpacaeval, xstest, humanevalpack: answers
from one line to pages), the order an evaluation set arrives in once shuffled. Scores must be identical
(max |difference| printed); the figure is the ratio of sequences/s. Target (issue 7 item 2): >= 1.5x.
"""
from __future__ import annotations

import argparse
import random
import resource
import tempfile
import time
from pathlib import Path

import torch

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def main() -> None:
    from transformers import AutoModelForSequenceClassification

    from genrm.data.pairs import load_pairs
    from genrm.forward_batches import batches, token_budget
    from genrm.judges.base import both_responses
    from genrm.judges.bt import BTJudge
    from genrm.models import load_tokenizer, resolve_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="16 pairs (under a minute)")
    ap.add_argument("--pairs", type=int, default=48)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--max-chars", type=int, default=3000, help="skip pairs with a longer response")
    ap.add_argument("--seed", type=int, default=0, help="seed of the shuffle")
    args = ap.parse_args()
    n = 16 if args.quick else args.pairs
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        model = AutoModelForSequenceClassification.from_pretrained(resolve_model("smollm2-135m"), num_labels=1,
                                                                   dtype=torch.float32)
        model.save_pretrained(tmp)
        load_tokenizer("smollm2-135m").save_pretrained(tmp)
        judge = BTJudge.from_pretrained(tmp, dtype=torch.float32)
    judge.share_prefix = False  # batching alone (the shared prefix is benchmarks/shared_prefix.py)
    pool = [p for name in ("alpacaeval", "xstest", "humanevalpack") for p in load_pairs(DATA / f"{name}.jsonl")
            if max(len(p.chosen_text), len(p.rejected_text)) <= args.max_chars]
    random.Random(args.seed).shuffle(pool)
    pairs = pool[:n]
    rows = judge.rows(*both_responses(pairs))
    lengths = [len(r) for r in rows]
    judge.row_rewards(rows[:2], args.batch_size)  # warm-up
    timings, scores, padded = {}, {}, {}
    for name, sort in (("naive", False), ("sorted", True)):
        start = time.perf_counter()
        scores[name] = judge.row_rewards(rows, args.batch_size, sort=sort)
        timings[name] = time.perf_counter() - start
        order = sorted(range(len(rows)), key=lambda i: lengths[i]) if sort else range(len(rows))
        padded[name] = sum(len(group) * max(lengths[i] for i in group)  # the batches map_batches runs
                           for group in batches(order, lengths, args.batch_size, token_budget("cpu")))
    diff = max(abs(a - b) for a, b in zip(scores["naive"], scores["sorted"]))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    subsets = {p.subset.split("-")[0] for p in pairs}
    print(f"pairs={len(pairs)} from {sorted(subsets)} sequences={len(rows)} tokens={sum(lengths)} lengths {min(lengths)}..{max(lengths)} "
          f"batch={args.batch_size} threads={torch.get_num_threads()} peak RSS {rss:.0f} MB")
    for name in ("naive", "sorted"):
        print(f"{name:>7}: {len(rows) / timings[name]:.2f} sequences/s ({timings[name]:.1f} s), "
              f"{padded[name]} token slots computed ({sum(lengths) / padded[name]:.0%} real)")
    print(f"max |score difference|: {diff:.2e}")
    ratio = timings["naive"] / timings["sorted"]
    print(f"summary: length-sorted vs naive batching {ratio:.2f}x (target >= 1.5x) "
          f"{'MET' if ratio >= 1.5 else 'NOT MET'}; scores identical within {diff:.1e}")


if __name__ == "__main__":
    main()
