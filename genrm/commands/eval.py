"""genrm eval [--config YAML] --bench rewardbench --model PATH_OR_ID [--judge auto|bt|genrm|cot] [--data PATH]
           [--out DIR] [key=value ...]

Benches: rewardbench (hub allenai/reward-bench, split filtered), rewardbench2 (allenai/reward-bench-2),
ultrafeedback (HuggingFaceH4/ultrafeedback_binarized, test_prefs), file:PATH (any preference file,
grouped by subset). --data replaces the hub default with a local file or directory of the same
schema. A recipe (recipes/eval-*.yaml) sets any key of `EvalRunConfig`; options on the command line
override it, `key=value` overrides too (votes=32 temperature=0.7). Writes results.json, report.md
and chart.png to --out and prints the same table; judgments are journaled in --out as they are
made, so rerunning a killed eval resumes it.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class EvalRunConfig:
    """The options of `genrm eval`; judge settings left at None take the judge card's (or the judge's) default."""

    bench: str = "rewardbench"  # rewardbench | rewardbench2 | ultrafeedback | file (with data) | file:PATH
    model: str = "smollm2-135m"  # judge checkpoint, run dir, HF id or embedded name
    judge: str = "auto"  # auto (judge card or architecture) | bt | genrm | cot | length
    data: str | None = None  # local file or directory with the bench's schema
    split: str | None = None
    per_subset: int | None = None  # at most N examples per subset (seeded sample)
    seed: int = 0  # seed of the per_subset sample and of orders=one
    batch_size: int = 8
    orders: str | None = None  # pairwise judges: both (default) | one seeded random order per pair
    max_length: int | None = None  # token limit passed to the judge
    dtype: str | None = None  # auto | bfloat16 | float32 ...
    template: str | None = None  # judge prompt template (genrm.prompts) of a pairwise judge
    votes: int | None = None  # CoT: sampled verdicts per order
    adaptive: bool | None = None  # CoT: stop a pair once its majority is settled (same verdicts)
    temperature: float | None = None  # CoT sampling
    top_p: float | None = None
    max_new_tokens: int | None = None
    force_verdict: bool | None = None  # CoT: continue tag-less rationales with "Final verdict: [["
    backend: str | None = None  # CoT: hf | vllm
    tensor_parallel_size: int | None = None  # CoT on vllm
    gpu_memory_utilization: float | None = None  # CoT on vllm


JUDGE_OPTIONS = ("max_length", "dtype", "template", "votes", "adaptive", "temperature", "top_p", "max_new_tokens",
                 "force_verdict", "backend", "tensor_parallel_size", "gpu_memory_utilization")
ORDERS = ("both", "one")
JUDGE_KINDS = ("auto", "bt", "genrm", "cot", "length")
FLAGS = ("bench", "model", "judge", "data", "split", "votes", "batch_size", "max_length", "per_subset", "orders", "seed")


def add_arguments(parser) -> None:
    parser.add_argument("--config", default=None, help="YAML recipe of EvalRunConfig keys; options and key=value override it")
    parser.add_argument("--bench", default=None,
                        help="rewardbench | rewardbench2 | ultrafeedback | file:PATH (default: rewardbench)")
    parser.add_argument("--model", default=None, help="judge checkpoint, HF id or embedded name (default: smollm2-135m)")
    parser.add_argument("--judge", default=None, choices=JUDGE_KINDS,
                        help="judge kind; auto (default) reads the judge card or the architecture; length = the length baseline")
    parser.add_argument("--data", default=None, help="local file or directory with the bench's schema (offline use)")
    parser.add_argument("--split", default=None, help="split of a hub dataset or snapshot directory")
    parser.add_argument("--votes", type=int, default=None, help="sampled verdicts per pair (CoT judges)")
    parser.add_argument("--batch-size", type=int, default=None, help="pairs per judge call (default 8)")
    parser.add_argument("--max-length", type=int, default=None, help="token limit passed to the judge")
    parser.add_argument("--per-subset", type=int, default=None,
                        help="evaluate at most N examples per subset (seeded sample of the id-sorted subset)")
    parser.add_argument("--orders", default=None, choices=ORDERS,
                        help="pairwise judges: judge both display orders (default) or one seeded random order per pair")
    parser.add_argument("--seed", type=int, default=None, help="seed of the --per-subset sample and of --orders one (default 0)")
    parser.add_argument("--out", default=None, help="output directory (default: runs/eval-BENCH)")
    parser.add_argument("overrides", nargs="*", metavar="key=value",
                        help="any EvalRunConfig key, e.g. temperature=0.7 backend=vllm dtype=bfloat16")


def resolve(args) -> EvalRunConfig:
    """The recipe, its key=value overrides, then the command-line options, checked."""
    from genrm.config import ConfigError, load_config, load_typed

    config = load_config(args.config, args.overrides)
    config.update({key: getattr(args, key) for key in FLAGS if getattr(args, key) is not None})
    cfg = load_typed(EvalRunConfig, config)
    if cfg.orders not in (None, *ORDERS):
        raise ConfigError(f"orders must be one of {', '.join(ORDERS)}, not {cfg.orders!r}")
    if cfg.judge not in JUDGE_KINDS:
        raise ConfigError(f"judge must be one of {', '.join(JUDGE_KINDS)}, not {cfg.judge!r}")
    return cfg


def run(args) -> int:
    from genrm.config import ConfigError
    from genrm.data import DataError
    from genrm.eval.report import console_for_output, print_table
    from genrm.eval.runner import DEFAULT_DATA, evaluate, load_bench, subsample
    from genrm.judges.base import load_judge
    from genrm.shard import is_main_process

    console = console_for_output()
    try:
        cfg = resolve(args)
    except ConfigError as err:
        console.print(f"[red]error:[/red] {err}", highlight=False, soft_wrap=True)
        return 1
    bench, data = cfg.bench, cfg.data
    if bench.startswith("file:"):
        bench, data = "file", bench[len("file:"):]
    try:
        items = load_bench(bench, data, cfg.split)
    except (DataError, ValueError) as err:
        console.print(f"[red]error:[/red] {err}", highlight=False, soft_wrap=True)
        if getattr(err, "kind", None) == "hub_unreachable":
            console.print(f"Pass a local copy with --data PATH (a file or snapshot directory of {bench}'s schema).",
                          highlight=False, soft_wrap=True)
        return 1
    total = len(items)
    if cfg.per_subset is not None:
        items = subsample(items, cfg.per_subset, cfg.seed)
        console.print(f"subsampled {len(items)} of {total} examples (at most {cfg.per_subset} per subset, seed {cfg.seed})",
                      highlight=False)
    options = {key: getattr(cfg, key) for key in JUDGE_OPTIONS if getattr(cfg, key) is not None}
    if cfg.orders is not None:
        options.update(both_orders=cfg.orders == "both", order_seed=cfg.seed)
    try:
        judge = load_judge(cfg.model, kind=None if cfg.judge == "auto" else cfg.judge, **options)
    except (OSError, ValueError, TypeError) as err:
        console.print(f"[red]error:[/red] could not load judge {cfg.model!r}: {err}", highlight=False, soft_wrap=True)
        return 1
    out = args.out or f"runs/eval-{bench}"
    try:
        result = evaluate(judge, items, bench=bench, out=out, batch_size=cfg.batch_size, progress=True,
                          model=cfg.model, data_source=data or DEFAULT_DATA.get(bench))
    except ValueError as err:  # e.g. a prompt longer than --max-length, or a journal of another judge
        console.print(f"[red]error:[/red] {err}", highlight=False, soft_wrap=True)
        return 1
    if is_main_process():
        print_table(result, console)
        console.print(f"wrote {out}/results.json, report.md, chart.png", highlight=False)
    return 0
