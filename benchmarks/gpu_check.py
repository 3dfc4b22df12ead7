"""python benchmarks/gpu_check.py [--model smollm2-135m] [--pairs 32] [--steps 24] [--out runs/gpu_check] [--allow-cpu]

The first thing to run on a GPU machine (offline, a few minutes on one GPU): does genrm do there what
its users need? One table, and a non-zero exit when a check fails:

- BT and GenRM training in the default precision (fp32 weights, bf16 autocast on GPUs): the loss
  falls and the trained weights move (share of parameters changed), seconds and peak GPU memory;
- the indicator judge: pairs per second and peak GPU memory;
- CoT judging through transformers and through vLLM (when vllm is installed): greedy verdicts
  agree, and the speed ratio;
- STaR-GRPO a few steps, with genrm's forced-verdict rollout and with TRL's generation on vLLM
  colocated with training: completions counted, KL computed, weights moved;
- one vLLM engine put to sleep and woken with another checkpoint's weights (what STaR does between
  iterations): its greedy rationales equal a fresh engine's on that checkpoint;
- with 2 or more GPUs visible: a 2-process ZeRO-3 training (every parameter partitioned) whose saved
  checkpoint equals a 1-process run's within 1e-4 (tests/test_sharded.py does the same on CPU).

Results also go to OUT/gpu_check.json. `--allow-cpu` runs it on a CPU (a smoke test of the script
itself, slow; the vLLM and ZeRO-3 rows are then skipped).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent


def peak_gib() -> float | None:
    return round(torch.cuda.max_memory_allocated() / 2**30, 2) if torch.cuda.is_available() else None


def reset_peak() -> None:
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


FROZEN = 26  # bottom blocks frozen in the training checks (of SmolLM2-135M's 30): the top 4 and the head train


def changed_share(base_dir: str, checkpoint: Path, frozen: int = FROZEN) -> float:
    """The share of the trained blocks' weights (blocks from `frozen` up, and the final norm) that moved."""
    import re

    from safetensors.torch import load_file

    base, trained = load_file(Path(base_dir) / "model.safetensors"), load_file(checkpoint / "model.safetensors")

    def is_trained(name: str) -> bool:
        block = re.search(r"layers\.(\d+)\.", name)
        return (block is not None and int(block.group(1)) >= frozen) or name.endswith("model.norm.weight")

    names = [n for n in base if n in trained and is_trained(n)]
    changed = sum(int((trained[n] != base[n].to(trained[n].dtype)).sum()) for n in names)
    return changed / max(1, sum(base[n].numel() for n in names))


