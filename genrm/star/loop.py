"""The STaR loop: shard -> sample -> mark -> (rationalize) -> build set -> train -> evaluate, resumable
(method grpo: shard -> prompts -> GRPO, which samples from the model it trains -> evaluate).

Run directory:
  config.yaml, ledger.json        resolved config (StarConfig); finished steps (runs.RunDir)
  pairs.json                      the training shards and evaluation sets, fixed at the start
  iter-0/eval/NAME/               the starting model's evaluation (eval_baseline)
  iter-I/samples.jsonl            K rationales per pair and order, marked correct/incorrect
  iter-I/hints.jsonl              rationalize: hinted rationales for prompts with no correct sample
  iter-I/dataset.json             the SFT examples or DPO pairs trained on (balanced: `balance`; under
                                  "pair" each unit's two orders consecutive); grpo: the judge prompts
                                  with their answers (GRPO samples inside training: no samples.jsonl)
  iter-I/train/checkpoint         HF checkpoint + CoT judge card
  iter-I/eval/NAME/               genrm.eval.evaluate of each evaluation set (journal, results.json, report)
  metrics.json, accuracy.png      per-iteration figures ("iterations": one entry per finished iteration)
Every step is recorded in the ledger when finished; a resumed run skips finished steps, and
sampling / evaluation continue from the rows already journaled.

Launched (`accelerate launch ... -m genrm.cli star ...` on every node, or torchrun) every process
runs this loop: sampling and evaluation are split across the processes (samples.sample_across,
eval's sharded judging), training runs in all of them under the launcher's DeepSpeed / FSDP / DDP
setting, and only the main process writes the config, ledger, data sets and metrics (each write
followed by a barrier before anyone reads it). The run directory must be on a file system that every
node sees. `launch` (the training step alone under a launcher started from a 1-process loop) is for
that single-process loop only.
"""
from __future__ import annotations

import json
import random
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from genrm.config import ConfigError, to_dict
from genrm.distributed import is_main_process, wait_for_everyone, world_size
from genrm.generation.base import GeneratorSlot
from genrm.runs import RunDir, atomic_write_json
from genrm.star import samples as S
from genrm.star.config import StarConfig, resolve_config
from genrm.types import EvalResult, PreferencePair

HELD_OUT = "held-out"


def run_star(out: str | Path, method: str | None = None, model: str | None = None,
             train_pairs: Sequence[PreferencePair] | None = None, eval_pairs: Sequence[PreferencePair] | None = None,
             config: dict | None = None, resume: bool = False, progress: bool = True,
             eval_sets: dict[str, Sequence[PreferencePair]] | None = None,
             baseline: dict[str, EvalResult] | None = None) -> dict:
    """Run (or resume) a STaR loop in `out`; returns the metrics dict ("iterations": one entry per
    finished iteration, "baseline": the starting model's evaluation). `eval_pairs` is the held-out
    set, `eval_sets` more named sets; `baseline` gives the starting model's results on them when
    they were computed elsewhere (the demo's zero-shot CoT row), instead of evaluating again."""
    run = RunDir(out)
    if resume:
        cfg = resolve_config(run.load_config())
        check_launch_setting(cfg)
    else:
        if run.ledger():
            raise ConfigError(f"{run.path} already holds a STaR run; resume it (genrm star --resume {run.path}) "
                              "or choose another --out")
        given = dict(config or {})
        given.update({k: v for k, v in (("method", method), ("model", model)) if v is not None})
        cfg = resolve_config(given)
        check_launch_setting(cfg)
        wait_for_everyone()  # every process has looked at the ledger before the main one writes
        main_writes(lambda: run.save_config(to_dict(cfg)))
    shards, sets = prepare(run, cfg, train_pairs, eval_pairs, eval_sets)
    pairs = {p.id: p for shard in shards for p in shard}
    metrics = {"method": cfg.method, "model": cfg.model, "iterations": []}
    with GeneratorSlot(lambda model: generator_for(model, cfg)) as slot:
        if baseline is not None:
            metrics["baseline"] = {name: summary(result) for name, result in baseline.items()}
        elif cfg.eval_baseline and sets:
            metrics["baseline"] = step(run, "iter-0/eval",
                                       lambda: evaluate_sets(slot, cfg.model, sets, run / "iter-0/eval", cfg, progress))
        current = cfg.model
        for i in range(1, cfg.iterations + 1):
            shard = shards[(i - 1) % len(shards)]
            entry = iteration(run, cfg, i, current, shard, pairs, sets, progress, slot)
            current = entry["checkpoint"]
            metrics["iterations"].append(entry)
            main_writes(lambda: write_metrics(run, metrics))
    main_writes(lambda: write_metrics(run, metrics))
    return metrics


