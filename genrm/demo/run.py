"""The demo's pipeline (each method a ledger step, resumable) and its outputs: results.json,
report.md, accuracy.png and the terminal table."""
from __future__ import annotations

import time
from pathlib import Path

from genrm.config import to_dict
from genrm.demo.methods import METHODS, read_json
from genrm.demo.settings import (
    CLAIM_SPLITS,
    CLAIMS,
    CLAIMS_SET,
    ROWS,
    SPLITS,
    STAR_ROWS,
    STEPS,
    DemoConfig,
    MethodUnavailable,
    chosen_rows,
    settings,
)
from genrm.logs import quiet
from genrm.runs import RunDir, atomic_write_json, atomic_write_text
from genrm.types import EvalResult


def load_step(entry: dict) -> dict:
    """A ledger entry with its split results as EvalResults."""
    return {k: EvalResult.from_dict(v) if k in SPLITS else v for k, v in entry.items()}


def run_methods(run: RunDir, model: str, data: dict, cfg: DemoConfig, rows=ROWS, console=None) -> dict:
    """Run each method not yet in the ledger (a progress display while working); returns
    {row: {"status": "done", "seconds": .., SPLIT: EvalResult for each of SPLITS} or
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
            earlier = {name: {s: r[s] for s in SPLITS if s in r} for name, r in results.items() if r.get("status") == "done"}
            try:
                scores = METHODS[row](model, data, run / step, cfg, earlier)
            except MethodUnavailable as why:
                results[row] = {"status": "not available", "reason": str(why)}
                bar.console.print(f"[yellow]{row}: {why}[/yellow]")
                bar.update(task, advance=1)
                continue  # not recorded: a later run with the module present computes it
            results[row] = {"status": "done", "seconds": round(time.time() - start, 1), **scores}
            run.mark_done(step, {k: v.to_dict() if isinstance(v, EvalResult) else v for k, v in results[row].items()})
            summary = "  ".join(f"{split} {fmt_score(scores[split], with_n=True)}" for split in SPLITS if split in scores)
            bar.console.print(f"{row}: {summary}  ({results[row]['seconds']:.0f} s)", highlight=False)
            bar.update(task, advance=1)
        bar.update(task, description="demo: finished")
    return results


def run_demo(out: str | Path = "runs/demo", model: str = "smollm2-135m", size: str = "default",
             overrides: dict | None = None, seed: int = 0, console=None) -> dict:
    """Generate the built-in data, run every method (resuming), write results.json, report.md and
    accuracy.png into `out`; returns the results dict (methods hold EvalResults)."""
    from genrm.data import synth
    from genrm.data.pairs import load_pairs

    cfg = settings(size, overrides)
    run = RunDir(out)
    config = {"model": model, "size": size, "seed": seed, "settings": to_dict(cfg)}
    if (run / "config.yaml").exists() and run.load_config() != config:
        raise ValueError(f"{run.path} holds a demo run with another configuration ({run.load_config()}); "
                         "use another --out directory or delete this one")
    run.save_config(config)
    sizes = {"train": cfg.n_train, "dev": cfg.n_dev, "test": cfg.n_test, "ood": cfg.n_ood, "twin": cfg.n_twin}
    paths = synth.write_splits(run / "data", sizes, seed, tuple(cfg.ood_families), tuple(cfg.twin_families))
    data = {split: list(load_pairs(path)) for split, path in paths.items()}
    if cfg.eval_split == "dev":  # tuning: dev is scored where test would be, and test stays unread
        data["test"] = data["dev"]
    with quiet(run / "genrm.log"):  # library chatter goes to the log; the terminal shows progress and results
        methods = run_methods(run, model, data, cfg, rows=chosen_rows(cfg), console=console)
    results = {"model": model, "size": size, "seed": seed, "settings": to_dict(cfg),
               "data": {split: {"path": str(path), "n": len(data[split]), "subsets": sorted({p.subset for p in data[split]}),
                                "prompts": len({p.prompt_key for p in data[split]})} for split, path in paths.items()},
               "relations": {f: synth.RELATION[f] for f in (*cfg.ood_families, *cfg.twin_families)},
               "methods": methods}
    write_outputs(results, run.path, title=f"genrm demo: {model}, size {size}")
    return results


# ---------------------------------------------------------------- outputs


def done_methods(results: dict) -> dict[str, dict[str, EvalResult]]:
    return {name: {s: m[s] for s in SPLITS if s in m} for name, m in results["methods"].items() if m.get("status") == "done"}


def seconds(results: dict) -> dict[str, float]:
    return {name: m.get("seconds", 0) for name, m in results["methods"].items()}


def labels(results: dict) -> dict[str, str]:
    """The splits' names in tables (`split_labels` in the results override the built-in ones);
    under `eval_split: dev` the first is dev (tuning), not test."""
    tuning = results.get("settings", {}).get("eval_split") == "dev"
    names = {**SPLITS, **results.get("split_labels", {})}  # data other than the built-in names its splits
    if tuning:
        names["test"] = f"dev (tuning) in place of {names['test']}"
    return {split: label for split, label in names.items() if split in results.get("data", SPLITS)}


def claim_rows(results: dict) -> list[dict]:
    from genrm.eval import compare

    return compare.claim_tests(done_methods(results), CLAIMS, CLAIM_SPLITS)


def conclusion(results: dict) -> str:
    from genrm.eval import compare

    line = compare.conclusion(claim_rows(results), labels(results))
    return f"claims fixed {CLAIMS_SET}, tested on prompts: {line}" if line else ""


def markdown(results: dict, title: str) -> str:
    from genrm.eval import compare

    methods, names = done_methods(results), labels(results)
    intro = (f"Model `{results['model']}`, size `{results['size']}`, seed {results['seed']}. Accuracy in % with the "
             "Wilson 95% interval; the length baseline row is \"pick the longer answer\"; every figure is credited "
             "by genrm.eval.credit. No split shares a prompt with another (genrm.data.synth).")
    lines = [f"# {title}", "", intro, ""]
    lines += [f"- {split}: {info['n']} pairs, {info.get('prompts', '?')} prompts, families {', '.join(info['subsets'])}"
              for split, info in results["data"].items()]
    lines += ["", "Families never trained on:", ""]
    lines += [f"- {family}: {relation}" for family, relation in results.get("relations", {}).items()]
    lines += ["", compare.markdown(methods, names, seconds(results))]
    missing = [f"- {n}: {m.get('reason')}" for n, m in results["methods"].items() if m.get("status") != "done"]
    if missing:
        lines += ["## Not run", "", *missing, ""]
    lines += ["## How each judge behaved (test split)", "", behaviour_table(results), ""]
    if budget := budget_table(results):
        lines += ["## What each STaR row sampled and trained", "", budget, ""]
    rows = claim_rows(results)
    lines += [f"## Claims (fixed {CLAIMS_SET}; per-prompt units, Holm over all {len(rows)} tests)", "",
              compare.claim_table(rows, names) if rows else "-", ""]
    return "\n".join(lines)


def budget_table(results: dict) -> str:
    """Per STaR row: optimizer steps, rationales sampled and the tokens the model drew for them (a
    forced verdict's letter included, cue not), summed over iterations. STaR-SFT/DPO sample before
    training (a STaR-DPO run copies iteration 1's rows from STaR-SFT's: counted for each); STaR-GRPO
    samples inside training, from the model being trained."""
    from genrm.eval.report import md_table

    rows = []
    for name, m in results["methods"].items():
        iterations = (m.get("star") or {}).get("iterations") or []
        if m.get("status") != "done" or not iterations:
            continue
        drawn = [(it["grpo"]["completions"], it["grpo"]["sampled_tokens"]) if "grpo" in it else
                 (it.get("samples", 0), it.get("tokens")) for it in iterations]
        tokens = None if any(t is None for _, t in drawn) else sum(t for _, t in drawn)
        rows.append([name, str(len(iterations)), str(m.get("train_steps")), str(sum(n for n, _ in drawn)),
                     "-" if tokens is None else str(tokens)])
    return md_table(["method", "iterations", "optimizer steps", "rationales sampled", "tokens sampled"], rows) if rows else ""


def behaviour_table(results: dict) -> str:
    """Position consistency of every pairwise judge; rationale length and self-written verdicts of
    the CoT judges, which are labelled verdict-only when their rationales are that short."""
    from genrm.eval.report import md_table

    methods = done_methods(results)

    def pct(value):
        return "-" if value is None else f"{100 * value:.1f}"

    rows = []
    for name, splits in methods.items():
        b = splits["test"].behaviour if "test" in splits else {}
        steps = results["methods"][name].get("train_steps")
        tokens = b.get("mean_rationale_tokens")
        label = "verdict-only" if b.get("verdict_only") else "chain of thought" if tokens is not None else ""
        rows.append([name, "-" if steps is None else str(steps), pct(b.get("position_consistency")),
                     "-" if tokens is None else f"{tokens:.1f}", pct(b.get("self_written_verdicts")), label])
    return md_table(["method", "optimizer steps", "position consistency %", "rationale tokens (mean)",
                     "verdicts written by the model %", "judge"], rows)


def print_table(results: dict, console=None, title: str = "genrm demo") -> None:
    from genrm.eval import compare
    from genrm.eval.report import console_for_output, rich_table

    console = console or console_for_output()
    methods = done_methods(results)
    names = labels(results)
    ns = {split: next((r[split].n for r in methods.values() if split in r), "?") for split in names}
    cols = ["method"] + [f"{label}, n={ns[split]}" for split, label in names.items()] + ["s"]
    rows = compare.table_rows(methods, list(names), seconds(results))
    rows += [[n, m.get("reason", "not available"), *[""] * len(names)] for n, m in results["methods"].items()
             if m.get("status") != "done"]
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
    panels = [method_panel(done_methods(results), labels(results), title)]
    for name in (*STAR_ROWS, "STaR-GRPO"):
        star = results["methods"].get(name, {}).get("star")
        if star and Path(star["metrics"]).exists():
            panels.append(iteration_panel(read_json(star["metrics"]), f"{name}: accuracy per iteration"))
    chart(panels, paths["plot"])
    return paths


def load_results(out: str | Path) -> dict:
    results = read_json(str(Path(out) / "results.json"))
    results["methods"] = {n: load_step(m) for n, m in results["methods"].items()}
    return results
