"""The paper's comparison in miniature: every judge kind, trained and zero-shot, on the same data.

    from genrm.demo import run_demo
    results = run_demo("runs/demo", model="smollm2-135m", size="default")

Methods (rows, in order): length baseline, zero-shot (indicator judge), zero-shot CoT, BT, GenRM,
STaR-SFT, STaR-DPO. Each is a function `(model, data, work_dir, settings) -> {split: score}`
where `data` maps "train" / "heldout" / "ood" to PreferencePair lists and a score is the summary
of `genrm.eval.runner.evaluate` (accuracy, n, Wilson 95% CI, length baseline, per subset; for a
RewardBench-named OOD set also its sections). Accuracy follows genrm.eval.rewardbench.TIE_POLICY:
classifier ties count 0, a pairwise p_chosen of exactly 0.5 or an unparsed verdict counts 0.5.

The run directory is a genrm.runs.RunDir: each method is a ledger step holding its scores, so a
killed demo resumes where it stopped (a trained checkpoint whose scoring was interrupted is
reused). Outputs: results.json, report.md and accuracy.png.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from genrm.runs import RunDir, atomic_write_bytes, atomic_write_json, atomic_write_text
from genrm.types import Judgment, PreferencePair


def synth_ood() -> tuple[str, ...]:
    from genrm.synth import OOD_FAMILIES

    return OOD_FAMILIES


# settings per size. "tiny": the test size (seconds, on a tiny model); "default": `genrm demo`,
# budgeted for 15 minutes on 2 CPU cores with SmolLM2-135M; "large": benchmarks/paper_table.py.
DEMO_OOD = ("uppercase", "avoid-word", "comply-harmless", "arithmetic")
SIZES = {
    "tiny": {"n_train": 8, "n_heldout": 8, "n_ood": 8, "ood_families": list(DEMO_OOD), "batch_size": 4,
             "eval_batch_size": 8, "lr": 1e-4, "freeze_layers": 0, "bt_steps": 2, "genrm_steps": 2, "cot_votes": 1,
             "cot_tokens": 8, "star_pairs": 4, "star_samples": 2, "star_tokens": 8, "star_steps": 1, "star_iterations": 1},
    # measured on 2 cores: 20+20 eval pairs, GenRM 10 steps, STaR 12 pairs / 3 steps took ~17.5 min;
    # 16+16 (4 per family: the length baseline is exactly balanced) and fewer steps fit in 15
    "default": {"n_train": 64, "n_heldout": 16, "n_ood": 16, "ood_families": list(DEMO_OOD), "batch_size": 8,
                "eval_batch_size": 16, "lr": 2e-4, "freeze_layers": 24, "bt_steps": 16, "genrm_steps": 6,
                "cot_votes": 1, "cot_tokens": 16, "star_pairs": 8, "star_samples": 2, "star_tokens": 16,
                "star_steps": 2, "star_iterations": 1},
    # paper_table's CPU size: 12 eval pairs per family (length baseline balanced), ~35 min per part on 2 cores
    "medium": {"n_train": 256, "n_heldout": 48, "n_ood": 48, "ood_families": list(DEMO_OOD), "batch_size": 8,
               "eval_batch_size": 16, "lr": 2e-4, "freeze_layers": 24, "bt_steps": 48, "genrm_steps": 24,
               "cot_votes": 1, "cot_tokens": 24, "star_pairs": 24, "star_samples": 2, "star_tokens": 24,
               "star_steps": 6, "star_iterations": 1},
    "large": {"n_train": 800, "n_heldout": 200, "n_ood": 210, "ood_families": list(synth_ood()), "batch_size": 8,
              "eval_batch_size": 16, "lr": 1e-4, "freeze_layers": 16, "bt_steps": 200, "genrm_steps": 200,
              "cot_votes": 4, "cot_tokens": 96, "star_pairs": 200, "star_samples": 2, "star_tokens": 96,
              "star_steps": 60, "star_iterations": 2},
}
ROWS = ("length baseline", "zero-shot", "zero-shot CoT", "BT", "GenRM", "STaR-SFT", "STaR-DPO")
STEPS = {"length baseline": "length-baseline", "zero-shot": "zero-shot", "zero-shot CoT": "zero-shot-cot",
         "BT": "bt", "GenRM": "genrm", "STaR-SFT": "star-sft", "STaR-DPO": "star-dpo"}
SPLITS = ("heldout", "ood")


class MethodUnavailable(RuntimeError):
    """The module a method needs is not installed in this checkout (reported, never faked)."""


# ---------------------------------------------------------------- scoring


class LengthJudge:
    """"Pick the longer response" (characters) as a judge: p_chosen 1, 0, or 0.5 on equal lengths."""

    kind, name = "length", "length baseline"

    def judge(self, pairs, batch_size: int = 8, progress: bool = False) -> list[Judgment]:
        out = []
        for p in pairs:
            c, r = len(p.chosen_text), len(p.rejected_text)
            out.append(Judgment(p_chosen=1.0 if c > r else 0.0 if c < r else 0.5))
        return out


def bench_of(pairs: list[PreferencePair]) -> str:
    """"rewardbench" when the pairs carry RewardBench subset names (sections are then reported)."""
    from genrm.eval import rewardbench as rb

    return "rewardbench" if pairs and all(rb.section_of(p.subset) != rb.OTHER for p in pairs) else "file"


def score(judge, pairs: list[PreferencePair], batch_size: int = 8) -> dict:
    """accuracy, n, ci95, length_baseline, per-subset rows and (RewardBench names) sections."""
    from genrm.eval.runner import evaluate

    res = evaluate(judge, pairs, bench=bench_of(pairs), batch_size=batch_size)
    pooled = res["position"]
    out = {key: pooled[key] for key in ("accuracy", "n", "ci95", "length_baseline", "chosen_first_accuracy",
                                        "chosen_second_accuracy")}
    out["unparsed"] = res["counts"]["unparsed"]
    out["subsets"] = {k: {"accuracy": v["accuracy"], "n": v["n"], "length_baseline": v["length_baseline"]}
                      for k, v in res["subsets"].items()}
    if res["bench"] == "rewardbench":
        out["sections"], out["overall"] = res["sections"], res["overall"]
        out["length_sections"], out["length_overall"] = res["length_baseline"]["sections"], res["length_baseline"]["overall"]
    return out


def score_splits(judge, data: dict, s: dict) -> dict:
    return {split: score(judge, data[split], s["eval_batch_size"]) for split in SPLITS}


# ---------------------------------------------------------------- the methods


def _need(module: str) -> None:
    from importlib.util import find_spec

    try:
        found = find_spec(module) is not None
    except ModuleNotFoundError:
        found = False
    if not found:
        raise MethodUnavailable(f"not available (module {module} missing)")


def _cot_options(s: dict) -> dict:
    # force_verdict: a rationale that ends without a tag is continued with "Final verdict: [[" and
    # the letter sampled (judges/cot.py); a 135M model rarely writes the tag on its own
    return {"votes": s["cot_votes"], "max_new_tokens": s["cot_tokens"], "both_orders": True, "seed": 0,
            "force_verdict": True}


def length_baseline(model: str, data: dict, work: Path, s: dict) -> dict:
    return score_splits(LengthJudge(), data, s)


def zero_shot(model: str, data: dict, work: Path, s: dict) -> dict:
    from genrm.judges.base import load_judge

    return score_splits(load_judge(model, kind="genrm"), data, s)


def zero_shot_cot(model: str, data: dict, work: Path, s: dict) -> dict:
    _need("genrm.judges.cot")
    from genrm.judges.base import load_judge

    return score_splits(load_judge(model, kind="cot", **_cot_options(s)), data, s)


def _train_config(s: dict, steps: int) -> dict:
    return {"max_steps": steps, "learning_rate": s["lr"], "per_device_train_batch_size": s["batch_size"],
            "freeze_layers": s["freeze_layers"], "logging_steps": max(1, steps // 5), "disable_tqdm": True,
            "warmup_steps": 0.1 if steps >= 20 else 0}  # a warmup fraction of a few steps leaves step 1 at lr 0


def bt(model: str, data: dict, work: Path, s: dict) -> dict:
    _need("genrm.train.bt")
    from genrm.judges.base import load_judge
    from genrm.train.bt import train_bt

    checkpoint = work / "checkpoint"
    if not (checkpoint / "config.json").exists():  # a finished checkpoint whose scoring was cut off is reused
        checkpoint = train_bt(model, data["train"], work, _train_config(s, s["bt_steps"]))
    return score_splits(load_judge(str(checkpoint)), data, s)


def genrm(model: str, data: dict, work: Path, s: dict) -> dict:
    _need("genrm.train.genrm")
    from genrm.judges.base import load_judge
    from genrm.train.genrm import train_genrm

    checkpoint = work / "checkpoint"
    if not (checkpoint / "config.json").exists():
        checkpoint = train_genrm(model, data["train"], work, _train_config(s, s["genrm_steps"]))
    return score_splits(load_judge(str(checkpoint), kind="genrm"), data, s)


def _star(method: str, model: str, data: dict, work: Path, s: dict) -> dict:
    _need("genrm.star")
    from genrm import star

    if not hasattr(star, "run_star"):
        raise MethodUnavailable("not available (genrm.star.run_star missing)")
    # no evaluation inside the loop (eval_fraction 0, no eval pairs): the final judge is scored
    # below exactly as the other rows are
    config = {"iterations": s["star_iterations"], "shards": s["star_iterations"], "samples": s["star_samples"],
              "both_orders": True, "eval_baseline": False, "eval_fraction": 0, "seed": 0, "force_verdict": True,
              "max_train_pairs": s["star_pairs"],
              "sampling": {"max_new_tokens": s["star_tokens"], "batch_size": s["eval_batch_size"]},
              "eval": {"votes": s["cot_votes"], "max_new_tokens": s["cot_tokens"], "batch_size": s["eval_batch_size"]},
              "train": _train_config(s, s["star_steps"])}
    _share_first_samples(work)
    metrics = star.run_star(work, method=method, model=model, train_pairs=data["train"], config=config,
                            resume=(work / "config.yaml").exists(), progress=False)
    iterations = metrics.get("iterations", [])
    checkpoint = iterations[-1]["checkpoint"] if iterations else model
    summary = {"iterations": _iteration_summary(iterations), "checkpoint": str(checkpoint)}
    zero_shot_cot = _ledger_result(work.parent, STEPS["zero-shot CoT"])
    if checkpoint == model and zero_shot_cot:
        # no iteration had examples to train on: the judge is the starting model, whose CoT scores
        # with the same settings and seed are the zero-shot CoT row's (sampling is seeded per prompt)
        return {split: zero_shot_cot[split] for split in SPLITS} | {"star": {**summary, "note": "nothing to train on: base model"}}
    from genrm.judges.base import load_judge

    result = score_splits(load_judge(str(checkpoint), kind="cot", **_cot_options(s)), data, s)
    return {**result, "star": summary}


def _share_first_samples(work: Path) -> None:
    """The first iteration samples the same shard with the same base model and seed for every
    STaR method (each sample's randomness depends only on seed, prompt and index), so a later
    method starts from the rows an earlier one already drew; the loop then draws only the missing ones."""
    import shutil

    target = work / "iter-1" / "samples.jsonl"
    if target.exists():
        return
    for other in ("star-sft", "star-dpo"):
        source = work.parent / other / "iter-1" / "samples.jsonl"
        if other != work.name and source.exists():  # a sibling in the same demo run: same data, model and settings
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            return


def _ledger_result(run_path: Path, step: str):
    ledger = run_path / "ledger.json"
    return json.loads(ledger.read_text()).get(step) if ledger.exists() else None


def _iteration_summary(iterations: list) -> list[dict]:
    return [{k: v for k, v in it.items() if not isinstance(v, (dict, list))} for it in iterations if isinstance(it, dict)]


def star_sft(model: str, data: dict, work: Path, s: dict) -> dict:
    return _star("sft", model, data, work, s)


def star_dpo(model: str, data: dict, work: Path, s: dict) -> dict:
    return _star("dpo", model, data, work, s)


METHODS: dict[str, Callable[[str, dict, Path, dict], dict]] = {
    "length baseline": length_baseline, "zero-shot": zero_shot, "zero-shot CoT": zero_shot_cot, "BT": bt,
    "GenRM": genrm, "STaR-SFT": star_sft, "STaR-DPO": star_dpo}


# ---------------------------------------------------------------- the pipeline


def settings(size: str, overrides: dict | None = None) -> dict:
    if size not in SIZES:
        raise ValueError(f"unknown demo size {size!r} (expected one of {', '.join(SIZES)})")
    unknown = set(overrides or {}) - set(SIZES[size])
    if unknown:
        raise ValueError(f"unknown demo setting(s) {sorted(unknown)} (known: {sorted(SIZES[size])})")
    return {**SIZES[size], **(overrides or {})}


def run_methods(run: RunDir, model: str, data: dict, s: dict, rows=ROWS, console=None) -> dict:
    """Run each method not yet in the ledger (a progress display while working); returns
    {row: {"status": "done", "seconds": .., "heldout": score, "ood": score} or {"status": "not available", ...}}."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    results = {}
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("demo", total=len(rows))
        for row in rows:
            step = STEPS.get(row, row.lower().replace(" ", "-"))
            if run.is_done(step):
                results[row] = run.result(step)
                bar.update(task, advance=1, description=f"{row}: done earlier (resumed)")
                continue
            bar.update(task, description=f"{row}: running")
            start = time.time()
            try:
                scores = METHODS[row](model, data, run / step, s)
            except MethodUnavailable as why:
                results[row] = {"status": "not available", "reason": str(why)}
                bar.console.print(f"[yellow]{row}: {why}[/yellow]")
                bar.update(task, advance=1)
                continue  # not recorded: a later run with the module present computes it
            results[row] = {"status": "done", "seconds": round(time.time() - start, 1), **scores}
            run.mark_done(step, results[row])
            summary = "  ".join(f"{split} {fmt_acc(scores[split], with_n=True)}" for split in SPLITS if split in scores)
            bar.console.print(f"{row}: {summary}  ({results[row]['seconds']:.0f} s)", highlight=False)
            bar.update(task, advance=1)
        bar.update(task, description="demo: finished")
    return results


def run_demo(out: str | Path = "runs/demo", model: str = "smollm2-135m", size: str = "default",
             overrides: dict | None = None, seed: int = 0, console=None) -> dict:
    """Generate the built-in data, run every method (resuming), write results.json, report.md and
    accuracy.png into `out`; returns the results dict."""
    from genrm import synth
    from genrm.data import load_pairs

    s = settings(size, overrides)
    run = RunDir(out)
    config = {"model": model, "size": size, "seed": seed, "settings": s}
    if (run / "config.yaml").exists() and run.load_config() != config:
        raise ValueError(f"{run.path} holds a demo run with another configuration ({run.load_config()}); "
                         "use another --out directory or delete this one")
    run.save_config(config)
    paths = synth.write_splits(run / "data", s["n_train"], s["n_heldout"], s["n_ood"], seed, tuple(s["ood_families"]))
    data = {split: list(load_pairs(path)) for split, path in paths.items()}
    methods = run_methods(run, model, data, s, console=console)
    results = {"model": model, "size": size, "seed": seed, "settings": s,
               "data": {split: {"path": str(path), "n": len(data[split]), "subsets": sorted({p.subset for p in data[split]})}
                        for split, path in paths.items()},
               "tie_policy": tie_policy(), "methods": methods}
    write_outputs(results, run.path, title=f"genrm demo: {model}, size {size}")
    return results


def tie_policy() -> dict:
    from genrm.eval import rewardbench as rb

    return dict(rb.TIE_POLICY)


# ---------------------------------------------------------------- outputs


def fmt_acc(score: dict | None, with_n: bool = False) -> str:
    if not score:
        return "-"
    lo, hi = score["ci95"]
    return f"{100 * score['accuracy']:.1f} [{100 * lo:.0f}-{100 * hi:.0f}]" + (f" (n={score['n']})" if with_n else "")


def note(m: dict) -> str:
    """What a reader needs to read the row: unparsed verdicts (scored 0.5), STaR with nothing to train on."""
    parts = [m["star"]["note"]] if m.get("star", {}).get("note") else []
    unparsed = sum((m.get(split) or {}).get("unparsed", 0) for split in SPLITS)
    if unparsed:
        parts.append(f"{unparsed}/{sum((m.get(split) or {}).get('n', 0) for split in SPLITS)} without a verdict")
    return "; ".join(parts)


def columns(results: dict) -> list[str]:
    done = [m for m in results["methods"].values() if m.get("status") == "done"]
    n = {split: done[0][split]["n"] if done else "?" for split in SPLITS}
    return ["method", f"held-out, n={n['heldout']}", f"OOD, n={n['ood']}", "s", "note"]


def table_rows(results: dict) -> list[list[str]]:
    rows = []
    for name, m in results["methods"].items():
        if m.get("status") != "done":
            rows.append([name, m.get("reason", "not available"), "", "", ""])
        else:
            rows.append([name, fmt_acc(m.get("heldout")), fmt_acc(m.get("ood")), f"{m['seconds']:.0f}", note(m)])
    return rows


def print_table(results: dict, console=None, title: str = "genrm demo") -> None:
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    table = Table(title=title, caption="accuracy % [Wilson 95% CI]; unparsed verdicts count 0.5")
    for col in columns(results):
        table.add_column(col, justify="left" if col in ("method", "note") else "right")
    for row in table_rows(results):
        table.add_row(*row)
    console.print(table)


def markdown(results: dict, title: str) -> str:
    intro = (f"Model `{results['model']}`, size `{results['size']}`, seed {results['seed']}. Accuracy in % with "
             "the Wilson 95% interval; the length baseline row is \"pick the longer answer\".")
    lines = [f"# {title}", "", intro, ""]
    for split, info in results["data"].items():
        lines.append(f"- {split}: {info['n']} pairs, families {', '.join(info['subsets'])}")
    cols = columns(results)
    lines += ["", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(r) + " |" for r in table_rows(results)]
    lines += ["", "## Per family (accuracy %)", ""]
    subsets = sorted({sub for m in results["methods"].values() for split in SPLITS
                      for sub in (m.get(split) or {}).get("subsets", {})})
    names = [n for n, m in results["methods"].items() if m.get("status") == "done"]
    lines += ["| family | " + " | ".join(names) + " |", "|" + "---|" * (len(names) + 1)]
    for sub in subsets:
        cells = []
        for n in names:
            m = results["methods"][n]
            hit = next((m[split]["subsets"][sub] for split in SPLITS if sub in (m.get(split) or {}).get("subsets", {})), None)
            cells.append("-" if hit is None else f"{100 * hit['accuracy']:.0f} (n={hit['n']})")
        lines.append(f"| {sub} | " + " | ".join(cells) + " |")
    lines += ["", "## Tie and failure policy", "", *[f"- **{k}**: {v}" for k, v in results["tie_policy"].items()], ""]
    return "\n".join(lines)


def plot(results: dict, title: str) -> bytes:
    """Grouped bars: accuracy per method on held-out and OOD, with 95% CIs and the chance line."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n, m in results["methods"].items() if m.get("status") == "done"]
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(names) + 2), 4))
    width = 0.38
    for k, (split, label) in enumerate((("heldout", "in-distribution held-out"), ("ood", "out-of-distribution"))):
        xs, ys, errs = [], [], [[], []]
        for i, n in enumerate(names):
            sc = results["methods"][n].get(split)
            if not sc:
                continue
            xs.append(i + (k - 0.5) * width)
            ys.append(100 * sc["accuracy"])
            errs[0].append(100 * (sc["accuracy"] - sc["ci95"][0]))
            errs[1].append(100 * (sc["ci95"][1] - sc["accuracy"]))
        ax.bar(xs, ys, width, yerr=errs, capsize=3, label=label)
    ax.axhline(50, color="grey", linestyle="--", linewidth=1)
    ax.set_xticks(range(len(names)), names, rotation=20, ha="right")
    ax.set_ylim(0, 100)
    ax.set_ylabel("accuracy % (95% CI)")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def write_outputs(results: dict, out: Path, title: str) -> dict[str, Path]:
    paths = {"results": out / "results.json", "report": out / "report.md", "plot": out / "accuracy.png"}
    atomic_write_json(paths["results"], results)
    atomic_write_text(paths["report"], markdown(results, title))
    atomic_write_bytes(paths["plot"], plot(results, title))
    return paths


def load_results(out: str | Path) -> dict:
    return json.loads((Path(out) / "results.json").read_text())