def train_check(method: str, model: str, pairs: list, work: Path, steps: int) -> dict:
    """Train a few steps in the default precision (top 4 blocks), as a GPU recipe would."""
    from genrm.models import resolve_model
    from genrm.train.common import losses

    trainer = {"bt": ("genrm.train.bt", "train_bt"), "genrm": ("genrm.train.genrm", "train_genrm")}[method]
    train = getattr(__import__(trainer[0], fromlist=[trainer[1]]), trainer[1])
    reset_peak()
    start = time.time()
    checkpoint = train(model, pairs, work / method, {"max_steps": steps, "learning_rate": 5e-5, "warmup_steps": 0,
                                                     "per_device_train_batch_size": 8, "logging_steps": 1,
                                                     "freeze_layers": FROZEN, "disable_tqdm": True})
    seconds = time.time() - start
    history = losses(work / method)
    moved = changed_share(resolve_model(model), checkpoint)
    quarter = max(1, len(history) // 4)
    falls = sum(history[-quarter:]) / quarter < sum(history[:quarter]) / quarter
    ok = falls and moved > 0.3
    return {"check": f"{method} training, default precision", "ok": ok,
            "figure": f"loss {history[0]:.3f} -> {history[-1]:.3f}, {100 * moved:.0f}% of the top blocks' weights moved",
            "seconds": round(seconds, 1), "peak_gpu_gib": peak_gib()}


def grpo_check(model: str, pairs: list, work: Path, steps: int, use_vllm: bool) -> dict:
    """STaR-GRPO training a few steps: genrm's forced-verdict rollout on transformers, or TRL's own
    generation on vLLM colocated with training (the paper-scale recipe's path). The reward is logged,
    KL to the reference is computed and the weights move."""
    from importlib.util import find_spec

    from genrm.models import resolve_model
    from genrm.star.samples import grpo_prompts
    from genrm.train.grpo import train_grpo

    if use_vllm and not (find_spec("vllm") and torch.cuda.is_available()):
        return {"check": "STaR-GRPO, TRL vLLM colocate", "ok": None, "figure": "vllm or a GPU missing"}
    name = "STaR-GRPO, TRL vLLM colocate" if use_vllm else "STaR-GRPO, forced-verdict rollout"
    config = {"max_steps": steps, "learning_rate": 5e-5, "warmup_steps": 0, "per_device_train_batch_size": 8,
              "logging_steps": 1, "freeze_layers": FROZEN, "disable_tqdm": True, "beta": 0.04, "shuffle_dataset": False,
              "num_generations": 4, "max_completion_length": 32, "temperature": 1.0,
              **({"use_vllm": True, "vllm_mode": "colocate", "vllm_gpu_memory_utilization": 0.3} if use_vllm else {})}
    reset_peak()
    start = time.time()
    checkpoint, budget = train_grpo(model, grpo_prompts(pairs, True, 0, "cot-compact"), work / name.split(",")[1].strip(),
                                    config, {"kind": "cot"}, {"correct": 1.0, "consistency": 0.5, "format": 0.1},
                                    force_verdict=not use_vllm)
    seconds = time.time() - start
    log = json.loads((checkpoint.parent / "train_log.json").read_text())
    kl = [e["kl"] for e in log if "kl" in e]
    moved = changed_share(resolve_model(model), checkpoint)
    ok = budget.completions == steps * 8 and bool(kl) and kl[-1] > 0 and moved > 0.3
    return {"check": name, "ok": ok, "seconds": round(seconds, 1), "peak_gpu_gib": peak_gib(),
            "figure": f"{budget.completions} completions ({budget.forced} forced), {budget.sampled_tokens} tokens; "
                      f"last KL {kl[-1] if kl else float('nan'):.2e}; {100 * moved:.0f}% of the top blocks' weights moved"}


def indicator_check(model: str, pairs: list) -> dict:
    from genrm.judges.base import load_judge

    judge = load_judge(model, kind="genrm")
    judge.judge(pairs[:4], batch_size=16)  # warm-up
    reset_peak()
    start = time.time()
    judgments = judge.judge(pairs, batch_size=32)
    seconds = time.time() - start
    ok = len(judgments) == len(pairs) and all(0 <= j.p_chosen <= 1 for j in judgments)
    return {"check": "indicator judge (both orders)", "ok": ok, "figure": f"{len(pairs) / seconds:.1f} pairs/s",
            "seconds": round(seconds, 1), "peak_gpu_gib": peak_gib()}


def cot_check(model: str, pairs: list) -> list[dict]:
    """Greedy CoT verdicts through transformers and vLLM: agreement and speed."""
    from importlib.util import find_spec

    from genrm.judges.base import load_judge

    options = {"kind": "cot", "votes": 1, "temperature": 0.0, "max_new_tokens": 64, "adaptive": False}
    timed, verdicts = {}, {}
    backends = ["hf"] + (["vllm"] if find_spec("vllm") and torch.cuda.is_available() else [])
    for backend in backends:
        extra = {"gpu_memory_utilization": 0.3} if backend == "vllm" else {}
        judge = load_judge(model, backend=backend, **options, **extra)
        reset_peak()
        start = time.time()
        judgments = judge.judge(pairs, batch_size=32)
        timed[backend] = time.time() - start
        verdicts[backend] = [j.verdict for j in judgments]
        close = getattr(getattr(judge, "generator", None), "close", None)
        if callable(close):
            close()
        del judge
    rows = [{"check": "CoT judge, transformers (greedy, 64 tokens)", "ok": True,
             "figure": f"{len(pairs) / timed['hf']:.2f} pairs/s", "seconds": round(timed["hf"], 1), "peak_gpu_gib": peak_gib()}]
    if "vllm" not in timed:
        rows.append({"check": "CoT judge, vLLM vs transformers", "ok": None, "figure": "skipped: vllm or CUDA missing"})
        return rows
    agree = sum(a == b for a, b in zip(verdicts["hf"], verdicts["vllm"])) / len(pairs)
    rows.append({"check": "CoT judge, vLLM vs transformers", "ok": agree >= 0.9,
                 "figure": f"greedy verdicts agree on {100 * agree:.0f}%, vLLM {timed['hf'] / timed['vllm']:.1f}x faster",
                 "seconds": round(timed["vllm"], 1)})
    return rows


def zero3_check(work: Path) -> dict:
    """2-process ZeRO-3 (threshold 0) vs 1 process on 2 GPUs: equal saved weights."""
    if torch.cuda.device_count() < 2:
        return {"check": "ZeRO-3 save round trip (2 GPUs)", "ok": None, "figure": f"skipped: {torch.cuda.device_count()} GPU visible"}
    sys.path.insert(0, str(ROOT / "tests"))
    from conftest import save_tiny
    from test_distributed import write_pairs

    tiny, data = save_tiny(work / "tiny"), write_pairs(work / "pairs.jsonl")
    zero = {"zero_optimization": {"stage": 3, "stage3_param_persistence_threshold": 0,
                                  "stage3_gather_16bit_weights_on_model_save": True},
            "train_micro_batch_size_per_gpu": "auto", "gradient_accumulation_steps": "auto", "train_batch_size": "auto",
            "gradient_clipping": "auto", "bf16": {"enabled": False}}
    (work / "ds.json").write_text(json.dumps(zero))
    train = ["train", "bt", "--model", str(tiny), "--data", str(data), "max_steps=2", "learning_rate=1e-2",
             "warmup_steps=0", "precision=fp32"]
    accelerate = [os.path.join(os.path.dirname(sys.executable), "accelerate"), "launch", "--num_processes", "2",
                  "--use_deepspeed", "--deepspeed_config_file", str(work / "ds.json"), "--zero3_init_flag", "true"]
    start = time.time()
    for cmd in ([sys.executable, "-m", "genrm.cli", *train, "--out", str(work / "one"), "per_device_train_batch_size=4"],
                [*accelerate, "-m", "genrm.cli", *train, "--out", str(work / "two"), "per_device_train_batch_size=2"]):
        proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=600)
        if proc.returncode:
            return {"check": "ZeRO-3 save round trip (2 GPUs)", "ok": False, "figure": proc.stderr[-300:]}
    from safetensors.torch import load_file

    one, two = (load_file(work / run / "checkpoint" / "model.safetensors") for run in ("one", "two"))
    worst = max((one[k].float() - two[k].float()).abs().max().item() for k in one) if set(one) == set(two) else float("inf")
    return {"check": "ZeRO-3 save round trip (2 GPUs)", "ok": worst < 1e-4, "figure": f"max |Δ weight| {worst:.1e}",
            "seconds": round(time.time() - start, 1)}


