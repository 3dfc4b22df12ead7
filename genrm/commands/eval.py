"""genrm eval --bench rewardbench --model PATH_OR_ID [--judge auto|bt|genrm|cot] [--data PATH] [--out DIR]

Benches: rewardbench (hub allenai/reward-bench, split filtered), rewardbench2 (allenai/reward-bench-2),
ultrafeedback (HuggingFaceH4/ultrafeedback_binarized, test_prefs), file:PATH (any preference file,
grouped by subset). --data replaces the hub default with a local file or directory of the same
schema. CoT judges take --backend hf|vllm, --dtype, --temperature, --top-p, --max-new-tokens and
--tensor-parallel-size (recorded in results.json "options"). A pair over the judge's token limit is
a located error, or with --over-length skip a reported skip. Writes results.json, report.md and chart.png to --out and prints the same table; judgments
are journaled in --out as they are made, so rerunning a killed eval resumes it.
"""
from __future__ import annotations

from pathlib import Path


def add_arguments(parser) -> None:
    parser.add_argument("--bench", default="rewardbench",
                        help="rewardbench | rewardbench2 | ultrafeedback | file:PATH (default: rewardbench)")
    parser.add_argument("--model", default="smollm2-135m", help="judge checkpoint, HF id or embedded name (default: smollm2-135m)")
    parser.add_argument("--judge", default="auto", choices=("auto", "bt", "genrm", "cot", "length"),
                        help="judge kind; auto reads the judge card or the architecture; length = the length baseline")
    parser.add_argument("--data", default=None, help="local file or directory with the bench's schema (offline use)")
    parser.add_argument("--split", default=None, help="split of a hub dataset or snapshot directory")
    parser.add_argument("--votes", type=int, default=None, help="sampled verdicts per pair (CoT judges)")
    parser.add_argument("--dtype", default=None, choices=("auto", "float32", "bfloat16", "float16", "int8"),
                        help="weights dtype (default auto: bf16 on a GPU that has it, else fp32; int8: CPU dynamic "
                             "quantization of the linear layers, see benchmarks/int8_judging.py)")
    cot = parser.add_argument_group("CoT judges (names as in the STaR config's sampling section)")
    cot.add_argument("--backend", default=None, choices=("hf", "vllm"), help="generation backend (default hf)")
    cot.add_argument("--temperature", type=float, default=None, help="sampling temperature (judge card, else 1.0)")
    cot.add_argument("--top-p", type=float, default=None, help="nucleus sampling (judge card, else 0.95)")
    cot.add_argument("--max-new-tokens", type=int, default=None, help="rationale length limit (judge card, else 256)")
    cot.add_argument("--tensor-parallel-size", type=int, default=None, help="vLLM: GPUs per model (vllm backend only)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=None, help="token limit passed to the judge")
    parser.add_argument("--per-subset", type=int, default=None,
                        help="evaluate at most N examples per subset (seeded sample of the id-sorted subset)")
    parser.add_argument("--orders", default=None, choices=("both", "one"),
                        help="pairwise judges: judge both display orders (default) or one seeded random order per pair")
    parser.add_argument("--seed", type=int, default=0, help="seed of the --per-subset sample and of --orders one")
    parser.add_argument("--over-length", default=None, choices=("error", "skip"),
                        help="a pair over the judge's token limit (--max-length, else the model's context): a located "
                             "error (default) or skipped and reported per subset")
    parser.add_argument("--skip-invalid", action="store_true",
                        help="skip invalid rows (counted per kind in results.json) instead of stopping at the first; "
                             "implies --over-length skip unless it is given")
    parser.add_argument("--out", default=None, help="output directory (default: runs/eval-BENCH)")


def judge_options(args) -> dict:
    """The judge options the user set (recorded in results.json as `options`). The CoT options
    are refused for a judge that does not generate; --tensor-parallel-size needs --backend vllm."""
    generative = ("votes", "backend", "temperature", "top_p", "max_new_tokens", "tensor_parallel_size")
    options = {key: getattr(args, key) for key in ("max_length", "dtype", *generative) if getattr(args, key) is not None}
    given = [key for key in generative if key in options]
    if given and args.judge not in ("cot", "auto"):
        raise SystemExit(f"genrm eval: --{given[0].replace('_', '-')} applies to CoT judges (--judge cot)")
    if "tensor_parallel_size" in options and options.get("backend") != "vllm":
        raise SystemExit("genrm eval: --tensor-parallel-size needs --backend vllm")
    return options


def run(args) -> int:
    from genrm.data import DataError
    from genrm.eval.report import console_for_output, print_table
    from genrm.eval.runner import DEFAULT_DATA, evaluate, load_bench, subsample
    from genrm.judges.base import load_judge
    from genrm.logs import quiet
    from genrm.shard import is_main_process

    console = console_for_output()
    bench, data = args.bench, args.data
    if bench.startswith("file:"):
        bench, data = "file", bench[len("file:"):]
    try:
        items = load_bench(bench, data, args.split, skip_invalid=args.skip_invalid)
    except (DataError, ValueError) as err:
        console.print(f"[red]error:[/red] {err}", highlight=False, soft_wrap=True)
        if getattr(err, "kind", None) == "hub_unreachable":
            console.print(f"Pass a local copy with --data PATH (a file or snapshot directory of {bench}'s schema).",
                          highlight=False, soft_wrap=True)
        return 1
    invalid = list(getattr(items, "skipped", []))
    total = len(items)
    if args.per_subset is not None:
        items = subsample(items, args.per_subset, args.seed)
        console.print(f"subsampled {len(items)} of {total} examples (at most {args.per_subset} per subset, seed {args.seed})",
                      highlight=False)
    options = judge_options(args)
    if args.orders is not None:
        options.update(both_orders=args.orders == "both", order_seed=args.seed)
    out = args.out or f"runs/eval-{bench}"
    with quiet(Path(out) / "genrm.log"):  # library warnings and load reports to the log; --verbose shows them
        try:
            judge = load_judge(args.model, kind=None if args.judge == "auto" else args.judge, **options)
        except (OSError, ValueError, TypeError, ImportError) as err:
            console.print(f"[red]error:[/red] could not load judge {args.model!r}: {err}", highlight=False, soft_wrap=True)
            return 1
        try:
            over_length = args.over_length or ("skip" if args.skip_invalid else "error")
            result = evaluate(judge, items, bench=bench, out=out, batch_size=args.batch_size, progress=True,
                              model=args.model, data_source=data or DEFAULT_DATA.get(bench), over_length=over_length,
                              invalid=invalid, options=options)
        except ValueError as err:  # e.g. a pair over the judge's limit, or a journal of another judge
            console.print(f"[red]error:[/red] {err}", highlight=False, soft_wrap=True)
            return 1
    if is_main_process():
        print_table(result, console)
        console.print(f"wrote {out}/results.json, report.md, chart.png", highlight=False)
    return 0
