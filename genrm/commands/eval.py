"""genrm eval --bench rewardbench --model PATH_OR_ID [--judge auto|bt|genrm|cot] [--data PATH] [--out DIR]

Benches: rewardbench (hub allenai/reward-bench, split filtered), rewardbench2 (allenai/reward-bench-2),
ultrafeedback (HuggingFaceH4/ultrafeedback_binarized, test_prefs), file:PATH (any preference file,
grouped by subset). --data replaces the hub default with a local file or directory of the same
schema. Writes results.json, report.md and chart.png to --out and prints the same table; judgments
are journaled in --out as they are made, so rerunning a killed eval resumes it.
"""
from __future__ import annotations


def add_arguments(parser) -> None:
    parser.add_argument("--bench", default="rewardbench",
                        help="rewardbench | rewardbench2 | ultrafeedback | file:PATH (default: rewardbench)")
    parser.add_argument("--model", default="smollm2-135m", help="judge checkpoint, HF id or embedded name (default: smollm2-135m)")
    parser.add_argument("--judge", default="auto", choices=("auto", "bt", "genrm", "cot", "length"),
                        help="judge kind; auto reads the judge card or the architecture; length = the length baseline")
    parser.add_argument("--data", default=None, help="local file or directory with the bench's schema (offline use)")
    parser.add_argument("--split", default=None, help="split of a hub dataset or snapshot directory")
    parser.add_argument("--votes", type=int, default=None, help="sampled verdicts per pair (CoT judges)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=None, help="token limit passed to the judge")
    parser.add_argument("--per-subset", type=int, default=None,
                        help="evaluate at most N examples per subset (seeded sample of the id-sorted subset)")
    parser.add_argument("--orders", default=None, choices=("both", "one"),
                        help="pairwise judges: judge both display orders (default) or one seeded random order per pair")
    parser.add_argument("--seed", type=int, default=0, help="seed of the --per-subset sample and of --orders one")
    parser.add_argument("--out", default=None, help="output directory (default: runs/eval-BENCH)")


def run(args) -> int:
    from genrm.data import DataError
    from genrm.eval.report import console_for_output, print_table
    from genrm.eval.runner import DEFAULT_DATA, evaluate, load_bench, subsample
    from genrm.judges.base import load_judge
    from genrm.shard import is_main_process

    console = console_for_output()
    bench, data = args.bench, args.data
    if bench.startswith("file:"):
        bench, data = "file", bench[len("file:"):]
    try:
        items = load_bench(bench, data, args.split)
    except (DataError, ValueError) as err:
        console.print(f"[red]error:[/red] {err}", highlight=False, soft_wrap=True)
        if getattr(err, "kind", None) == "hub_unreachable":
            console.print(f"Pass a local copy with --data PATH (a file or snapshot directory of {bench}'s schema).",
                          highlight=False, soft_wrap=True)
        return 1
    total = len(items)
    if args.per_subset is not None:
        items = subsample(items, args.per_subset, args.seed)
        console.print(f"subsampled {len(items)} of {total} examples (at most {args.per_subset} per subset, seed {args.seed})",
                      highlight=False)
    options = {key: value for key, value in (("max_length", args.max_length), ("votes", args.votes)) if value is not None}
    if args.orders is not None:
        options.update(both_orders=args.orders == "both", order_seed=args.seed)
    try:
        judge = load_judge(args.model, kind=None if args.judge == "auto" else args.judge, **options)
    except (OSError, ValueError, TypeError) as err:
        console.print(f"[red]error:[/red] could not load judge {args.model!r}: {err}", highlight=False, soft_wrap=True)
        return 1
    out = args.out or f"runs/eval-{bench}"
    try:
        result = evaluate(judge, items, bench=bench, out=out, batch_size=args.batch_size, progress=True,
                          model=args.model, data_source=data or DEFAULT_DATA.get(bench))
    except ValueError as err:  # e.g. a prompt longer than --max-length, or a journal of another judge
        console.print(f"[red]error:[/red] {err}", highlight=False, soft_wrap=True)
        return 1
    if is_main_process():
        print_table(result, console)
        console.print(f"wrote {out}/results.json, report.md, chart.png", highlight=False)
    return 0
