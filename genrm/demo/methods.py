"""The demo's methods: one function per row, `(model, data, work_dir, config, earlier) -> {split:
EvalResult}`, each scored by genrm.eval.evaluate; `METHODS` maps row names to them."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from genrm.config import merge
from genrm.demo.settings import SPLITS, STAR_ROWS, STEPS, DemoConfig, MethodUnavailable
from genrm.types import EvalResult


def score_splits(judge, data: dict, work: Path, cfg: DemoConfig, model: str | None = None) -> dict[str, EvalResult]:
    from genrm.eval.runner import evaluate

    return {split: evaluate(judge, data[split], out=work / split, batch_size=cfg.eval.batch_size, model=model)
            for split in SPLITS if split in data}


def _need(module: str) -> None:
    from importlib.util import find_spec

    try:
        found = find_spec(module) is not None
    except ModuleNotFoundError:
        found = False
    if not found:
        raise MethodUnavailable(f"not available (module {module} missing)")


def cot_options(cfg: DemoConfig) -> dict:
    e = cfg.eval
    return {"votes": e.votes, "max_new_tokens": e.max_new_tokens, "temperature": e.temperature, "top_p": e.top_p,
            "adaptive": e.adaptive, "both_orders": True, "seed": 0, "force_verdict": cfg.force_verdict,
            "template": cfg.cot_template}


def length_baseline(model: str, data: dict, work: Path, cfg: DemoConfig, earlier: dict) -> dict:
    from genrm.judges.length import LengthJudge

    return score_splits(LengthJudge(), data, work, cfg)


def zero_shot(model: str, data: dict, work: Path, cfg: DemoConfig, earlier: dict) -> dict:
    from genrm.judges.base import load_judge

    return score_splits(load_judge(model, kind="genrm", template=cfg.indicator_template), data, work, cfg, model)


def zero_shot_cot(model: str, data: dict, work: Path, cfg: DemoConfig, earlier: dict) -> dict:
    _need("genrm.judges.cot")
    from genrm.judges.base import load_judge

    return score_splits(load_judge(model, kind="cot", **cot_options(cfg)), data, work, cfg, model)


def bt(model: str, data: dict, work: Path, cfg: DemoConfig, earlier: dict) -> dict:
    _need("genrm.train.bt")
    from genrm.judges.base import load_judge
    from genrm.train.bt import train_bt
    from genrm.train.common import steps_done

    checkpoint = work / "checkpoint"
    if not (checkpoint / "config.json").exists():  # a finished checkpoint whose scoring was cut off is reused
        checkpoint = train_bt(model, data["train"], work, cfg.bt)
    return {**score_splits(load_judge(str(checkpoint)), data, work, cfg, str(checkpoint)), "train_steps": steps_done(work)}


def genrm(model: str, data: dict, work: Path, cfg: DemoConfig, earlier: dict) -> dict:
    _need("genrm.train.genrm")
    from genrm.judges.base import load_judge
    from genrm.train.common import steps_done
    from genrm.train.genrm import train_genrm

    checkpoint = work / "checkpoint"
    if not (checkpoint / "config.json").exists():
        checkpoint = train_genrm(model, data["train"], work, cfg.genrm, template=cfg.indicator_template)
    return {**score_splits(load_judge(str(checkpoint), kind="genrm"), data, work, cfg, str(checkpoint)),
            "train_steps": steps_done(work)}


def star_config(method: str, cfg: DemoConfig) -> dict:
    """The STaR run of a demo row: the demo's CoT judge settings, no held-out split of its own."""
    e = cfg.eval
    return merge({"method": method, "both_orders": True, "eval_baseline": False, "eval_fraction": 0, "seed": 0,
                  "force_verdict": cfg.force_verdict, "template": cfg.cot_template,
                  "eval": {"votes": e.votes, "max_new_tokens": e.max_new_tokens, "temperature": e.temperature,
                           "top_p": e.top_p, "adaptive": e.adaptive, "batch_size": e.batch_size}},
                 merge(cfg.star, getattr(cfg, f"star_{method}")))


def _star(method: str, model: str, data: dict, work: Path, cfg: DemoConfig, earlier: dict) -> dict:
    _need("genrm.star")
    from genrm.star import run_star

    baseline = earlier.get("zero-shot CoT")
    if method != "grpo":  # GRPO samples inside training
        _share_first_samples(work)
    metrics = run_star(work, model=model, train_pairs=data["train"], config=star_config(method, cfg),
                       resume=(work / "config.yaml").exists(), progress=False,
                       eval_sets={split: data[split] for split in SPLITS if split in data}, baseline=baseline)
    last = metrics["iterations"][-1]
    results = {split: EvalResult.from_dict(read_json(last["eval"][split]["results"])) for split in SPLITS if split in data}
    keep = ("iteration", "samples", "tokens", "correct_rate", "unparsed_rate", "unsolved_prompts", "hinted_samples", "rationalized",
            "kept_examples", "dpo_pairs", "positions", "rejected_used", "grpo_prompts", "grpo", "train_steps", "train_loss",
            "skipped_training")
    steps = sum(it.get("train_steps") or 0 for it in metrics["iterations"])
    return {**results, "train_steps": steps, "star": {"checkpoint": last["checkpoint"], "metrics": str(work / "metrics.json"),
                                "iterations": [{k: it[k] for k in keep if k in it} for it in metrics["iterations"]]}}


def read_json(path: str) -> dict:
    import json

    return json.loads(Path(path).read_text())


def _share_first_samples(work: Path) -> None:
    """The first iteration samples the same shard with the same base model and seed for every
    STaR method (each sample's randomness depends only on seed, prompt and index), so a later
    method starts from the rows an earlier one already drew; the loop then draws only the missing ones."""
    import shutil

    target = work / "iter-1" / "samples.jsonl"
    if target.exists():
        return
    for other in (STEPS[row] for row in STAR_ROWS):
        source = work.parent / other / "iter-1" / "samples.jsonl"
        if other != work.name and source.exists():  # a sibling in the same demo run: same data, model and settings
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            return


def star_sft(model: str, data: dict, work: Path, cfg: DemoConfig, earlier: dict) -> dict:
    return _star("sft", model, data, work, cfg, earlier)


def star_rationalize(model: str, data: dict, work: Path, cfg: DemoConfig, earlier: dict) -> dict:
    return _star("rationalize", model, data, work, cfg, earlier)


def star_dpo(model: str, data: dict, work: Path, cfg: DemoConfig, earlier: dict) -> dict:
    return _star("dpo", model, data, work, cfg, earlier)


def star_grpo(model: str, data: dict, work: Path, cfg: DemoConfig, earlier: dict) -> dict:
    return _star("grpo", model, data, work, cfg, earlier)


METHODS: dict[str, Callable] = {
    "length baseline": length_baseline, "zero-shot": zero_shot, "zero-shot CoT": zero_shot_cot, "BT": bt,
    "GenRM": genrm, "STaR-SFT": star_sft, "STaR-Rationalizer": star_rationalize, "STaR-DPO": star_dpo,
    "STaR-GRPO": star_grpo}