def check_launch_setting(cfg: StarConfig) -> None:
    if cfg.launch and world_size() > 1:
        raise ConfigError(f"launch={cfg.launch!r}, but genrm star already runs under a launcher ({world_size()} "
                          "processes), which trains in every process under its own configuration: drop the setting (launch=null)")


def main_writes(write) -> None:
    """`write()` in the main process only, then a barrier: after it every process may read the result."""
    if is_main_process():
        write()
    wait_for_everyone()


def step(run: RunDir, name: str, fn):
    """Run `fn` unless the ledger says `name` is finished; record its result (and seconds). Launched,
    every process runs `fn` (each its share of a sampling or evaluation step), the main process
    records its result, and every process returns the recorded result."""
    done = run.is_done(name)
    wait_for_everyone()  # every process has read the ledger before the main one writes this step
    if done:
        return run.result(name)
    start = time.time()
    result = fn()
    if isinstance(result, dict):
        result = {**result, "seconds": round(time.time() - start, 1)}
    main_writes(lambda: run.mark_done(name, result))
    return run.result(name)


# ---------------------------------------------------------------- data


def prepare(run: RunDir, cfg: StarConfig, train_pairs, eval_pairs, eval_sets) -> tuple[list[list[PreferencePair]], dict]:
    """Training shards and evaluation sets, fixed in pairs.json at the start of the run."""
    def build():
        train = list(train_pairs) if train_pairs is not None else load(cfg.data, cfg.data_split, "data")
        rng = random.Random(cfg.seed)
        rng.shuffle(train)
        sets = {}
        if eval_pairs is not None:
            sets[HELD_OUT] = list(eval_pairs)
        elif cfg.eval_data:
            sets[HELD_OUT] = load(cfg.eval_data, None, "eval_data")
        elif cfg.eval_fraction:
            cut = max(1, int(len(train) * cfg.eval_fraction))
            sets[HELD_OUT], train = train[:cut], train[cut:]
        sets.update({name: list(pairs) for name, pairs in (eval_sets or {}).items()})
        for name, source in cfg.benches.items():
            sets[name] = load(source, None, f"benches.{name}")
        dropped = {}
        train, dropped["train"] = fit(train, cfg)
        for name, kept in list(sets.items()):
            sets[name], dropped[name] = fit(kept, cfg)
        train = train[: cfg.max_train_pairs] if cfg.max_train_pairs else train
        sets = {k: (v[: cfg.max_eval_pairs] if cfg.max_eval_pairs else v) for k, v in sets.items()}
        n = cfg.shards
        if len(train) < n:
            raise ConfigError(f"{len(train)} training pairs left after filtering: fewer than shards={n}")
        bounds = [round(len(train) * k / n) for k in range(n + 1)]
        shards = [[p.to_dict() for p in train[bounds[k]:bounds[k + 1]]] for k in range(n)]
        main_writes(lambda: atomic_write_json(run / "pairs.json", {"shards": shards, "eval": {k: [p.to_dict() for p in v] for k, v in sets.items()}}))
        return {"train_pairs": len(train), "shard_sizes": [len(s) for s in shards],
                "eval_pairs": {k: len(v) for k, v in sets.items()}, "dropped_too_long": dropped}

    step(run, "prepare", build)
    stored = json.loads((run / "pairs.json").read_text())
    shards = [[PreferencePair(**p) for p in shard] for shard in stored["shards"]]
    return shards, {k: [PreferencePair(**p) for p in v] for k, v in stored["eval"].items()}


def load(source, split, key: str) -> list[PreferencePair]:
    from genrm.data.pairs import load_pairs

    if not source:
        raise ConfigError(f"no '{key}' given: pass --data (or pairs to run_star)")
    return list(load_pairs(source, split=split))


