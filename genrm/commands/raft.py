"""genrm raft --policy M --judge J --prompts P.jsonl --out RUN [--config recipe.yaml] [key=value ...]

Reward-ranked fine-tuning: each iteration samples n answers per prompt from the current policy,
ranks them with the judge, fine-tunes (SFT) on the top-k per prompt and continues from the new
checkpoint. Keys (genrm/policy/raft.py DEFAULTS): iterations=2, n=4, top_k=1, ranking=auto|score|round_robin,
limit, prompts_per_iteration, seed, eval_final, sampling.{temperature,top_p,max_new_tokens,batch_size,
backend,dtype}, train.{learning_rate,num_train_epochs,...,lora,freeze_layers,max_length}.
Rerunning the same command on the same RUN resumes after the last finished step.
"""
from __future__ import annotations

from pathlib import Path


def add_arguments(parser) -> None:
    parser.add_argument("--policy", default=None, help="starting policy (default: smollm2-135m)")
    parser.add_argument("--judge", default=None, help="judge: anything genrm.load_judge accepts")
    parser.add_argument("--prompts", default=None, help="JSON lines with a `prompt` field")
    parser.add_argument("--out", required=True, help="run directory (resumed if it exists)")
    parser.add_argument("--config", default=None, help="YAML recipe; key=value overrides apply on top")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides (dotted keys)")


def resolve(args):
    """The RaftConfig of the recipe, its key=value overrides and the command-line options, checked
    (train.* keys against TRL's SFTConfig too)."""
    from genrm.config import load_config
    from genrm.policy.raft import check_config

    config = load_config(args.config, args.overrides)
    config.update({key: getattr(args, key) for key in ("policy", "judge", "prompts") if getattr(args, key) is not None})
    return check_config(config)


def run(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from genrm.config import ConfigError, to_dict
    from genrm.data.pairs import DataError
    from genrm.logs import quiet
    from genrm.policy.bon import format_mean_ci
    from genrm.policy.raft import Raft

    console = Console()
    try:
        with quiet(Path(args.out) / "genrm.log"):  # library noise to the log (--verbose shows it)
            metrics = Raft(args.out, to_dict(resolve(args))).run_all()
    except (ConfigError, DataError, ValueError) as err:
        console.print(f"[red]error:[/red] {err}", highlight=False, soft_wrap=True)
        return 1
    table = Table(title=f"RAFT: {args.out}")
    for col in ("iteration", "prompts", "samples", "mean score [95% CI]", "top-k score", "best score", "train loss first -> last"):
        table.add_column(col)
    rows = metrics["iterations"] + ([{**metrics["final"], "iteration": "final"}] if "final" in metrics else [])
    for m in rows:
        train = m.get("train") or {}
        loss = (f"{train['first_loss']:.3f} -> {train['last_loss']:.3f}" if train.get("last_loss") is not None else "-")
        table.add_row(str(m["iteration"]), str(m["prompts"]), str(m["samples"]), format_mean_ci(m["mean_score"]),
                      format_mean_ci(m["top_k_score"]), format_mean_ci(m["best_score"]), loss)
    console.print(table)
    console.print(f"metrics: {args.out}/metrics.json", highlight=False, soft_wrap=True)
    return 0

