"""The demo at several data seeds: each seed's run in OUT/seed-N (resumable like any demo run),
then every method's accuracy as mean ± sd over the seeds, the per-seed table, each claim's verdict
per seed, and each claim tested once over the prompts of all seeds pooled (each seed has its own
data, so its prompts are independent units; Holm over the list) (OUT/seeds.json, OUT/seeds.md).
One seed: the plain demo in OUT."""
from __future__ import annotations

import statistics
from pathlib import Path

from genrm.demo.run import claim_rows, done_methods, labels, run_demo
from genrm.demo.settings import CLAIM_SPLITS, CLAIMS, CLAIMS_SET
from genrm.runs import atomic_write_json, atomic_write_text


def run_seeds(out: str | Path, seeds: list[int], model: str = "smollm2-135m", size: str = "default",
              overrides: dict | None = None, console=None) -> dict[int, dict]:
    """{seed: that seed's demo results}; with several seeds also writes the summary into `out`."""
    if len(seeds) == 1:
        return {seeds[0]: run_demo(out, model, size, overrides, seeds[0], console)}
    per_seed = {}
    for seed in seeds:
        if console is not None:
            console.print(f"[bold]seed {seed}[/bold] ({len(per_seed) + 1} of {len(seeds)}) -> {Path(out) / f'seed-{seed}'}")
        per_seed[seed] = run_demo(Path(out) / f"seed-{seed}", model, size, overrides, seed, console)
    summary = summarize(per_seed)
    atomic_write_json(Path(out) / "seeds.json", summary)
    atomic_write_text(Path(out) / "seeds.md", markdown(summary, f"genrm demo: {model}, size {size}, seeds {seeds}"))
    return per_seed


def summarize(per_seed: dict[int, dict]) -> dict:
    """Accuracy (%) per method and split: per seed, mean and sd; each claim's verdict per seed."""
    accuracy: dict[str, dict[str, dict]] = {}
    claims: dict[str, dict] = {}
    for seed, results in per_seed.items():
        for name, splits in done_methods(results).items():
            for split, result in splits.items():
                accuracy.setdefault(name, {}).setdefault(split, {"per_seed": {}})["per_seed"][seed] = 100 * result.accuracy
        for row in claim_rows(results):
            key = f"{row['claim']} | {row['split']}"
            claims.setdefault(key, {})[seed] = {"verdict": row["verdict"], "diff": 100 * row["test"].diff, "p": row["test"].p}
    for splits in accuracy.values():
        for cell in splits.values():
            values = list(cell["per_seed"].values())
            cell["mean"] = statistics.fmean(values)
            cell["sd"] = statistics.stdev(values) if len(values) > 1 else 0.0
    first = next(iter(per_seed.values()))
    return {"seeds": list(per_seed), "splits": labels(first), "accuracy": accuracy, "claims": claims,
            "pooled": pooled_claims(per_seed), "claims_set": CLAIMS_SET}


def pooled_claims(per_seed: dict[int, dict]) -> list[dict]:
    """Each claim over the prompts of every seed (compare.claim_tests over the runs), as plain data."""
    from genrm.eval import compare

    rows = compare.claim_tests([done_methods(r) for r in per_seed.values()], CLAIMS, CLAIM_SPLITS)
    return [{"claim": str(r["claim"]), "split": r["split"], "verdict": r["verdict"], "significant": r["significant"],
             "diff": 100 * r["test"].diff, "ci95": [100 * x for x in r["test"].ci95], "p": r["test"].p,
             "prompts": r["test"].n, "wins": r["test"].wins, "losses": r["test"].losses} for r in rows]


def markdown(summary: dict, title: str) -> str:
    from genrm.eval.report import md_table

    splits, seeds = summary["splits"], summary["seeds"]
    mean_rows = [[name] + [f"{c[s]['mean']:.1f} ± {c[s]['sd']:.1f}" if s in c else "-" for s in splits]
                 for name, c in summary["accuracy"].items()]
    seed_rows = [[name, str(seed)] + [f"{c[s]['per_seed'][seed]:.1f}" if s in c and seed in c[s]["per_seed"] else "-"
                                      for s in splits] for name, c in summary["accuracy"].items() for seed in seeds]
    claim_rows_ = [[key.split(" | ")[0], splits.get(key.split(" | ")[1], key.split(" | ")[1])]
                   + [f"{v[seed]['verdict']} ({v[seed]['diff']:+.1f}, p={v[seed]['p']:.2g})" if seed in v else "-" for seed in seeds]
                   for key, v in summary["claims"].items()]
    pooled = [[r["claim"], splits.get(r["split"], r["split"]), f"{r['diff']:+.1f} [{r['ci95'][0]:+.1f}, {r['ci95'][1]:+.1f}]",
               f"{r['wins']}/{r['losses']} of {r['prompts']}", f"{r['p']:.2g}", r["verdict"]] for r in summary.get("pooled", [])]
    return "\n".join([
        f"# {title}", "", (f"Accuracy % over {len(seeds)} data seeds (mean ± sd across seeds; each seed its own data, "
                           "training and scoring)."), "", md_table(["method", *splits.values()], mean_rows), "",
        "## Per seed", "", md_table(["method", "seed", *splits.values()], seed_rows), "",
        f"## Claims per seed (fixed {summary['claims_set']}; per-prompt sign tests, Holm within each seed)", "",
        md_table(["claim", "split", *[f"seed {s}" for s in seeds]], claim_rows_), "",
        f"## Claims over the prompts of all {len(seeds)} seeds pooled (sign test over prompts, Holm over the list)", "",
        md_table(["claim", "split", "A - B (points) [95% CI]", "prompts A better / B better", "p", "verdict"], pooled), ""])


def print_summary(summary: dict, console, title: str) -> None:
    from genrm.eval.report import rich_table

    splits = summary["splits"]
    rows = [[name] + [f"{c[s]['mean']:.1f} ± {c[s]['sd']:.1f}" if s in c else "-" for s in splits]
            for name, c in summary["accuracy"].items()]
    console.print(rich_table(["method", *splits.values()], rows, title))
    console.print(f"accuracy % over seeds {summary['seeds']}: mean ± sd; per seed and claims in seeds.md", highlight=False)