def fit(pairs: list[PreferencePair], cfg: StarConfig) -> tuple[list[PreferencePair], int]:
    """(pairs whose CoT judge prompt fits in both orders, how many were dropped). The limit is
    max_prompt_tokens (a filter: longer pairs are dropped and counted), else the model's context
    less the longest rationale sampled (genrm.data.lengths: a located error, or with over_length: skip
    dropped and counted)."""
    from genrm.data.lengths import apply_policy, model_limit, too_long
    from genrm.judges.prompts import judge_messages
    from genrm.models import load_tokenizer

    tok = load_tokenizer(cfg.model)
    reserve = max(cfg.sampling.max_new_tokens, cfg.eval.max_new_tokens)
    limit = cfg.max_prompt_tokens or model_limit(cfg.model, tok, reserve)
    over = too_long(tok, pairs, [[(judge_messages(p, first, cfg.template), True) for first in (True, False)]
                                 for p in pairs], limit)
    kept, _ = apply_policy(pairs, over, "skip" if cfg.max_prompt_tokens else cfg.over_length)
    return kept, len(over)


# ---------------------------------------------------------------- one iteration


def generator_for(model: str, cfg: StarConfig):
    from genrm.generation.base import sampling_generator

    return sampling_generator(model, cfg.sampling)


def sampling_params(cfg: StarConfig):
    from genrm.generation.base import SamplingParams

    s = cfg.sampling
    return SamplingParams(temperature=s.temperature, top_p=s.top_p, max_new_tokens=s.max_new_tokens, seed=cfg.seed)


def iteration(run: RunDir, cfg: StarConfig, i: int, current: str, shard: list[PreferencePair], pairs: dict,
              sets: dict, progress: bool, slot: GeneratorSlot) -> dict:
    """One iteration. `slot` holds the generator from step to step: the last evaluation's engine
    samples (same weights), it sleeps or closes before training, and takes the new checkpoint's
    weights for the evaluation where the backend can (GeneratorSlot)."""
    if run.is_done(f"iter-{i}"):
        return run.result(f"iter-{i}")
    here, method = run / f"iter-{i}", cfg.method

    def generator():
        """The sampling generator on `current`; its batch size is the prompts per call (None: the
        whole shard per call, samples.SCHEDULED_CHUNK)."""
        return slot.get(current)

    def sample():
        rows = S.sample_across(generator, S.plan(shard, cfg.both_orders, cfg.seed), cfg.samples, sampling_params(cfg),
                               here / "samples.jsonl", template=cfg.template, progress=progress,
                               force_verdict=cfg.force_verdict)
        return {"pairs_sampled": len(shard), "processes": world_size(), **S.summarize(rows)}

    if method == "grpo":  # GRPO samples inside training, from the model being trained
        sampled, rows = {}, []
    else:
        sampled = step(run, f"iter-{i}/sample", sample)
        rows = [r for r in S.read_samples(here / "samples.jsonl") if r["index"] < cfg.samples]  # (a sibling run may have drawn more)

    def rationalize():
        targets = [(pairs[pid], order) for pid, order in S.unsolved(rows)]
        hinted = S.sample_across(generator, targets, cfg.hint_samples, sampling_params(cfg), here / "hints.jsonl",
                                 template=cfg.template, hinted=True, progress=progress,
                                 force_verdict=cfg.force_verdict) if targets else []
        return {"unsolved_prompts": len(targets), "hinted_samples": len(hinted),
                "rationalized": len(S.sft_examples(pairs, hinted, cfg.template))}

    hints = step(run, f"iter-{i}/rationalize", rationalize) if method == "rationalize" else {}
    slot.free()  # before training, the sampling model's memory (a vLLM engine: asleep, else shut down) is freed

    def dataset():
        info = {}
        if method == "grpo":
            prompts = S.grpo_prompts(shard, cfg.both_orders, cfg.seed + i, cfg.template)
            main_writes(lambda: atomic_write_json(here / "dataset.json", S.to_records(prompts)))
            return {"grpo_prompts": len(prompts)}
        if method == "dpo":
            examples, info["rejected_used"] = S.dpo_examples(pairs, rows, cfg.dpo_pairs_per_prompt, cfg.seed + i,
                                                             cfg.dpo_rejects, cfg.template, cfg.loss_on)
        else:
            examples = S.sft_examples(pairs, rows, cfg.template, cfg.loss_on)
            if method == "rationalize":
                examples += S.sft_examples(pairs, S.read_samples(here / "hints.jsonl"), cfg.template, cfg.loss_on)
        kept, info["positions"] = S.balance(examples, cfg.balance, cfg.seed + i)
        main_writes(lambda: atomic_write_json(here / "dataset.json", S.to_records(kept)))
        return {("dpo_pairs" if method == "dpo" else "kept_examples"): len(kept), **info}

    built = step(run, f"iter-{i}/dataset", dataset)
    trained = step(run, f"iter-{i}/train", lambda: launch_train(run, cfg, i, current))
    checkpoint = trained["checkpoint"]
    evaluated = step(run, f"iter-{i}/eval", lambda: evaluate_sets(slot, checkpoint, sets, here / "eval", cfg, progress))

    def fields(info: dict) -> dict:
        return {k: v for k, v in info.items() if k != "seconds"}

    entry = {"iteration": i, "checkpoint": checkpoint, **fields(sampled), **fields(hints), **fields(built),
             "train_steps": trained.get("steps", 0), "train_loss": trained.get("loss"),
             **({"grpo": trained["grpo"]} if "grpo" in trained else {}), "eval": fields(evaluated),
             "seconds": {"sample": sampled.get("seconds"), "rationalize": hints.get("seconds"),
                         "train": trained.get("seconds"), "eval": evaluated.get("seconds")}}
    if trained.get("skipped"):
        entry["skipped_training"] = trained["skipped"]
    main_writes(lambda: run.mark_done(f"iter-{i}", entry))
    return entry


