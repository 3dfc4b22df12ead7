"""genrm rs [--config YAML] --policy M --judge J --prompts P.jsonl --n N --out FILE.jsonl [beta=1.0] [key=value ...]

Statistical rejection sampling (RSO): sample N candidates per prompt, score them with the judge
(a pointwise judge's reward, or the round-robin Bradley-Terry strength for pairwise judges), accept
each with probability exp((r - M) / beta), M = the largest reward among the prompt's candidates.
Seeded (`seed=`): the same seed gives the same samples and the same accept decisions. Each output
row adds `rs` (beta, bound M, acceptance probabilities, accepted indices, acceptance rate) and
`accepted` (the accepted texts); the summary (FILE.summary.json + a table) gives the acceptance
rate. Other options as for `genrm bon` (ranking=auto|score|round_robin).
"""
from __future__ import annotations

from genrm.policy.options import resolve  # the recipe + options -> BonConfig


def add_arguments(parser) -> None:
    from genrm.policy.options import add_arguments as add

    add(parser, "candidates")


def run(args) -> int:
    from dataclasses import asdict

    from rich.console import Console

    from genrm.config import ConfigError
    from genrm.data.pairs import DataError
    from genrm.eval.report import rich_table
    from genrm.logs import quiet
    from genrm.policy.bon import mean_ci, rejection_sample, stream
    from genrm.policy.options import summary_path
    from genrm.runs import atomic_write_json

    console = Console()

    def finish(record: dict) -> dict:
        rewards = [c["score"] for c in record["candidates"]]
        result = rejection_sample(rewards, config.beta, seed=config.seed, key=record["id"])
        record["rs"] = {"beta": config.beta, "bound": result.bound, "probs": result.probs,
                        "accepted": result.accepted, "acceptance_rate": result.acceptance_rate}
        record["accepted"] = [record["candidates"][i]["text"] for i in result.accepted]
        return record

    try:
        config = resolve(args)
        if config.ranking == "knockout":
            raise ConfigError("rejection sampling needs a reward per candidate: use ranking=score (BT) or round_robin")
        if config.beta <= 0:
            raise ConfigError(f"beta must be positive, got {config.beta}")
        with quiet(f"{args.out}.log"):  # library noise beside the output (--verbose shows it)
            records = stream(config.policy, config.judge, config.prompts, config.n, args.out, config, need_scores=True,
                             resume=args.resume, finish=finish)
    except (ConfigError, DataError, ValueError) as err:
        console.print(f"[red]error:[/red] {err}", highlight=False, soft_wrap=True)
        return 1
    total = sum(len(r["candidates"]) for r in records)
    accepted = sum(len(r["rs"]["accepted"]) for r in records)
    summary = {"policy": config.policy, "judge": config.judge, "prompts": config.prompts, "n": config.n,
               "beta": config.beta,
               "options": asdict(config), "ranking": records[0]["ranking"] if records else None,
               "candidates": total, "accepted": accepted, "acceptance_rate": accepted / total if total else 0.0,
               "acceptance_rate_per_prompt": mean_ci([r["rs"]["acceptance_rate"] for r in records]),
               "accepted_score": mean_ci([r["candidates"][i]["score"] for r in records for i in r["rs"]["accepted"]]),
               "candidate_score": mean_ci([c["score"] for r in records for c in r["candidates"]]), "out": args.out}
    atomic_write_json(summary_path(args.out), summary)
    console.print(rich_table(("prompts", "candidates", "accepted", "acceptance rate", "mean accepted score",
                              "mean candidate score"),
                             [[str(len(records)), str(total), str(accepted), f"{summary['acceptance_rate']:.3f}",
                               _mean(summary["accepted_score"]), _mean(summary["candidate_score"])]],
                             f"rejection sampling, beta={config.beta}: {config.policy} scored by {config.judge}"))
    console.print(f"wrote {args.out} and {summary_path(args.out)}", highlight=False, soft_wrap=True)
    return 0


def _mean(stat: dict) -> str:
    return "-" if stat["mean"] is None else f"{stat['mean']:.3f} (n={stat['n']})"
