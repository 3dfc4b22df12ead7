# flock /tmp/genrm-heavy.lock .venv/bin/python benchmarks/best_of_n.py [--quick] [--work runs/bench-best-of-n]
"""Best-of-n with a Bradley-Terry judge: does picking the judge's favourite of n samples help, as
seen by a second, independently trained judge?

Policy: SmolLM2-135M-Instruct (`smollm2-135m`). Judges: two BT reward models trained from the same
base on disjoint halves of the human preference pairs in ../shared/data (split by prompt, different
seeds). Held-out pairs (their prompts in neither half) give each judge's accuracy and the policy's
prompts. For every prompt the policy samples N_MAX + 1 answers (temperature 1.0, top-p 0.95);
best-of-n for n in NS is judge A's favourite among samples 0..n-1, and the "single sample" it is
compared with is the independent last sample. Reported per n: judge A's and judge B's mean score of
the chosen answer (95% CI over prompts) and judge B's win rate of the chosen answer over the single
sample (ties 0.5, Wilson 95% CI); n = 1 is the sanity row (win rate about 0.5).
Every step is cached in --work (ledger): a rerun resumes. Results: WORK/results.json + a table.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
FILES = ["alpacaeval.jsonl", "pandalm.jsonl", "autoj_pairwise.jsonl", "mtbench_human_llmbar.jsonl", "llmeval2_llmbar.jsonl"]
NS = (1, 4, 16)
FULL = {"train_pairs": 128, "eval_pairs": 48, "prompts": 16, "max_new_tokens": 40, "max_length": 192, "max_prompt_tokens": 40}
QUICK = {"train_pairs": 32, "eval_pairs": 16, "prompts": 4, "max_new_tokens": 12, "max_length": 192, "max_prompt_tokens": 40}
TRAIN = {"learning_rate": 1e-4, "num_train_epochs": 1, "per_device_train_batch_size": 8, "freeze_layers": 22,
         "warmup_steps": 0.1, "disable_tqdm": True}


def split_data(settings: dict, seed: int = 0):
    """(half A, half B, held-out pairs) with no prompt shared between any two of them."""
    from genrm.data.pairs import load_pairs

    def chars(p, side):  # ~3 characters per token keeps a pair under max_length without tokenizing
        return sum(len(m["content"]) for m in p.prompt) + len(getattr(p, side + "_text"))

    pairs = [p for f in FILES for p in load_pairs(DATA / f)
             if max(chars(p, "chosen"), chars(p, "rejected")) <= 3 * settings["max_length"]]
    by_prompt: dict[str, list] = {}
    for p in pairs:
        by_prompt.setdefault(json.dumps(p.prompt), []).append(p)
    keys = sorted(by_prompt)
    random.Random(seed).shuffle(keys)
    held, half_a, half_b = [], [], []
    for k in keys:
        group = by_prompt[k]
        if len(held) < settings["eval_pairs"] and len(group[0].prompt) == 1 and len(group[0].prompt[0]["content"]) <= 4 * settings["max_prompt_tokens"]:
            held.append(group[0])
        elif len(half_a) <= len(half_b):
            half_a += group
        else:
            half_b += group
    return half_a, half_b, held


def best_of_n_rows(scores_a: list[list[float]], scores_b: list[list[float]], ns=NS) -> list[dict]:
    """Per n: judge A picks among samples 0..n-1; judge B compares the pick with the last sample."""
    from genrm.policy.bon import mean_ci
    from genrm.stats import wilson

    rows = []
    for n in ns:
        pick_a, pick_b, wins, soft = [], [], [], []
        for a, b in zip(scores_a, scores_b):
            if len(a) < n + 1:
                raise ValueError(f"need {n + 1} samples per prompt for n={n}, have {len(a)}")
            best = max(range(n), key=lambda i: (a[i], -i))
            base = len(a) - 1
            pick_a.append(a[best])
            pick_b.append(b[best])
            d = b[best] - b[base]
            wins.append(1.0 if d > 0 else 0.0 if d < 0 else 0.5)
            soft.append(1 / (1 + math.exp(-d)))
        low, high = wilson(sum(wins) / len(wins), len(wins))
        rows.append({"n": n, "prompts": len(wins), "judge_a_score": mean_ci(pick_a), "judge_b_score": mean_ci(pick_b),
                     "win_rate_b": sum(wins) / len(wins), "win_rate_b_ci95": [low, high], "mean_p_b": mean_ci(soft)})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run in a few minutes")
    parser.add_argument("--work", default=None, help="work directory (cached steps; default runs/bench-best-of-n[-quick])")
    parser.add_argument("--policy", default="smollm2-135m")
    args = parser.parse_args()
    settings = QUICK if args.quick else FULL
    work = Path(args.work or f"runs/bench-best-of-n{'-quick' if args.quick else ''}")

    from genrm import load_judge
    from genrm.generation.base import SamplingParams, load_generator
    from genrm.policy.bon import PromptRow, pointwise_scores
    from genrm.runs import RunDir, atomic_write_json, read_jsonl
    from genrm.train.bt import train_bt

    run = RunDir(work)
    run.save_config({**settings, "policy": args.policy, "train": TRAIN, "files": FILES, "ns": list(NS)})
    t0 = time.time()
    half_a, half_b, held = split_data(settings)
    print(f"data: half A {len(half_a)} pairs, half B {len(half_b)}, held out {len(held)} (prompts: first {settings['prompts']})", flush=True)

    judges = {}
    for name, half, seed in (("a", half_a, 1), ("b", half_b, 2)):
        step = f"judge-{name}"
        if not run.is_done(step):
            train = random.Random(seed).sample(half, min(settings["train_pairs"], len(half)))
            print(f"training judge {name.upper()} on {len(train)} pairs ...", flush=True)
            ckpt = train_bt(args.policy, train, run / step, {**TRAIN, "seed": seed, "max_length": settings["max_length"]},
                            eval_pairs=held)
            pooled = json.loads((run / step / "eval" / "results.json").read_text())["pooled"]
            run.mark_done(step, {"checkpoint": str(ckpt), **pooled})
        judges[name] = run.result(step)
        print(f"judge {name.upper()}: held-out accuracy {judges[name]['accuracy']:.3f} (n={judges[name]['n']})", flush=True)

    prompts = [PromptRow(id=p.id, messages=p.prompt) for p in held[: settings["prompts"]]]
    samples_path = run / "samples.jsonl"
    if not run.is_done("samples"):
        generator = load_generator(args.policy, "hf", batch_size=2)
        params = SamplingParams(n=max(NS) + 1, temperature=1.0, top_p=0.95, max_new_tokens=settings["max_new_tokens"], seed=0)
        print(f"sampling {params.n} answers for {len(prompts)} prompts ...", flush=True)
        t = time.time()
        out = generator.generate([p.messages for p in prompts], params, progress=True)
        rows = [{"id": p.id, "prompt": p.messages, "samples": [c.text for c in cands], "tokens": [c.num_tokens for c in cands]}
                for p, cands in zip(prompts, out)]
        samples_path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        run.mark_done("samples", {"seconds": time.time() - t, "tokens": sum(sum(r["tokens"]) for r in rows)})
        del generator
    rows = read_jsonl(samples_path)

    scores = {}
    for name in ("a", "b"):
        step = f"scores-{name}"
        if not run.is_done(step):
            judge = load_judge(judges[name]["checkpoint"])
            flat = pointwise_scores(judge, [r["prompt"] for r in rows for _ in r["samples"]],
                                    [s for r in rows for s in r["samples"]], batch_size=8, progress=True)
            k = len(rows[0]["samples"])
            run.mark_done(step, [flat[i:i + k] for i in range(0, len(flat), k)])
        scores[name] = run.result(step)

    table = best_of_n_rows(scores["a"], scores["b"])
    length = judges["a"]["length_baseline"]  # "pick the longer answer" on the same held-out pairs
    results = {"settings": settings, "policy": args.policy, "judges": judges, "length_baseline": length, "rows": table,
               "sampling": run.result("samples"), "seconds": time.time() - t0}
    atomic_write_json(run / "results.json", results)
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"best-of-n, {args.policy}, {len(rows)} prompts; judge A picks, judge B (independent) checks")
    for col in ("n", "judge A score of pick [95% CI]", "judge B score of pick [95% CI]", "B win rate vs 1 sample [95% CI]", "B mean p"):
        t.add_column(col)
    ci = lambda s: f"{s['mean']:.3f} [{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}]"
    for r in table:
        t.add_row(str(r["n"]), ci(r["judge_a_score"]), ci(r["judge_b_score"]),
                  f"{r['win_rate_b']:.3f} [{r['win_rate_b_ci95'][0]:.3f}, {r['win_rate_b_ci95'][1]:.3f}]", f"{r['mean_p_b']['mean']:.3f}")
    Console().print(t)
    print(f"judge held-out accuracy: A {judges['a']['accuracy']:.3f} {judges['a']['ci95']}, B {judges['b']['accuracy']:.3f} "
          f"{judges['b']['ci95']} (n={judges['a']['n']}; longer-answer baseline {length:.3f}); results: {run / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
