"""genrm star --method sft|rationalize|dpo|grpo --model M --data D --out RUN [--iterations N] [--samples K]
             [--eval-data E] [--config YAML] [key=value ...]
genrm star --resume RUN

Runs a STaR loop (sample rationales with the current model, keep or pair them against the human
label, fine-tune with SFT or DPO, evaluate; repeat over fresh shards), or with --method grpo trains
the CoT judge by RL on its own rationales (TRL's GRPOTrainer, reward: the verdict matches the label,
consistency across orders, a tag written; genrm/train/grpo.py). Writes config.yaml,
samples, datasets, checkpoints, metrics.json and accuracy.png into RUN; a killed run resumes.
"""
from __future__ import annotations

from pathlib import Path


def add_arguments(parser) -> None:
    parser.add_argument("--method", choices=["sft", "rationalize", "dpo", "grpo"],
                        help="STaR variant, or grpo: the judge trained by RL (default: dpo)")
    parser.add_argument("--model", help="starting chat model: hub id, local path or smollm2-135m (default)")
    parser.add_argument("--data", help="training preference pairs (file, directory or hub id)")
    parser.add_argument("--eval-data", help="held-out pairs (default: hold out eval_fraction of --data)")
    parser.add_argument("--out", help="run directory")
    parser.add_argument("--iterations", type=int, help="STaR iterations (default 3)")
    parser.add_argument("--samples", type=int, help="rationales per pair and order (K; grpo: the group size)")
    parser.add_argument("--config", help="a recipe YAML (recipes/star-*.yaml)")
    parser.add_argument("--resume", metavar="RUN", help="continue the run in RUN from its last finished step")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, e.g. train.learning_rate=1e-5")


FLAGS = ("method", "model", "data", "eval_data", "iterations", "samples")  # options that override the recipe


def resolve(args):
    """The StarConfig of the recipe, its key=value overrides and the command-line options, checked
    (train.* keys against the method's TRL config class too)."""
    from genrm.star.config import resolve_config

    return resolve_config(config_of(args))


def config_of(args) -> dict:
    """The recipe, its key=value overrides, then the command-line options (run_star checks them)."""
    from genrm.config import load_config

    config = load_config(args.config, args.overrides)
    config.update({key: getattr(args, key) for key in FLAGS if getattr(args, key) is not None})
    return config


def run(args) -> int:
    from rich.console import Console

    from genrm.config import ConfigError
    from genrm.data.pairs import DataError
    from genrm.logs import quiet

    console = Console()
    try:
        if args.resume:
            if args.overrides or args.config or args.data:
                raise ConfigError("--resume continues a run with its saved config; give no other options")
            from genrm.star import run_star

            with quiet(Path(args.resume) / "genrm.log"):  # library noise to the log (--verbose shows it)
                metrics = run_star(args.resume, resume=True)
            out = args.resume
        else:
            if not args.out:
                raise ConfigError("--out RUN is required (or --resume RUN)")
            from genrm.star import run_star

            with quiet(Path(args.out) / "genrm.log"):
                metrics = run_star(args.out, config=config_of(args))
            out = args.out
    except (ConfigError, DataError) as err:
        console.print(f"[red]error:[/red] {err}", highlight=False, soft_wrap=True)
        return 1
    print_table(metrics, console)
    console.print(f"metrics: {out}/metrics.json, plot: {out}/accuracy.png")
    return 0


def print_table(metrics: dict, console=None) -> None:
    """Per-iteration figures: sampling, kept data (A/B balance, rejected kinds), loss, accuracy (n, 95% CI) per set."""
    from rich.console import Console

    from genrm.eval.report import rich_table

    console = console or Console()
    rows = ([("0 (start)", {}, metrics["baseline"])] if metrics.get("baseline") else []) + \
           [(str(e["iteration"]), e, e["eval"]) for e in metrics["iterations"]]
    names = sorted({k for _, _, ev in rows for k, v in ev.items() if isinstance(v, dict)})
    cols = ["iter", "pairs", "samples", "correct", "unparsed", "kept / DPO pairs", "A:B before -> after", "loss first→last"]
    table = []
    for label, e, ev in rows:
        kept = e.get("dpo_pairs", e.get("kept_examples"))
        if "grpo" in e:  # sampled inside training
            g = e["grpo"]
            e = {**e, "pairs_sampled": e["grpo_prompts"], "samples": g["completions"]}
            correct = g["logged"].get("rewards/correct/mean")
            kept = f"GRPO: {g['sampled_tokens']} tokens" + (f", correct {correct[0]:.2f}→{correct[1]:.2f}" if correct else "")
        if "rationalized" in e:
            kept = f"{kept} ({e['rationalized']} rationalized)"
        if e.get("rejected_used"):
            kept = f"{kept} (rejected: {e['rejected_used']['wrong_verdict']} wrong, {e['rejected_used']['unparsed']} unparsed)"
        pos = e.get("positions")
        balance = (f"{pos['before']['chosen_first']}:{pos['before']['chosen_second']} -> "
                   f"{pos['after']['chosen_first']}:{pos['after']['chosen_second']}") if pos else ""
        loss = e.get("train_loss")
        cells = [label, str(e.get("pairs_sampled", "")), str(e.get("samples", "")),
                 f"{e['correct_rate']:.3f}" if "correct_rate" in e else "",
                 f"{e['unparsed_rate']:.3f}" if "unparsed_rate" in e else "", "" if kept is None else str(kept), balance,
                 f"{loss[0]:.3f}→{loss[1]:.3f}" if loss else e.get("skipped_training", "")]
        for name in names:
            s = ev.get(name)
            cells.append(f"{s['accuracy']:.3f} [{s['ci95'][0]:.2f}, {s['ci95'][1]:.2f}] ({s['n']})" if s else "")
        table.append(cells)
    console.print(rich_table(cols + [f"{n} acc [95% CI] (n)" for n in names], table,
                             f"STaR-{metrics['method']} on {metrics['model']}"))