def reload_check(model: str, pairs: list, work: Path) -> dict:
    """One vLLM engine asleep through a stand-in training step, then woken with another checkpoint's
    weights (Generator.sleep / load_weights, what STaR does between iterations): its greedy
    rationales must equal a fresh engine's on that checkpoint, and differ from the first weights'."""
    from importlib.util import find_spec

    if not (find_spec("vllm") and torch.cuda.is_available()):
        return {"check": "vLLM sleep + in-place reload", "ok": None, "figure": "skipped: vllm or CUDA missing"}
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from vllm_agreement import perturb

    from genrm.generation.base import load_generator
    from genrm.judges.cot import CoTJudge
    from genrm.models import resolve_model

    other = str(perturb(resolve_model(model), work / "perturbed"))

    def texts(generator):
        judge = CoTJudge(generator, votes=1, max_new_tokens=64, temperature=0.0, adaptive=False, force_verdict=True)
        return [t for j in judge.judge(pairs, batch_size=32) for t in j.rationales]

    with load_generator(model, "vllm", gpu_memory_utilization=0.3) as generator:
        before = texts(generator)
        slept = generator.sleep()
        free_asleep = torch.cuda.mem_get_info()[0] / 2**30
        start = time.time()
        took = generator.load_weights(other)
        seconds = time.time() - start
        reloaded = texts(generator) if took else []
    with load_generator(other, "vllm", gpu_memory_utilization=0.3) as generator:
        fresh = texts(generator)
    same = sum(a == b for a, b in zip(reloaded, fresh))
    changed = sum(a != b for a, b in zip(reloaded, before))
    return {"check": "vLLM sleep + in-place reload", "ok": slept and took and same == len(fresh) and changed > 0,
            "figure": f"slept {slept} ({free_asleep:.1f} GiB free asleep), reloaded {took} in {seconds:.1f} s: "
                      f"{same}/{len(fresh)} rationales = fresh engine, {changed} changed", "seconds": round(seconds, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[2])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--pairs", type=int, default=32)
    parser.add_argument("--out", default="runs/gpu_check")
    parser.add_argument("--steps", type=int, default=24, help="optimizer steps of each training check")
    parser.add_argument("--allow-cpu", action="store_true")
    args = parser.parse_args()
    if not torch.cuda.is_available() and not args.allow_cpu:
        print("no GPU visible (torch.cuda.is_available() is False); --allow-cpu runs the checks on the CPU")
        return 2
    from rich.console import Console

    from genrm.data.synth import make_pairs
    from genrm.eval.report import rich_table
    from genrm.logs import quiet

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = make_pairs({"train": 64, "test": args.pairs}, seed=0)
    start, rows = time.time(), []
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU"
    with tempfile.TemporaryDirectory() as tmp, quiet(out / "genrm.log"):
        work = Path(tmp)
        steps = {"bt training": lambda: [train_check("bt", args.model, data["train"], work, args.steps)],
                 "genrm training": lambda: [train_check("genrm", args.model, data["train"], work, args.steps)],
                 "indicator judge": lambda: [indicator_check(args.model, data["test"])],
                 "CoT judge": lambda: cot_check(args.model, data["test"][:16]),
                 "vLLM reload": lambda: [reload_check(args.model, data["test"][:8], work)],
                 "STaR-GRPO": lambda: [grpo_check(args.model, data["train"][:16], work, args.steps, use_vllm=False)],
                 "STaR-GRPO vLLM": lambda: [grpo_check(args.model, data["train"][:16], work, args.steps, use_vllm=True)],
                 "ZeRO-3 save": lambda: [zero3_check(work)]}
        for name, step in steps.items():
            try:
                rows += step()
            except Exception as err:  # noqa: BLE001 -- a check that crashes is a failed check, reported with the rest
                rows.append({"check": name, "ok": False, "figure": f"{type(err).__name__}: {err}"[:300]})
    mark = {True: "ok", False: "FAILED", None: "skipped"}
    table = [[r["check"], mark[r["ok"]], r["figure"], str(r.get("seconds", "")), str(r.get("peak_gpu_gib") or "")] for r in rows]
    Console().print(rich_table(["check", "result", "figure", "s", "peak GPU GiB"], table,
                               f"genrm gpu_check on {device} ({time.time() - start:.0f} s)"))
    (out / "gpu_check.json").write_text(json.dumps({"device": device, "torch": torch.__version__, "rows": rows}, indent=2))
    return 1 if any(r["ok"] is False for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
