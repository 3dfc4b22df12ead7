"""genrm demo [--out DIR] [--model M] [--size tiny|default|medium|large] [--quick] [--set KEY=VALUE ...]

The paper's comparison in miniature: builds checkable preference data (genrm.data.synth), then scores
the length baseline, the zero-shot indicator and CoT judges, and trains BT, GenRM, STaR-SFT,
STaR-Rationalizer (not at the default size; --set 'rows=[...]' picks methods) and STaR-DPO
judges, on an in-distribution held-out set and an out-of-distribution set of task families
never trained on. Prints one row per method and writes results.json, report.md and
accuracy.png into DIR (default runs/demo). Rerunning with the same DIR resumes: finished methods
are not redone. The default size is budgeted for 15 minutes on 2 CPU cores with the embedded
SmolLM2-135M-Instruct.
"""
from __future__ import annotations


def add_arguments(parser) -> None:
    parser.add_argument("--model", default="smollm2-135m", help="base model (default: the embedded SmolLM2-135M-Instruct)")
    parser.add_argument("--out", default="runs/demo", help="run directory (default: runs/demo); reruns resume")
    parser.add_argument("--size", default="default", choices=("tiny", "default", "medium", "large"),
                        help="data and training size: tiny (seconds, for tests), default (~15 min on 2 CPU cores), medium, large")
    parser.add_argument("--quick", action="store_true", help="same as --size tiny")
    parser.add_argument("--seed", type=int, default=0, help="seed of the built-in data (default 0)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one setting of genrm.demo.DemoConfig, e.g. --set genrm.max_steps=50 (see SIZES there)")


def run(args) -> int:
    from rich.console import Console

    from genrm.config import ConfigError, parse_overrides
    from genrm.demo import print_table, run_demo

    console = Console()
    size = "tiny" if args.quick else args.size
    try:
        results = run_demo(args.out, model=args.model, size=size, overrides=parse_overrides(args.overrides),
                           seed=args.seed, console=console)
    except (ConfigError, ValueError) as err:
        console.print(f"[red]error:[/red] {err}", highlight=False, soft_wrap=True)
        return 1
    console.print(f"wrote {args.out}/results.json, {args.out}/report.md, {args.out}/accuracy.png", highlight=False)
    print_table(results, console, title=f"genrm demo: {args.model} (size {size})")
    return 0
