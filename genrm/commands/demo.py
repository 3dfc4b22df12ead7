"""genrm demo [--out DIR] [--model M] [--size tiny|default|medium|large] [--quick] [--seeds 0,1,2] [--set KEY=VALUE ...]

The paper's comparison in miniature: builds checkable preference data (genrm.data.synth), then scores
the length baseline, the zero-shot indicator and CoT judges, and trains BT, GenRM, STaR-SFT,
STaR-Rationalizer (not at the default size; --set 'rows=[...]' picks methods) and STaR-DPO
judges, on a test split of the trained families whose prompts were never trained on, on new
families and on adversarial twins. Prints one row per method and tests the claims fixed in
genrm.demo.settings; writes results.json, report.md and accuracy.png into DIR (default runs/demo).
With several --seeds, each seed runs in DIR/seed-N and DIR/seeds.md holds mean ± sd and the
per-seed table. Rerunning with the same DIR resumes: finished methods are not redone. The default
size is budgeted for 15 minutes on 2 CPU cores (one seed) with the embedded SmolLM2-135M-Instruct.
"""
from __future__ import annotations


def add_arguments(parser) -> None:
    parser.add_argument("--model", default="smollm2-135m", help="base model (default: the embedded SmolLM2-135M-Instruct)")
    parser.add_argument("--out", default="runs/demo", help="run directory (default: runs/demo); reruns resume")
    parser.add_argument("--size", default="default", choices=("tiny", "default", "medium", "research", "large"),
                        help="data and training size: tiny (seconds, for tests), default (~15 min on 2 CPU cores), medium, research (real rationales), large")
    parser.add_argument("--quick", action="store_true", help="same as --size tiny")
    parser.add_argument("--seed", type=int, default=None, help="seed of the built-in data (default 0)")
    parser.add_argument("--seeds", default=None, help="comma list of data seeds, e.g. 0,1,2: one run each, then mean ± sd")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one setting of genrm.demo.DemoConfig, e.g. --set genrm.max_steps=50 (see SIZES there)")


def run(args) -> int:
    from rich.console import Console

    from genrm.config import ConfigError, parse_overrides
    from genrm.demo import print_table
    from genrm.demo.seeds import print_summary, run_seeds, summarize

    console = Console()
    size = "tiny" if args.quick else args.size
    if args.seeds is not None and args.seed is not None:
        console.print("[red]error:[/red] give --seed or --seeds, not both")
        return 1
    try:
        seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else [args.seed or 0]
        per_seed = run_seeds(args.out, seeds, model=args.model, size=size, overrides=parse_overrides(args.overrides),
                             console=console)
    except (ConfigError, ValueError) as err:
        console.print(f"[red]error:[/red] {err}", highlight=False, soft_wrap=True)
        return 1
    if len(seeds) > 1:
        console.print(f"wrote {args.out}/seeds.md, {args.out}/seeds.json and {args.out}/seed-N/", highlight=False)
        print_summary(summarize(per_seed), console, title=f"genrm demo: {args.model} (size {size}), {len(seeds)} seeds")
        return 0
    console.print(f"wrote {args.out}/results.json, {args.out}/report.md, {args.out}/accuracy.png", highlight=False)
    print_table(per_seed[seeds[0]], console, title=f"genrm demo: {args.model} (size {size})")
    return 0