def launch_train(run: RunDir, cfg: StarConfig, i: int, current: str) -> dict:
    """Train in this process, or (config `launch`) in a child launched with e.g. `accelerate launch`
    across GPUs and nodes; the child's main process writes the step's result file."""
    if not cfg.launch:
        return train(run, cfg, i, current)
    import shlex
    import subprocess

    result = run / f"iter-{i}/train/result.json"
    result.unlink(missing_ok=True)
    command = shlex.split(cfg.launch) + ["-m", "genrm.star.loop", str(run.path), str(i), current]
    print("genrm: " + " ".join(command), flush=True)
    subprocess.run(command, check=True)
    return json.loads(result.read_text())


def judge_card(cfg: StarConfig, i: int) -> dict:
    """The CoT judge card of an iteration's checkpoint: the judge it is evaluated (and reloaded) as."""
    e = cfg.eval
    return {"kind": "cot", "template": cfg.template, "votes": e.votes, "adaptive": e.adaptive,
            "both_orders": cfg.both_orders, "force_verdict": cfg.force_verdict, "max_new_tokens": e.max_new_tokens,
            "temperature": e.temperature, "top_p": e.top_p,
            "star": {"method": cfg.method, "iteration": i, "balance": cfg.balance, "loss_on": cfg.loss_on}}


def train(run: RunDir, cfg: StarConfig, i: int, current: str) -> dict:
    """Train on this iteration's set (or, with restart_from_base, on every set so far from the base)."""
    from genrm.train.common import losses, steps_done

    here = run / f"iter-{i}"
    records = json.loads((here / "dataset.json").read_text())
    start = current
    if cfg.restart_from_base:
        start = cfg.model
        records = [r for k in range(1, i) for r in json.loads((run / f"iter-{k}/dataset.json").read_text())] + records
    if not records:
        return {"checkpoint": current, "steps": 0, "loss": None, "skipped": "no training examples"}
    unit = 2 if cfg.balance == "pair" else 1  # a pair's two orders share a batch
    if cfg.method == "grpo":
        return train_grpo_step(cfg, i, start, records, here / "train")
    if cfg.method == "dpo":
        from genrm.train.dpo import train_dpo

        path = train_dpo(start, S.dpo_from_records(records), here / "train", cfg.train, judge_card(cfg, i), unit)
    else:
        from genrm.train.sft import train_sft

        path = train_sft(start, S.sft_from_records(records), here / "train", cfg.train, judge_card(cfg, i), unit)
    release_training_memory()
    logged = losses(here / "train")
    return {"checkpoint": str(path), "steps": steps_done(here / "train"), "loss": [logged[0], logged[-1]] if logged else None}


