"""How results are shown: results.json, report.md, the terminal table and every chart genrm draws.

`write_outputs(result, out)` writes one EvalResult; `chart(panels, path)` is the one plotter
(an evaluation's sections and subsets, the demo's methods, a STaR run's iterations are all
panels of bars or lines with 95% intervals and a chance line).
"""
from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from genrm.eval import judgebench as jb
from genrm.eval import rewardbench as rb
from genrm.eval import rmbench as rmb
from genrm.eval.masterkey import key_wins
from genrm.runs import atomic_write_bytes, atomic_write_json, atomic_write_text
from genrm.stats import wilson
from genrm.types import EvalResult, Score

COLUMNS = ("group", "subset", "n", "accuracy", "95% CI", "length baseline", "chosen first", "chosen second",
           "ties", "unparsed")


def pct(value) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def fmt_score(score: Score | None, with_n: bool = False) -> str:
    """`71.9 [60-81]` (accuracy % and Wilson 95% CI), optionally with `(n=64)`."""
    if score is None:
        return "-"
    text = pct(score.accuracy)
    if score.ci95:
        text += f" [{100 * score.ci95[0]:.0f}-{100 * score.ci95[1]:.0f}]"
    return text + (f" (n={score.n})" if with_n else "")


def md_table(cols: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    return "\n".join(["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)] + ["| " + " | ".join(r) + " |" for r in rows])


def rich_table(cols: Sequence[str], rows: Sequence[Sequence[str]], title: str | None = None, left: int = 1):
    from rich.table import Table

    table = Table(title=title)
    for i, col in enumerate(cols):
        table.add_column(col, justify="left" if i < left else "right")
    for row in rows:
        table.add_row(*row)
    return table


def console_for_output():
    from rich.console import Console

    console = Console()
    if not console.is_terminal:  # piped or captured: do not cut tables at 80 columns
        console.width = 200
    return console


# ---------------------------------------------------------------- one evaluation


def group_of(result: EvalResult, subset: str) -> str:
    if subset in result.other_subsets:
        return rb.OTHER
    if result.bench == "rewardbench":
        return rb.section_of(subset)
    return {"rewardbench2": "domain", "rmbench": "domain", "judgebench": "source"}.get(result.bench, "subset")


def subset_rows(result: EvalResult) -> list[list[str]]:
    """One row per subset, ordered by group (sections in official order, Other last)."""
    order = list(rb.SECTIONS) + ["Prior Sets", "domain", "source", "subset", rb.OTHER]
    rows = []
    for name, s in result.subsets.items():
        ci = "-" if s.ci95 is None else f"{pct(s.ci95[0])}-{pct(s.ci95[1])}"
        rows.append([group_of(result, name), name, str(s.n), pct(s.accuracy), ci, pct(s.length_baseline),
                     pct(s.chosen_first_accuracy), pct(s.chosen_second_accuracy), str(s.ties), str(s.unparsed)])
    return sorted(rows, key=lambda r: (order.index(r[0]), r[1]))


def section_rows(result: EvalResult) -> list[list[str]]:
    length = result.length_baseline
    rows = [[name, pct(score), pct(length["sections"].get(name))] for name, score in result.sections.items()]
    rows.append(["overall", pct(result.overall), pct(length["overall"])])
    if result.overall_legacy is not None:
        rows.append(["overall (legacy, with Prior Sets)", pct(result.overall_legacy), "-"])
    return rows


def header_lines(result: EvalResult) -> list[str]:
    p = result.pooled
    lines = [
        (f"bench {result.bench} · model {result.model} · judge {result.judge} · {result.n} examples"
         f" · data sha256 {result.data_hash[:12]} · genrm {result.genrm_version}"),
        (f"accuracy {fmt_score(p, with_n=True)} · length baseline {pct(p.length_baseline)} · chance {pct(result.chance)}"
         f" · ties {result.counts['ties']} · unparsed {result.counts['unparsed']}"),
        (f"accuracy with the chosen response shown first {pct(p.chosen_first_accuracy)} (n={p.n_chosen_first}) / "
         f"second {pct(p.chosen_second_accuracy)} (n={p.n_chosen_second})")]
    lines += judge_lines(result)
    if result.bench == "masterkey":
        wins = key_wins(result.subsets)
        worst = max(wins, key=lambda r: r["wins"]) if wins else None
        if worst:
            lines.append(f"master keys beat the real answer in {pct(1 - p.accuracy)}% of {p.n} pairs; most often "
                         f"{worst['text']!r} ({pct(worst['wins'])}% of {worst['n']}); per key in the master-key table")
    if result.other_subsets:
        lines.append(f"subsets outside the official list (group {rb.OTHER}, in no section): " + ", ".join(result.other_subsets))
    partial = [name for name, c in result.coverage.items() if not c["complete"]]
    if partial:
        lines.append("partial sections (weights renormalised over the subsets present): " + ", ".join(
            f"{name} (missing {len(result.coverage[name]['missing'])})" for name in partial))
    return lines + skipped_lines(result) + [f"note: {note}" for note in result.notes]


def judge_lines(result: EvalResult) -> list[str]:
    """Calibration, position consistency and, for CoT judges, rationales and accuracy by votes."""
    lines, b, cal = [], result.behaviour, result.calibration
    if cal:
        lines.append(f"calibration: expected calibration error {cal['ece']:.3f} over {cal['n']} pairs "
                     f"(confidence = max(p_chosen, 1 - p_chosen) in {len(cal['bins'])} occupied bins; reliability in chart.png)")
    if "position_consistency" in b:
        lines.append(f"position consistency {pct(b['position_consistency'])}% of {b['pairs_both_orders']} pairs shown in both "
                     "orders (the same response preferred both times)")
    if "mean_rationale_tokens" in b:
        lines.append(f"rationales: {b['mean_rationale_tokens']:.1f} sampled tokens on average over {b['rationales']}, "
                     f"verdicts written by the model {pct(b['self_written_verdicts'])}%"
                     + (" · verdict-only (under 16 tokens)" if b["verdict_only"] else ""))
    if result.votes_curve:
        lines.append("accuracy by votes per order (the same samples): " + ", ".join(
            f"k={r['k']} {pct(r['accuracy'])} ({r['tokens_per_decision']:.0f} tokens/pair)" for r in result.votes_curve))
    return lines


def skipped_lines(result: EvalResult) -> list[str]:
    """What was left out and why: over-length pairs per subset, invalid rows per kind."""
    lines = []
    if too_long := result.skipped.get("too_long"):
        per_subset = ", ".join(f"{k} {v}" for k, v in sorted(too_long["subsets"].items()))
        lines.append(f"skipped {too_long['n']} pair(s) over the limit of {too_long['limit']} tokens "
                     f"(--over-length skip): {per_subset}")
    if invalid := result.skipped.get("invalid"):
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(invalid["kinds"].items()))
        lines.append(f"skipped {invalid['n']} invalid row(s) (--skip-invalid): {kinds}; first: {invalid['first'][0]}")
    if result.memory:
        lines.append("peak memory: " + ", ".join(f"{k} {v}" for k, v in result.memory.items()))
    return lines


FIGURES = {"rmbench": (rmb, "RM-Bench (official: THU-KEG/RM-Bench compute_accuracy), accuracy %"),
           "judgebench": (jb, "JudgeBench (official: ScalerLab/JudgeBench compute_final_metrics), score %")}


def figures_table(result: EvalResult) -> tuple[str, Sequence[str], list[list[str]]] | None:
    """(title, columns, rows) of a bench's own official table (RM-Bench, JudgeBench), else None."""
    if result.bench not in FIGURES or not result.figures:
        return None
    module, title = FIGURES[result.bench]
    rows = [[pct(v) if isinstance(v, float) else str(v) for v in row] for row in module.table_rows(result.figures)]
    return title, module.TABLE_COLUMNS, rows


def markdown(result: EvalResult) -> str:
    own = figures_table(result)
    parts = [f"# {result.bench} results", "", *[f"- {line}" for line in header_lines(result)], "",
             *([f"## {own[0]}", "", md_table(own[1], own[2]), ""] if own else []),
             "## Sections", "", md_table(("section", "score", "length baseline"), section_rows(result)), "",
             "## Subsets (accuracy %, Wilson 95% CI)", "", md_table(COLUMNS, subset_rows(result)), "",
             *masterkey_part(result), *calibration_part(result),
             "## Credit policy", "", *[f"- **{k}**: {v}" for k, v in result.tie_policy.items()], ""]
    return "\n".join(parts)


def masterkey_rows(result: EvalResult) -> list[list[str]]:
    return [[r["key"], repr(r["text"]), str(r["n"]), pct(r["wins"]), f"{pct(r['ci95'][0])}-{pct(r['ci95'][1])}"]
            for r in key_wins(result.subsets)]


MASTERKEY_COLUMNS = ("master key", "response", "n", "master key wins %", "95% CI")


def masterkey_part(result: EvalResult) -> list[str]:
    if result.bench != "masterkey":
        return []
    return ["## Master keys (Zhao et al. 2025): share of pairs where the key beat the real chosen answer", "",
            md_table(MASTERKEY_COLUMNS, masterkey_rows(result)), ""]


def calibration_part(result: EvalResult) -> list[str]:
    parts = []
    if result.calibration:
        rows = [[f"{b['low']:.2f}-{b['high']:.2f}", str(b["n"]), pct(b["confidence"]), pct(b["accuracy"])]
                for b in result.calibration["bins"]]
        parts += [f"## Calibration (ECE {result.calibration['ece']:.3f})", "",
                  md_table(("confidence bin", "n", "mean confidence %", "accuracy %"), rows), ""]
    if result.votes_curve:
        rows = [[str(r["k"]), str(r["n"]), f"{pct(r['accuracy'])} [{pct(r['ci95'][0])}-{pct(r['ci95'][1])}]",
                 f"{r['tokens_per_decision']:.0f}"] for r in result.votes_curve]
        parts += ["## Accuracy by votes per order (first k samples of each order, no resampling)", "",
                  md_table(("k", "n", "accuracy % [95% CI]", "sampled tokens per pair"), rows), ""]
    return parts


def print_table(result: EvalResult, console=None) -> None:
    console = console or console_for_output()
    for line in header_lines(result):
        console.print(line, highlight=False, soft_wrap=True)
    console.print(rich_table(COLUMNS, subset_rows(result), "subsets (accuracy %)", left=2))
    console.print(rich_table(("section", "score", "length baseline"), section_rows(result), "sections"))
    if own := figures_table(result):
        console.print(rich_table(own[1], own[2], own[0], left=1 if result.bench == "rmbench" else 2))
    if result.bench == "masterkey":
        console.print(rich_table(MASTERKEY_COLUMNS, masterkey_rows(result), "master keys: share of pairs won", left=2))


def result_panels(result: EvalResult) -> list[Panel]:
    length = result.length_baseline
    sections = {**result.sections, **({"overall": result.overall} if result.overall is not None else {})}
    section_length = {**length["sections"], "overall": length["overall"]}
    names = [row[1] for row in subset_rows(result)]  # grouped by section, Other last
    judge = result.judge or "judge"
    panels = []
    if sections:
        panels.append(Panel(f"{result.bench} sections · {result.model}", list(sections),
                            {judge: [(sections[k], None) for k in sections],
                             "length baseline": [(section_length.get(k), None) for k in sections]}, result.chance))
    labels = [f"{n} ({rb.OTHER})" if n in result.other_subsets else n for n in names]
    panels.append(Panel(f"{result.bench} subsets · {result.model}", labels,
                        {judge: [(result.subsets[n].accuracy, result.subsets[n].ci95) for n in names],
                         "length baseline": [(result.subsets[n].length_baseline, None) for n in names]}, result.chance))
    if result.calibration:
        bins = result.calibration["bins"]
        panels.append(Panel(f"reliability · {result.model} · ECE {result.calibration['ece']:.3f}",
                            [f"{b['low']:.2f}-{b['high']:.2f} (n={b['n']})" for b in bins],
                            {"accuracy": [(b["accuracy"], wilson(b["accuracy"], b["n"])) for b in bins],
                             "mean confidence (perfect calibration)": [(b["confidence"], None) for b in bins]},
                            chance=None, style="line", xlabel="confidence max(p_chosen, 1 - p_chosen)", ylabel="%"))
    if result.votes_curve:
        panels.append(Panel(f"accuracy by votes per order · {result.model}", [str(r["k"]) for r in result.votes_curve],
                            {judge: [(r["accuracy"], r["ci95"]) for r in result.votes_curve]}, result.chance,
                            style="line", xlabel="votes per order (first k samples)"))
    return panels


def write_outputs(result: EvalResult, out: str | Path) -> None:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "results.json", result.to_dict())
    atomic_write_text(out / "report.md", markdown(result))
    chart(result_panels(result), out / "chart.png")


# ---------------------------------------------------------------- the one plotter


@dataclass
class Panel:
    """One chart panel: x categories, series of (value, [low, high] or None) per category, a chance line."""

    title: str
    categories: list[str]
    series: dict[str, list[tuple[float | None, list[float] | None]]]
    chance: float | None = 0.5
    style: str = "bar"  # or "line"
    xlabel: str = ""
    ylabel: str = "accuracy % (95% CI)"
    notes: list[str] = field(default_factory=list)


def chart(panels: Sequence[Panel], path: str | Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    width = max(6.0, max(0.55 * len(p.categories) * max(1, len(p.series)) / 2 + 3 for p in panels))
    fig, axes = plt.subplots(len(panels), 1, figsize=(width, 4 * len(panels)), squeeze=False)
    for ax, panel in zip(axes[:, 0], panels):
        xs = list(range(len(panel.categories)))
        k = len(panel.series)
        for i, (name, points) in enumerate(panel.series.items()):
            shift = (i - (k - 1) / 2) * (0.8 / k) if panel.style == "bar" else 0.0
            pts = [(x + shift, v, ci) for x, (v, ci) in zip(xs, points) if v is not None]
            if not pts:
                continue
            px, py = [p[0] for p in pts], [100 * p[1] for p in pts]
            # an interval's end can miss its estimate by a rounding error (Wilson at 0% or 100%): never a negative bar
            err = [[max(0.0, 100 * (v - ci[0])) if ci else 0 for _, v, ci in pts],
                   [max(0.0, 100 * (ci[1] - v)) if ci else 0 for _, v, ci in pts]]
            has_err = any(ci for *_, ci in pts)
            if panel.style == "bar":
                ax.bar(px, py, width=0.8 / k, label=name, yerr=err if has_err else None, capsize=2)
            else:
                ax.errorbar(px, py, yerr=err if has_err else None, marker="o", capsize=3, label=name)
        if panel.chance is not None:
            ax.axhline(100 * panel.chance, color="grey", ls="--", lw=0.8)
        ax.set_xticks(xs, panel.categories, rotation=30 if panel.style == "bar" else 0, ha="right" if panel.style == "bar" else "center",
                      fontsize=8)
        ax.set(ylim=(0, 100), ylabel=panel.ylabel, xlabel=panel.xlabel)
        ax.set_title(panel.title, fontsize=9)
        if panel.series:
            ax.legend(fontsize=7)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())


def iteration_panel(metrics: dict, title: str) -> Panel:
    """Accuracy per STaR iteration for each evaluation set (iteration 0 = the starting model)."""
    stages = ([(0, metrics["baseline"])] if metrics.get("baseline") else []) + \
             [(e["iteration"], e["eval"]) for e in metrics["iterations"]]
    names = sorted({name for _, ev in stages for name, s in ev.items() if isinstance(s, dict) and "accuracy" in s})
    series = {}
    for name in names:
        n = next((ev[name]["n"] for _, ev in reversed(stages) if name in ev), "?")
        series[f"{name} (n={n})"] = [(ev[name]["accuracy"], ev[name]["ci95"]) if name in ev else (None, None)
                                     for _, ev in stages]
    return Panel(title, [str(it) for it, _ in stages], series, style="line",
                 xlabel="STaR iteration (0 = starting model)", ylabel="CoT judge accuracy % (95% CI)")
