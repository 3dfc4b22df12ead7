"""genrm train bt|genrm --model M --data D --out RUN [--eval-data E] [--config YAML] [key=value ...]

Trains a Bradley-Terry RM (TRL RewardTrainer) or an indicator-token GenRM (TRL SFTTrainer).
`key=value` overrides reach the trainer config (max_steps=3, learning_rate=1e-6,
center_rewards_coefficient=0.01) or genrm's own keys (lora.r=8, freeze_layers=20, max_length=512).
Writes RUN/checkpoint, RUN/config.yaml (resolved), RUN/train_log.json and, with --eval-data,
RUN/eval/ (results.json, report.md, chart.png: accuracy, n, Wilson 95% CI, per subset and order).
"""
from __future__ import annotations

METHODS = {"bt": "genrm.train.bt:train_bt", "genrm": "genrm.train.genrm:train_genrm"}


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="method", metavar="METHOD", required=True)
    for method, help_text in (("bt", "Bradley-Terry RM (TRL RewardTrainer)"), ("genrm", "indicator-token GenRM (TRL SFTTrainer)")):
        p = sub.add_parser(method, help=help_text, description=help_text)
        p.add_argument("--model", default="smollm2-135m", help="base model: HF id, local dir or 'smollm2-135m' (default)")
        p.add_argument("--data", required=True, help="training preference data (file, directory or hub id)")
        p.add_argument("--out", required=True, help="run directory")
        p.add_argument("--eval-data", default=None, help="held-out preference data; writes RUN/eval/results.json")
        p.add_argument("--split", default=None, help="split of a hub dataset or snapshot directory (training data)")
        p.add_argument("--config", default=None, help="YAML file of trainer/genrm settings")
        p.add_argument("overrides", nargs="*", metavar="key=value",
                       help="config overrides after the options (dotted keys for sections: lora.r=8)")


def resolved_config(method: str, config: dict) -> dict:
    """The settings the trainer runs with: the paper's defaults, the method's, then the user's."""
    import importlib

    from genrm.train.common import PAPER_DEFAULTS

    module = importlib.import_module(METHODS[method].split(":")[0])
    return {**PAPER_DEFAULTS, **getattr(module, "DEFAULTS", {}), **config}


def run(args) -> int:
    import importlib
    import time

    from rich.console import Console
    from rich.table import Table

    from genrm.config import ConfigError, load_config
    from genrm.data import DataError, load_pairs
    from genrm.logs import quiet
    from genrm.runs import RunDir
    from genrm.train.common import losses

    console = Console()
    try:
        config = load_config(args.config, args.overrides)
        pairs = load_pairs(args.data, split=args.split)
        eval_pairs = load_pairs(args.eval_data) if args.eval_data else None
    except (ConfigError, DataError) as err:
        console.print(f"[red]error:[/red] {err}", highlight=False, soft_wrap=True)
        return 1
    run_dir = RunDir(args.out)
    run_dir.save_config({"method": args.method, "model": args.model, "data": args.data, "split": args.split,
                         "eval_data": args.eval_data, "config": resolved_config(args.method, config)})
    module, fn = METHODS[args.method].split(":")
    train = getattr(importlib.import_module(module), fn)
    start = time.time()
    try:
        with quiet(run_dir.path / "genrm.log"):  # library warnings and load reports to the log; --verbose shows them
            checkpoint = train(args.model, pairs, run_dir.path, config, eval_pairs=eval_pairs)
    except (ConfigError, ValueError) as err:
        console.print(f"[red]error:[/red] {err}", highlight=False, soft_wrap=True)
        return 1
    seconds = time.time() - start
    table = Table(title=f"genrm train {args.method}")
    table.add_column("item")
    table.add_column("value", overflow="fold")
    table.add_row("training pairs", str(len(pairs)))
    history = losses(run_dir.path)
    if history:
        table.add_row("loss (first -> last)", f"{history[0]:.4f} -> {history[-1]:.4f} ({len(history)} logged)")
    table.add_row("time", f"{seconds:.0f} s")
    if eval_pairs is not None:
        import json

        from genrm.eval.report import fmt_score
        from genrm.types import EvalResult

        result = EvalResult.from_dict(json.loads((run_dir.path / "eval" / "results.json").read_text()))
        table.add_row("held-out accuracy %", f"{fmt_score(result.pooled, with_n=True)}, length baseline "
                      f"{100 * result.pooled.length_baseline:.1f}")
    table.add_row("checkpoint", str(checkpoint))
    console.print(table)
    return 0
