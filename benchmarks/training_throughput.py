# .venv/bin/python benchmarks/training_throughput.py [--quick] [--steps 16] [--batch-size 8] [--data builtin|real] [--method genrm|dpo]
"""GenRM SFT training tokens/s at the demo's settings (freeze 24 of 30 blocks, compact judge template,
the built-in pairs in both orders) with TRL's defaults against genrm's choices, side by side.

`--method dpo`: STaR-DPO at the demo's settings (freeze 24, verdict-only comparison after a short
rationale, as `genrm demo` trains it): TRL's DPOTrainer as it comes (a reference copy of the model
run at every step) against `cache_frozen_layers` (the frozen bottom run once per sequence; the
reference log-probs computed once up front from it, TRL's `precompute_ref_log_probs`; the policy's
top blocks trained on it). `wall` includes that up-front work, so it is the figure for one epoch.

Variants (each in its own process, so its peak memory is its own): TRL defaults (gradient
checkpointing on; on CPU TRL's fused LM head projects every position, not only the labelled one:
`all_positions` runs train_sft without genrm's `label_positions_only`), genrm's LM head on the
labelled positions only, then cumulatively gradient checkpointing off, the frozen bottom cached (`cache_frozen_layers`:
train/cached.py), padding-free batches, length-grouped batches. tokens/s counts real (non-pad)
tokens of training steps; `wall` includes building the cache, so the cache pays off over epochs
(its cost is one forward of the bottom blocks per sequence). The first logged loss of every
variant that keeps the batches must agree with the defaults' (same data, same seed).
Why padding-free does not pay here: it needs variable-length attention kernels (FlashAttention);
on CPU, SDPA attends densely over the flattened batch, so the saved padding is spent again.
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
    "TRL defaults": {"all_positions": True},
    "labelled positions only": {},
    "no grad. checkpointing": {"activation_checkpointing": False},
    "cached frozen layers": {"cache_frozen_layers": True},
    "padding-free": {"padding_free": True, "activation_checkpointing": False},
    "length-grouped": {"train_sampling_strategy": "group_by_length", "activation_checkpointing": False},
}
SAME_BATCHES = ("labelled positions only", "no grad. checkpointing", "cached frozen layers", "padding-free")
DPO_VARIANTS = {"TRL defaults": {}, "cached frozen layers": {"cache_frozen_layers": True}}


def dpo_examples(n: int):
    from genrm.data.synth import make_pairs
    from genrm.judges.prompts import judge_messages
    from genrm.star.samples import dpo_example

    reasons = ("It follows the instruction.", "It ignores what was asked.")
    return [dpo_example(judge_messages(p, first, "cot-compact"), f"{reasons[0]}\n\nFinal verdict: [[{'A' if first else 'B'}]]",
                        f"{reasons[1]}\n\nFinal verdict: [[{'B' if first else 'A'}]]", "verdict")
            for p in make_pairs({"train": n // 2 + 1})["train"] for first in (True, False)][:n]


def run_dpo_variant(name: str, steps: int, batch_size: int, n: int) -> dict:
    import torch

    from genrm.models import load_tokenizer
    from genrm.train.dpo import tokenize, train_dpo

    torch.set_num_threads(int(os.environ.get("GENRM_THREADS", "2")))
    data = dpo_examples(n)
    rows = tokenize(load_tokenizer("smollm2-135m", side="left"), data)
    tokens = sum(2 * len(r["prompt_ids"]) + len(r["chosen_ids"]) + len(r["rejected_ids"]) for r in rows)
    config = {"max_steps": steps, "per_device_train_batch_size": batch_size, "learning_rate": 1e-5, "beta": 0.1,
              "freeze_layers": 24, "disable_tqdm": True, "logging_steps": 1, "warmup_steps": 0, **DPO_VARIANTS[name]}
    return timed(name, train_dpo, data, config, tokens)


def examples(n: int, max_tokens: int, data: str):
    from genrm.data.chat import chat_ids
    from genrm.data.pairs import load_pairs
    from genrm.data.synth import make_pairs
    from genrm.judges.prompts import judge_messages
    from genrm.models import load_tokenizer
    from genrm.train.genrm import genrm_examples

    if data == "builtin":
        return genrm_examples(make_pairs({"train": n // 2})["train"], "indicator-compact")[:n]
    tok = load_tokenizer("smollm2-135m")
    pairs = [p for p in load_pairs(DATA / "mtbench_human_llmbar.jsonl") + load_pairs(DATA / "llmeval2_llmbar.jsonl")
             if len(chat_ids(tok, [judge_messages(p, True, "indicator")])[0]) <= max_tokens]
    return genrm_examples(pairs[: n // 2], "indicator")[:n]


def run_variant(name: str, steps: int, batch_size: int, n: int, max_tokens: int, data_name: str) -> dict:
    import torch

    from genrm.models import load_tokenizer
    from genrm.train.sft import tokenize, train_sft

    torch.set_num_threads(int(os.environ.get("GENRM_THREADS", "2")))
    data = examples(n, max_tokens, data_name)
    rows, _ = tokenize(load_tokenizer("smollm2-135m"), data)
    tokens_per_epoch = sum(len(r["input_ids"]) for r in rows)
    variant = dict(VARIANTS[name])
    if variant.pop("all_positions", False):  # TRL's own CPU behaviour, for comparison
        from contextlib import nullcontext

        import genrm.train.common

        genrm.train.common.label_positions_only = nullcontext
    config = {"max_steps": steps, "per_device_train_batch_size": batch_size, "learning_rate": 1e-5,
              "freeze_layers": 24, "disable_tqdm": True, "logging_steps": 1, "warmup_steps": 0, **variant}
    return timed(name, train_sft, data, config, tokens_per_epoch * min(1.0, steps * batch_size / len(rows)))


def timed(name: str, train, data, config: dict, tokens: float) -> dict:
    """Run `train` on the embedded model in a scratch directory: its figures as one result row."""
    from genrm.train.common import losses

    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        train("smollm2-135m", data, out, config)
        seconds = time.perf_counter() - start
        log = json.loads((Path(out) / "train_log.json").read_text())
        first_loss = losses(Path(out))[0]
    runtime = next(r["train_runtime"] for r in log if "train_runtime" in r)
    return {"variant": name, "train_seconds": runtime, "wall_seconds": seconds, "tokens_per_s": tokens / runtime,
            "first_loss": first_loss, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="4 steps of batch 4")
    ap.add_argument("--steps", type=int, default=16)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=768)
    ap.add_argument("--data", default="builtin", choices=("builtin", "real"),
                    help="built-in pairs, compact template (the demo) or ../shared/data pairs, MT-Bench template")
    ap.add_argument("--method", default="genrm", choices=("genrm", "dpo"), help="GenRM SFT or STaR-DPO (module docstring)")
    ap.add_argument("--variant", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.quick:
        args.steps, args.batch_size, args.max_tokens = 4, 4, 512
    n = args.steps * args.batch_size
    if args.variant:  # child process: one variant, JSON on the last line
        result = (run_dpo_variant(args.variant, args.steps, args.batch_size, n) if args.method == "dpo" else
                  run_variant(args.variant, args.steps, args.batch_size, n, args.max_tokens, args.data))
        print(json.dumps(result))
        return
    results = []
    for name in DPO_VARIANTS if args.method == "dpo" else VARIANTS:
        cmd = [sys.executable, __file__, "--variant", name, "--steps", str(args.steps), "--data", args.data,
               "--batch-size", str(args.batch_size), "--max-tokens", str(args.max_tokens), "--method", args.method]
        proc = subprocess.run(cmd, check=False, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"variant {name} failed:\n{proc.stderr[-3000:]}")
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    base = results[0]
    print(f"{'variant':<24}{'tokens/s':>10}{'ratio':>8}{'wall s':>9}{'first loss':>12}{'peak RSS MB':>13}")
    for r in results:
        print(f"{r['variant']:<24}{r['tokens_per_s']:>10.1f}{r['tokens_per_s'] / base['tokens_per_s']:>8.2f}"
              f"{r['wall_seconds']:>9.1f}{r['first_loss']:>12.4f}{r['peak_rss_mb']:>13.0f}")
    same = all(abs(r["first_loss"] - base["first_loss"]) < 1e-3 * max(1.0, abs(base["first_loss"]))
               for r in results if r["variant"] in SAME_BATCHES)
    print(f"first loss of the variants with the same batches agrees with the defaults': {same}")
    best = max(results[1:], key=lambda r: r["tokens_per_s"])
    ratio = best["tokens_per_s"] / base["tokens_per_s"]
    what = "STaR-DPO" if args.method == "dpo" else "GenRM SFT"
    print(f"summary: {what} at the demo's settings, fastest={best['variant']} {ratio:.2f}x TRL defaults' tokens/s "
          f"(steps={args.steps} batch={args.batch_size} data={args.data}, peak RSS {best['peak_rss_mb']:.0f} MB)")


if __name__ == "__main__":
    main()
