"""The paper's comparison in miniature: every judge kind, trained and zero-shot, on the same pairs.

    from genrm.demo import run_demo
    results = run_demo("runs/demo", model="smollm2-135m", size="default")

Methods (rows, in order): length baseline, zero-shot (indicator judge), zero-shot CoT, BT, GenRM,
STaR-SFT, STaR-Rationalizer, STaR-DPO (`DemoConfig.rows` picks which; the default size leaves
the rationalizer out for time). Each is a function
`(model, data, work_dir, config, earlier) -> {split: EvalResult}` where `data` maps "train" /
"heldout" / "ood" to PreferencePair lists; every score comes from genrm.eval.evaluate (the one
credit policy, journaled in work_dir/SPLIT), and the comparison (table, paired tests, chart) from
genrm.eval.compare. The STaR rows start from the
zero-shot CoT judge, whose results are their iteration 0 (computed once).

The run directory is a genrm.runs.RunDir: each method is a ledger step holding its results, so a
killed demo resumes where it stopped (a trained checkpoint whose scoring was interrupted is
reused, and the scoring itself resumes from its journal). Outputs: results.json, report.md,
accuracy.png and genrm.log (library logs and warnings).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from genrm.config import EvalConfig, load_typed, merge, to_dict
from genrm.logs import quiet
from genrm.runs import RunDir, atomic_write_json, atomic_write_text
from genrm.types import EvalResult

DEMO_OOD = ["uppercase", "avoid-word", "comply-harmless", "arithmetic"]
ROWS = ("length baseline", "zero-shot", "zero-shot CoT", "BT", "GenRM", "STaR-SFT", "STaR-Rationalizer", "STaR-DPO")
STEPS = {row: row.lower().replace(" ", "-") for row in ROWS}
STAR_ROWS = ("STaR-SFT", "STaR-Rationalizer", "STaR-DPO")  # they share iteration 1's samples
SPLITS = {"heldout": "held-out (trained families)", "ood": "OOD (families never trained on)"}
# the paper's claims the demo checks on the held-out split (better, worse), in the printed conclusion
CLAIMS = (("BT", "zero-shot"), ("GenRM", "zero-shot"), ("STaR-SFT", "zero-shot CoT"), ("STaR-Rationalizer", "zero-shot CoT"),
          ("STaR-DPO", "zero-shot CoT"), ("STaR-DPO", "STaR-SFT"))


@dataclass
class DemoConfig:
    """Sizes and settings of the demo (`genrm demo --set key=value`, dotted for sections)."""

    rows: list | None = None  # the methods to run (names of ROWS, run in ROWS order); None: every one
    n_train: int = 64
    n_heldout: int = 64
    n_ood: int = 64
    ood_families: list | None = field(default_factory=lambda: list(DEMO_OOD))  # None: every OOD family of genrm.synth
    indicator_template: str = "indicator"
    cot_template: str = "cot"
    force_verdict: bool = True  # the CoT judges continue a tag-less rationale with "Final verdict: [[" (judges/cot.py)
    eval: EvalConfig = field(default_factory=lambda: EvalConfig(batch_size=16, votes=1, max_new_tokens=16))
    bt: dict = field(default_factory=dict)  # TRL RewardConfig keys + freeze_layers, lora
    genrm: dict = field(default_factory=dict)  # TRL SFTConfig keys + freeze_layers, lora
    star: dict = field(default_factory=dict)  # genrm.star.config.StarConfig keys (method, model, data set by the demo)
    star_sft: dict = field(default_factory=dict)  # StarConfig keys for the STaR-SFT row only, over `star`
    star_rationalize: dict = field(default_factory=dict)  # for the STaR-Rationalizer row
    star_dpo: dict = field(default_factory=dict)  # and for the STaR-DPO row


def _train(steps: int, lr: float, batch: int, freeze: int, cache: bool = False) -> dict:
    """Trainer settings of a demo section; `cache`: the frozen bottom runs once per sequence (train/cached.py)."""
    return {"max_steps": steps, "learning_rate": lr, "per_device_train_batch_size": batch, "freeze_layers": freeze,
            "logging_steps": max(1, steps // 5), "disable_tqdm": True, "warmup_steps": 0.1 if steps >= 20 else 0,
            "activation_checkpointing": False, **({"cache_frozen_layers": True} if cache else {})}


def _epochs(epochs: float, lr: float, batch: int, freeze: int, cache: bool = False) -> dict:
    """Like _train, for a set whose size is known only at run time (STaR's kept samples), no warmup."""
    return {**_train(1, lr, batch, freeze, cache), "max_steps": -1, "num_train_epochs": epochs, "logging_steps": 1,
            "warmup_steps": 0}  # a warmup fraction of a 1-2 step run is a zero learning rate


# "tiny": the test size (seconds, on a tiny model); "default": `genrm demo`, budgeted for 15 minutes on 2
# CPU cores with SmolLM2-135M (compact templates: 88-token judge prompts instead of 248; frozen bottom 24
# of 30 blocks cached; BT 1.5 and GenRM 2.5 passes over 192 pairs, GenRM in both orders; CoT rationales
# of 4 tokens before the forced verdict). CoT judges evaluate with one greedy vote (temperature 0: the
# likeliest verdict, the one-sample stand-in for a majority of many samples; a single vote drawn at
# temperature 1 would turn a 0.7 preference into a 70% coin); STaR samples its rationales at temperature 1.
# STaR trains on pairs solved in both orders, each pair's two orders in one batch (`balance: pair`, as GenRM
# trains), with the loss on the verdict after the sampled rationale (`loss_on: verdict`): 4-token rationales
# of a 135M model are noise whose loss swamps the one verdict token (README "genrm demo" has the measurements).
# "medium": benchmarks/paper_table.py (2-3 hours; STaR resamples all 384 pairs every iteration, 4 rationales per order); "large": hours
COMPACT = {"indicator_template": "indicator-compact", "cot_template": "cot-compact"}
STAR_SMALL = {"balance": "pair", "loss_on": "verdict"}  # the STaR data of the small sizes (above)
# STaR-DPO compares the verdict letters (loss_on: verdict) of far fewer units than STaR-SFT trains on (a prompt needs a
# right and a wrong rationale in both orders; 40 units at the default size): 3 passes in batches of 2 units, the best
# of the settings measured (README "genrm demo")
STAR_DPO_TRAIN = {**_epochs(3, 2e-4, 4, 24, cache=True), "beta": 0.1}
SIZES = {
    "tiny": {"n_train": 8, "n_heldout": 8, "n_ood": 8,
             "eval": {"batch_size": 8, "votes": 1, "max_new_tokens": 8, "temperature": 0},
             "bt": _train(2, 1e-4, 4, 0), "genrm": _train(2, 1e-4, 4, 0),
             "star": {**STAR_SMALL, "iterations": 1, "shards": 1, "samples": 2, "max_train_pairs": 4,
                      "sampling": {"max_new_tokens": 8, "batch_size": 8}, "train": _train(1, 1e-4, 4, 0)},
             "star_rationalize": {"samples": 1}},  # one sample per prompt: some go unsolved and get a hint
    "default": {**COMPACT, "n_train": 192, "n_heldout": 64, "n_ood": 64, "rows": [r for r in ROWS if r != "STaR-Rationalizer"],
                "eval": {"batch_size": 32, "votes": 1, "max_new_tokens": 4, "temperature": 0},
                "bt": _train(36, 2e-4, 8, 24, cache=True), "genrm": _train(120, 2e-4, 8, 24, cache=True),
                "star": {**STAR_SMALL, "iterations": 1, "shards": 1, "samples": 2, "max_train_pairs": 192,
                         "sampling": {"max_new_tokens": 4, "batch_size": 32}},
                "star_sft": {"train": _epochs(3, 2e-4, 8, 24, cache=True)},
                "star_rationalize": {"train": _epochs(3, 2e-4, 8, 24, cache=True)},
                "star_dpo": {"train": STAR_DPO_TRAIN}},
    "medium": {**COMPACT, "n_train": 384, "n_heldout": 128, "n_ood": 128,
               "eval": {"batch_size": 32, "votes": 1, "max_new_tokens": 4, "temperature": 0},
               "bt": _train(64, 2e-4, 8, 24, cache=True), "genrm": _train(256, 2e-4, 8, 24, cache=True),
               # 4 rationales per order for every STaR method: with 2, STaR-DPO had 67 units of 384 pairs and learned
               # nothing in iteration 1 (50.0); with 4 it has 231 (69.5), and STaR-SFT 450 instead of 198 (84.0 instead
               # of 51.6); one DPO pair per prompt (README "paper_table.py --size medium")
               "star": {**STAR_SMALL, "iterations": 2, "shards": 1, "samples": 4, "max_train_pairs": 384,
                        "sampling": {"max_new_tokens": 4, "batch_size": 32}},
               "star_sft": {"train": _epochs(3, 2e-4, 8, 24, cache=True)},
               "star_rationalize": {"train": _epochs(3, 2e-4, 8, 24, cache=True)},
               "star_dpo": {"dpo_pairs_per_prompt": 1, "train": STAR_DPO_TRAIN}},
    "large": {"n_train": 800, "n_heldout": 200, "n_ood": 210, "ood_families": None,
              "eval": {"batch_size": 16, "votes": 4, "max_new_tokens": 96},
              "bt": _train(200, 1e-4, 8, 16), "genrm": _train(200, 1e-4, 8, 16),
              "star": {"iterations": 2, "shards": 2, "samples": 2, "max_train_pairs": 200,
                       "sampling": {"max_new_tokens": 96, "batch_size": 16}, "train": _train(60, 1e-4, 8, 16)}},
}


class MethodUnavailable(RuntimeError):
    """The module a method needs is not installed in this checkout (reported, never faked)."""


def settings(size: str, overrides: dict | None = None) -> DemoConfig:
    """The DemoConfig of a size with `overrides` (nested mappings) on top; unknown keys fail."""
    from genrm.synth import OOD_FAMILIES

    if size not in SIZES:
        raise ValueError(f"unknown demo size {size!r} (expected one of {', '.join(SIZES)})")
    cfg = load_typed(DemoConfig, merge(SIZES[size], overrides or {}))
    if cfg.ood_families is None:
        cfg.ood_families = list(OOD_FAMILIES)
    unknown = [r for r in cfg.rows or () if r not in ROWS]
    if unknown:
        raise ValueError(f"rows: unknown method(s) {unknown} (expected names of {', '.join(ROWS)})")
    return cfg


def chosen_rows(cfg: DemoConfig) -> list[str]:
    return [r for r in ROWS if cfg.rows is None or r in cfg.rows]


# ---------------------------------------------------------------- the methods


def score_splits(judge, data: dict, work: Path, cfg: DemoConfig, model: str | None = None) -> dict[str, EvalResult]:
    from genrm.eval.runner import evaluate

    return {split: evaluate(judge, data[split], out=work / split, batch_size=cfg.eval.batch_size, model=model)
            for split in SPLITS}


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

    checkpoint = work / "checkpoint"
    if not (checkpoint / "config.json").exists():  # a finished checkpoint whose scoring was cut off is reused
        checkpoint = train_bt(model, data["train"], work, cfg.bt)
    return score_splits(load_judge(str(checkpoint)), data, work, cfg, str(checkpoint))


def genrm(model: str, data: dict, work: Path, cfg: DemoConfig, earlier: dict) -> dict:
    _need("genrm.train.genrm")
    from genrm.judges.base import load_judge
    from genrm.train.genrm import train_genrm

    checkpoint = work / "checkpoint"
    if not (checkpoint / "config.json").exists():
        checkpoint = train_genrm(model, data["train"], work, cfg.genrm, template=cfg.indicator_template)
    return score_splits(load_judge(str(checkpoint), kind="genrm"), data, work, cfg, str(checkpoint))


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
    _share_first_samples(work)
    metrics = run_star(work, model=model, train_pairs=data["train"], config=star_config(method, cfg),
                       resume=(work / "config.yaml").exists(), progress=False,
                       eval_sets={split: data[split] for split in SPLITS}, baseline=baseline)
    last = metrics["iterations"][-1]
    results = {split: EvalResult.from_dict(_read_json(last["eval"][split]["results"])) for split in SPLITS}
    keep = ("iteration", "samples", "correct_rate", "unparsed_rate", "unsolved_prompts", "hinted_samples", "rationalized",
            "kept_examples", "dpo_pairs", "positions", "rejected_used", "train_steps", "train_loss", "skipped_training")
    return {**results, "star": {"checkpoint": last["checkpoint"], "metrics": str(work / "metrics.json"),
                                "iterations": [{k: it[k] for k in keep if k in it} for it in metrics["iterations"]]}}


def _read_json(path: str) -> dict:
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


METHODS: dict[str, Callable] = {
    "length baseline": length_baseline, "zero-shot": zero_shot, "zero-shot CoT": zero_shot_cot, "BT": bt,
    "GenRM": genrm, "STaR-SFT": star_sft, "STaR-Rationalizer": star_rationalize, "STaR-DPO": star_dpo}


# ---------------------------------------------------------------- the pipeline


def load_step(entry: dict) -> dict:
    """A ledger entry with its split results as EvalResults."""
    return {k: EvalResult.from_dict(v) if k in SPLITS else v for k, v in entry.items()}


def run_methods(run: RunDir, model: str, data: dict, cfg: DemoConfig, rows=ROWS, console=None) -> dict:
    """Run each method not yet in the ledger (a progress display while working); returns
    {row: {"status": "done", "seconds": .., "heldout": EvalResult, "ood": EvalResult} or
    {"status": "not available", "reason": ...}}."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from genrm.eval.report import fmt_score

    results: dict = {}
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("demo", total=len(rows))
        for row in rows:
            step = STEPS[row]
            if run.is_done(step):
                results[row] = load_step(run.result(step))
                bar.update(task, advance=1, description=f"{row}: done earlier (resumed)")
                continue
            bar.update(task, description=f"{row}: running")
            start = time.time()
            earlier = {name: {s: r[s] for s in SPLITS} for name, r in results.items() if r.get("status") == "done"}
            try:
                scores = METHODS[row](model, data, run / step, cfg, earlier)
            except MethodUnavailable as why:
                results[row] = {"status": "not available", "reason": str(why)}
                bar.console.print(f"[yellow]{row}: {why}[/yellow]")
                bar.update(task, advance=1)
                continue  # not recorded: a later run with the module present computes it
            results[row] = {"status": "done", "seconds": round(time.time() - start, 1), **scores}
            run.mark_done(step, {k: v.to_dict() if isinstance(v, EvalResult) else v for k, v in results[row].items()})
            summary = "  ".join(f"{split} {fmt_score(scores[split], with_n=True)}" for split in SPLITS)
            bar.console.print(f"{row}: {summary}  ({results[row]['seconds']:.0f} s)", highlight=False)
            bar.update(task, advance=1)
        bar.update(task, description="demo: finished")
    return results


def run_demo(out: str | Path = "runs/demo", model: str = "smollm2-135m", size: str = "default",
             overrides: dict | None = None, seed: int = 0, console=None) -> dict:
    """Generate the built-in data, run every method (resuming), write results.json, report.md and
    accuracy.png into `out`; returns the results dict (methods hold EvalResults)."""
    from genrm import synth
    from genrm.data import load_pairs

    cfg = settings(size, overrides)
    run = RunDir(out)
    config = {"model": model, "size": size, "seed": seed, "settings": to_dict(cfg)}
    if (run / "config.yaml").exists() and run.load_config() != config:
        raise ValueError(f"{run.path} holds a demo run with another configuration ({run.load_config()}); "
                         "use another --out directory or delete this one")
    run.save_config(config)
    paths = synth.write_splits(run / "data", cfg.n_train, cfg.n_heldout, cfg.n_ood, seed, tuple(cfg.ood_families))
    data = {split: list(load_pairs(path)) for split, path in paths.items()}
    with quiet(run / "genrm.log"):  # library chatter goes to the log; the terminal shows progress and results
        methods = run_methods(run, model, data, cfg, rows=chosen_rows(cfg), console=console)
    results = {"model": model, "size": size, "seed": seed, "settings": to_dict(cfg),
               "data": {split: {"path": str(path), "n": len(data[split]), "subsets": sorted({p.subset for p in data[split]})}
                        for split, path in paths.items()},
               "methods": methods}
    write_outputs(results, run.path, title=f"genrm demo: {model}, size {size}")
    return results


# ---------------------------------------------------------------- outputs


def done_methods(results: dict) -> dict[str, dict[str, EvalResult]]:
    return {name: {s: m[s] for s in SPLITS} for name, m in results["methods"].items() if m.get("status") == "done"}


def seconds(results: dict) -> dict[str, float]:
    return {name: m.get("seconds", 0) for name, m in results["methods"].items()}


def conclusion(results: dict) -> str:
    from genrm.eval import compare

    line = compare.conclusion(done_methods(results), "heldout", CLAIMS)
    return f"held-out, paired tests: {line}" if line else ""


def markdown(results: dict, title: str) -> str:
    from genrm.eval import compare

    methods = done_methods(results)
    intro = (f"Model `{results['model']}`, size `{results['size']}`, seed {results['seed']}. Accuracy in % with the "
             "Wilson 95% interval; the length baseline row is \"pick the longer answer\"; every figure is credited "
             "by genrm.eval.credit.")
    lines = [f"# {title}", "", intro, ""]
    lines += [f"- {split}: {info['n']} pairs, families {', '.join(info['subsets'])}" for split, info in results["data"].items()]
    lines += ["", compare.markdown(methods, SPLITS, seconds(results))]
    missing = [f"- {n}: {m.get('reason')}" for n, m in results["methods"].items() if m.get("status") != "done"]
    if missing:
        lines += ["## Not run", "", *missing, ""]
    lines += ["## Conclusion", "", conclusion(results) or "-", ""]
    return "\n".join(lines)


def print_table(results: dict, console=None, title: str = "genrm demo") -> None:
    from genrm.eval import compare
    from genrm.eval.report import console_for_output, rich_table

    console = console or console_for_output()
    methods = done_methods(results)
    ns = {split: next((r[split].n for r in methods.values()), "?") for split in SPLITS}
    cols = ["method"] + [f"{label}, n={ns[split]}" for split, label in SPLITS.items()] + ["s"]
    rows = compare.table_rows(methods, list(SPLITS), seconds(results))
    rows += [[n, m.get("reason", "not available"), "", ""] for n, m in results["methods"].items() if m.get("status") != "done"]
    console.print(rich_table(cols, rows, title))
    console.print("accuracy % [Wilson 95% CI]; length baseline = pick the longer response; unparsed verdicts count 0.5.",
                  highlight=False)
    if line := conclusion(results):
        console.print(line, highlight=False, soft_wrap=True)


def write_outputs(results: dict, out: Path, title: str) -> dict[str, Path]:
    from genrm.eval.compare import method_panel
    from genrm.eval.report import chart, iteration_panel

    paths = {"results": out / "results.json", "report": out / "report.md", "plot": out / "accuracy.png"}
    serial = {**results, "methods": {n: {k: v.to_dict() if isinstance(v, EvalResult) else v for k, v in m.items()}
                                     for n, m in results["methods"].items()}}
    atomic_write_json(paths["results"], serial)
    atomic_write_text(paths["report"], markdown(results, title))
    panels = [method_panel(done_methods(results), SPLITS, title)]
    for name in STAR_ROWS:
        star = results["methods"].get(name, {}).get("star")
        if star and Path(star["metrics"]).exists():
            panels.append(iteration_panel(_read_json(star["metrics"]), f"{name}: accuracy per iteration"))
    chart(panels, paths["plot"])
    return paths


def load_results(out: str | Path) -> dict:
    results = _read_json(str(Path(out) / "results.json"))
    results["methods"] = {n: load_step(m) for n, m in results["methods"].items()}
    return results
