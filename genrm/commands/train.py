"""genrm train bt|genrm [--config YAML] [--model M] [--data D] --out RUN [--eval-data E] [key=value ...]

Trains a Bradley-Terry RM (TRL RewardTrainer) or an indicator-token GenRM (TRL SFTTrainer).
A recipe (recipes/bt-*.yaml, recipes/genrm-*.yaml) sets the run keys of `TrainRun` (model, data,
data_split, eval_data, eval_fraction, max_train_pairs, max_eval_pairs) and trainer keys; the options given on the
command line override the recipe, and `key=value` overrides reach the trainer config (max_steps=3,
learning_rate=1e-6, center_rewards_coefficient=0.01, report_to=tensorboard) or genrm's own keys
(lora.r=8, freeze_layers=20, max_length=512). Unknown keys fail before any data is loaded.
Writes RUN/checkpoint, RUN/config.yaml (resolved), RUN/train_log.json and, with eval data,
RUN/eval/ (results.json, report.md, chart.png: accuracy, n, Wilson 95% CI, per subset and order).
"""
from __future__ import annotations

from dataclasses import dataclass, fields

METHODS = {"bt": "genrm.train.bt:train_bt", "genrm": "genrm.train.genrm:train_genrm"}


@dataclass
class TrainRun:
    """What a train recipe says besides the trainer settings: the model and the data, selected as
    `genrm star` selects them: training pairs shuffled with the trainer's `seed`, then held out, then cut."""

    model: str = "smollm2-135m"  # HF id, local dir or the embedded default
    data: str | None = None  # training pairs: file, directory or hub id (genrm.data.pairs.load_pairs)
    data_split: str | None = None  # split of a hub dataset or snapshot directory (training data)
    eval_data: str | None = None  # held-out pairs; the run then writes RUN/eval/
    eval_fraction: float | None = None  # without eval_data: hold out this fraction of `data` instead
    max_train_pairs: int | None = None  # train on at most N of the (shuffled) training pairs
    max_eval_pairs: int | None = None  # evaluate on the first N held-out pairs


# command-line option -> TrainRun key
FLAGS = {"model": "model", "data": "data", "split": "data_split", "eval_data": "eval_data"}


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="method", metavar="METHOD", required=True)
    for method, help_text in (("bt", "Bradley-Terry RM (TRL RewardTrainer)"), ("genrm", "indicator-token GenRM (TRL SFTTrainer)")):
        p = sub.add_parser(method, help=help_text, description=help_text)
        p.add_argument("--config", default=None, help="YAML recipe: run keys (model, data, ...) and trainer/genrm settings")
        p.add_argument("--model", default=None, help="base model: HF id, local dir or 'smollm2-135m' (default)")
        p.add_argument("--data", default=None, help="training preference data (file, directory or hub id); or `data:` in the recipe")
        p.add_argument("--out", required=True, help="run directory")
        p.add_argument("--eval-data", default=None, help="held-out preference data; writes RUN/eval/results.json")
        p.add_argument("--split", default=None, help="split of a hub dataset or snapshot directory (training data)")
        p.add_argument("overrides", nargs="*", metavar="key=value",
                       help="config overrides after the options (dotted keys for sections: lora.r=8)")


def check_config(method: str, config: dict) -> tuple[TrainRun, dict]:
    """(run keys, trainer config) of a train config; unknown or mistyped keys raise ConfigError.
    Nothing is loaded or instantiated: a GPU recipe checks on any machine."""
    import importlib

    from genrm.config import ConfigError, load_typed

    names = {f.name for f in fields(TrainRun)}
    run = load_typed(TrainRun, {k: v for k, v in config.items() if k in names})
    if not run.data:
        raise ConfigError("no training data: pass --data D or set `data:` in the recipe")
    if run.eval_fraction is not None and not 0 < run.eval_fraction < 1:
        raise ConfigError(f"eval_fraction must be between 0 and 1, not {run.eval_fraction}")
    trainer = {k: v for k, v in config.items() if k not in names}
    importlib.import_module(METHODS[method].split(":")[0]).check_config(trainer)
    return run, trainer


def resolve(args) -> tuple[TrainRun, dict]:
    """The recipe, its key=value overrides, then the command-line options, checked."""
    from genrm.config import load_config

    config = load_config(args.config, args.overrides)
    for flag, key in FLAGS.items():
        if getattr(args, flag) is not None:
            config[key] = getattr(args, flag)
    return check_config(args.method, config)


def select_pairs(spec: TrainRun, seed: int) -> tuple[list, list | None]:
    """(training pairs, held-out pairs or None) of a checked TrainRun."""
    import random

    from genrm.data.pairs import load_pairs

    pairs = list(load_pairs(spec.data, split=spec.data_split))
    random.Random(seed).shuffle(pairs)
    held_out = list(load_pairs(spec.eval_data)) if spec.eval_data else None
    if held_out is None and spec.eval_fraction:
        cut = max(1, int(len(pairs) * spec.eval_fraction))
        held_out, pairs = pairs[:cut], pairs[cut:]
    return pairs[:spec.max_train_pairs], held_out[:spec.max_eval_pairs] if held_out is not None else None


def resolved_config(method: str, config: dict) -> dict:
    """The settings the trainer runs with: the paper's defaults, the method's, then the user's."""
    import importlib

    from genrm.train.common import PAPER_DEFAULTS

    module = importlib.import_module(METHODS[method].split(":")[0])
    return {**PAPER_DEFAULTS, **getattr(module, "DEFAULTS", {}), **config}


def run(args) -> int:
    import dataclasses
    import importlib
    import time

    from rich.console import Console
    from rich.table import Table

    from genrm.config import ConfigError
    from genrm.data.pairs import DataError
    from genrm.distributed import is_main_process
    from genrm.logs import quiet
    from genrm.runs import RunDir
    from genrm.train.common import losses

    console = Console()
    try:
        spec, config = resolve(args)
        settings = resolved_config(args.method, config)
        pairs, eval_pairs = select_pairs(spec, settings["seed"])
    except (ConfigError, DataError) as err:
        console.print(f"[red]error:[/red] {err}", highlight=False, soft_wrap=True)
        return 1
    run_dir = RunDir(args.out)
    run_dir.save_config({"method": args.method, **dataclasses.asdict(spec), "train_pairs": len(pairs),
                         "eval_pairs": len(eval_pairs) if eval_pairs is not None else None,
                         "config": settings})
    module, fn = METHODS[args.method].split(":")
    train = getattr(importlib.import_module(module), fn)
    start = time.time()
    try:
        with quiet(run_dir.path / "genrm.log"):  # library warnings and load reports to the log; --verbose shows them
            checkpoint = train(spec.model, pairs, run_dir.path, config, eval_pairs=eval_pairs)
    except (ConfigError, ValueError) as err:
        console.print(f"[red]error:[/red] {err}", highlight=False, soft_wrap=True)
        return 1
    seconds = time.time() - start
    if not is_main_process():
        return 0  # under a launcher the main process reports
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
