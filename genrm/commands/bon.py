"""genrm bon [--config YAML] --policy M --judge J --prompts P.jsonl --n N --out FILE.jsonl [key=value ...]

Best-of-N: sample N answers per prompt from the policy, rank them with the judge (anything
`genrm.load_judge` accepts), write one JSON line per prompt (`prompt`, `candidates` with text and
score or wins, `winner`) and a summary (FILE.summary.json + a table).
Options (a recipe such as recipes/bon-tiny.yaml, or key=value; genrm.policy.bon.BonConfig): policy, judge, prompts,
n (the command-line options of the same names override them), ranking=auto|score|knockout|round_robin, seed=0, limit,
chunk_size=8, judge_kind, sampling.{temperature,top_p,max_new_tokens,batch_size,backend,dtype},
eval.batch_size (judge). `--resume` keeps the rows already in FILE and does only the missing prompts.
"""
from __future__ import annotations

from genrm.policy.options import resolve  # the recipe + options -> BonConfig


def add_arguments(parser) -> None:
    from genrm.policy.options import add_arguments as add

    add(parser, "answers")


def run(args) -> int:
    from dataclasses import asdict

    from rich.console import Console

    from genrm.config import ConfigError
    from genrm.data.pairs import DataError
    from genrm.eval.report import rich_table
    from genrm.logs import quiet
    from genrm.policy.bon import format_mean_ci, mean_ci, stream
    from genrm.policy.options import summary_path
    from genrm.runs import atomic_write_json

    console = Console()
    try:
        config = resolve(args)
        with quiet(f"{args.out}.log"):  # library noise beside the output (--verbose shows it)
            records = stream(config.policy, config.judge, config.prompts, config.n, args.out, config, resume=args.resume)
    except (ConfigError, DataError, ValueError) as err:
        console.print(f"[red]error:[/red] {err}", highlight=False, soft_wrap=True)
        return 1
    summary = {"policy": config.policy, "judge": config.judge, "prompts": config.prompts, "n": config.n,
               "options": asdict(config),
               "ranking": records[0]["ranking"] if records else None,
               "winner_score": mean_ci([r["winner"]["score"] for r in records]),
               "candidate_score": mean_ci([sum(c["score"] for c in r["candidates"]) / len(r["candidates"]) for r in records]),
               "comparisons": sum(r["comparisons"] for r in records), "out": args.out}
    atomic_write_json(summary_path(args.out), summary)
    console.print(rich_table(("prompts", "mean winner score [95% CI]", "mean candidate score [95% CI]", "comparisons"),
                             [[str(len(records)), format_mean_ci(summary["winner_score"]),
                               format_mean_ci(summary["candidate_score"]), str(summary["comparisons"])]],
                             f"best-of-{config.n}: {config.policy} ranked by {config.judge} ({summary['ranking']})"))
    console.print(f"wrote {args.out} and {summary_path(args.out)}", highlight=False, soft_wrap=True)
    return 0