def train_grpo_step(cfg: StarConfig, i: int, start: str, records: list[dict], out: Path) -> dict:
    """GRPO on the iteration's prompts, sampling with the run's sampling settings; the result adds
    what was sampled (completions, model-drawn tokens, forced verdicts) and the mean reward terms logged."""
    from dataclasses import asdict

    from genrm.train.common import losses, steps_done
    from genrm.train.grpo import train_grpo

    s = cfg.sampling
    config = {**cfg.train, "num_generations": cfg.samples, "max_completion_length": s.max_new_tokens,
              "temperature": s.temperature, "top_p": s.top_p}
    weights = asdict(cfg.rewards)
    if not cfg.both_orders:
        weights["consistency"] = 0.0  # no pair is sampled in both orders
    path, budget = train_grpo(start, S.grpo_from_records(records), out, config, judge_card(cfg, i), weights,
                              cfg.force_verdict, cfg.seed + i)
    release_training_memory()
    log = json.loads((out / "train_log.json").read_text()) if (out / "train_log.json").is_file() else []
    terms = {k: [e[k] for e in log if k in e] for k in ("reward", "rewards/correct/mean", "rewards/consistency/mean",
                                                          "rewards/format/mean", "kl")}
    logged = losses(out)
    return {"checkpoint": str(path), "steps": steps_done(out), "loss": [logged[0], logged[-1]] if logged else None,
            "grpo": {**asdict(budget), "logged": {k: [v[0], v[-1]] for k, v in terms.items() if v}}}


def release_training_memory() -> None:
    """Collect the finished trainer (its model, optimizer and engine hold reference cycles) and return
    the cached GPU memory, so the sampling engine woken next (launched: in this same process) has it."""
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


# ---------------------------------------------------------------- evaluation


def cot_judge(generator, model: str, cfg: StarConfig):
    """The CoT judge a STaR run evaluates with: its eval settings, `generator` holding `model`."""
    from genrm.judges.cot import CoTJudge

    e = cfg.eval
    return CoTJudge(generator, votes=e.votes, max_new_tokens=e.max_new_tokens, temperature=e.temperature,
                    top_p=e.top_p, both_orders=cfg.both_orders, adaptive=e.adaptive, seed=cfg.seed,
                    force_verdict=cfg.force_verdict, name=model, template=cfg.template)


def summary(result: EvalResult) -> dict:
    return {**asdict(result.pooled), "results": None}


def evaluate_sets(slot: GeneratorSlot, model: str, sets: dict, directory: Path, cfg: StarConfig, progress: bool) -> dict:
    """The CoT judge of `model` (the slot's generator) on every evaluation set through
    genrm.eval.evaluate (journaled in directory/NAME, so a killed evaluation resumes); {name: pooled
    Score as a dict}. The generator stays in the slot: the next iteration samples with it."""
    from genrm.eval.runner import evaluate

    if not sets:
        return {}
    judge = cot_judge(slot.get(model), model, cfg)
    out = {}
    for name, pairs in sets.items():
        result = evaluate(judge, pairs, out=directory / name, batch_size=cfg.eval.batch_size, progress=progress,
                          model=model)
        out[name] = {**asdict(result.pooled), "results": str(directory / name / "results.json")}
    return out


def write_metrics(run: RunDir, metrics: dict) -> None:
    from genrm.eval.report import chart, iteration_panel

    atomic_write_json(run / "metrics.json", metrics)
    chart([iteration_panel(metrics, f"STaR-{metrics['method']} on {metrics['model']}")], run / "accuracy.png")


if __name__ == "__main__":  # the training step under a launcher: python -m genrm.star.loop RUN ITERATION MODEL
    import os
    import sys

    _run = RunDir(sys.argv[1])
    _result = train(_run, resolve_config(_run.load_config()), int(sys.argv[2]), sys.argv[3])
    if os.environ.get("RANK", "0") == "0":
        atomic_write_json(_run / f"iter-{sys.argv[2]}/train/result.json", _result)
