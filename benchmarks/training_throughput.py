# .venv/bin/python benchmarks/training_throughput.py [--quick] [--steps 6] [--batch-size 8]
"""Training tokens/s: TRL padding-free (and length-grouped) batches vs padded batches.

Same model, same mixed-length GenRM examples (real pairs from ../shared/data), same steps; each
variant runs in its own process so its peak memory (max RSS) is its own. Tokens/s counts real
(non-pad) tokens. A correctness check compares the first logged loss of padding-free with padded (same
batches and seed: they must agree to float rounding; length-grouped reorders the batches).
Target (issue 7 item 5): padding-free >= 1.3x padded tokens/s.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
VARIANTS = {
    "padded": {},
    "padding-free": {"padding_free": True},
    "length-grouped": {"train_sampling_strategy": "group_by_length"},
}


def examples(n: int, max_tokens: int):
    from genrm.data import load_pairs
    from genrm.models import load_tokenizer, render
    from genrm.prompts import judge_messages
    from genrm.train.sft import SFTExample

    tok = load_tokenizer("smollm2-135m")
    out = []
    for pair in load_pairs(DATA / "mtbench_human_llmbar.jsonl") + load_pairs(DATA / "llmeval2_llmbar.jsonl"):
        msgs = judge_messages(pair, True, "indicator")
        if len(tok(render(tok, msgs))["input_ids"]) <= max_tokens:
            out.append(SFTExample(msgs, "A", eos=False))
        if len(out) == n:
            break
    return out


def run_variant(name: str, steps: int, batch_size: int, n: int, max_tokens: int) -> dict:
    import torch

    from genrm.models import load_tokenizer
    from genrm.train.common import losses
    from genrm.train.sft import tokenize, train_sft

    torch.set_num_threads(int(os.environ.get("GENRM_THREADS", "2")))
    data = examples(n, max_tokens)
    rows, _ = tokenize(load_tokenizer("smollm2-135m"), data)
    tokens_per_epoch = sum(len(r["input_ids"]) for r in rows)
    config = {"max_steps": steps, "per_device_train_batch_size": batch_size, "learning_rate": 1e-5,
              "freeze_layers": 20, "disable_tqdm": True, "logging_steps": 1, **VARIANTS[name]}
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        train_sft("smollm2-135m", data, out, config)
        seconds = time.perf_counter() - start
        log = json.loads((Path(out) / "train_log.json").read_text())
        first_loss = losses(Path(out))[0]
    runtime = next(r["train_runtime"] for r in log if "train_runtime" in r)
    trained_tokens = tokens_per_epoch * min(1.0, steps * batch_size / len(rows))
    return {"variant": name, "train_seconds": runtime, "wall_seconds": seconds,
            "tokens_per_s": trained_tokens / runtime, "first_loss": first_loss,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2 steps of batch 4 (under a minute)")
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=768)
    ap.add_argument("--variant", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.quick:
        args.steps, args.batch_size, args.max_tokens = 2, 4, 512
    n = args.steps * args.batch_size
    if args.variant:  # child process: one variant, JSON on the last line
        print(json.dumps(run_variant(args.variant, args.steps, args.batch_size, n, args.max_tokens)))
        return
    results = []
    for name in VARIANTS:
        cmd = [sys.executable, __file__, "--variant", name, "--steps", str(args.steps),
               "--batch-size", str(args.batch_size), "--max-tokens", str(args.max_tokens)]
        proc = subprocess.run(cmd, check=False, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"variant {name} failed:\n{proc.stderr[-3000:]}")
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    base = results[0]
    print(f"{'variant':<16}{'tokens/s':>10}{'ratio':>8}{'first loss':>12}{'peak RSS MB':>13}")
    for r in results:
        print(f"{r['variant']:<16}{r['tokens_per_s']:>10.1f}{r['tokens_per_s'] / base['tokens_per_s']:>8.2f}"
              f"{r['first_loss']:>12.4f}{r['peak_rss_mb']:>13.0f}")
    best = max(results[1:], key=lambda r: r["tokens_per_s"])
    ratio = best["tokens_per_s"] / base["tokens_per_s"]
    free = results[1]  # same batches as padded, so the same loss; length-grouped reorders batches
    same = abs(free["first_loss"] - base["first_loss"]) < 1e-3 * max(1.0, abs(base["first_loss"]))
    print(f"padding-free first loss agrees with padded: {same}")
    print(f"summary: fastest={best['variant']} ratio: {ratio:.2f} (target >= 1.3) "
          f"steps={args.steps} batch={args.batch_size} {'MET' if ratio >= 1.3 else 'NOT MET'}")


if __name__ == "__main__":
    main()
