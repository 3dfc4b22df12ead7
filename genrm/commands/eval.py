"""genrm eval [--config YAML] --bench rewardbench --model PATH_OR_ID [--judge auto|bt|genrm|cot] [--data PATH]
           [--out DIR] [key=value ...]

Benches: rewardbench (hub allenai/reward-bench, split filtered), rewardbench2 (allenai/reward-bench-2),
rmbench (THU-KEG/RM-Bench: 3 x 3 styled comparisons per prompt, easy / normal / hard per domain as in its
official compute_accuracy), judgebench (ScalerLab/JudgeBench, split gpt: both orders per pair, scored
as its official compute_final_metrics per source category), ultrafeedback (HuggingFaceH4/ultrafeedback_binarized, test_prefs), masterkey (each chosen answer of
--data against each master-key response: genrm.eval.masterkey), file:PATH (any preference file,
grouped by subset). --data replaces the hub default with a local file or directory of the same
schema. A recipe (recipes/eval-*.yaml) sets any key of `EvalRunConfig`; options on the command line
override it, `key=value` overrides too (votes=32 temperature=0.7). CoT judges take --backend
hf|vllm, --dtype, --temperature, --top-p, --max-new-tokens, --tensor-parallel-size (names as in the
STaR config's sampling section; recorded in results.json "options"). A pair over the judge's token
limit is a located error, or with --over-length skip a reported skip; --skip-invalid skips bad rows. Writes results.json, report.md
and chart.png to --out and prints the same table; judgments are journaled in --out as they are
made, so rerunning a killed eval resumes it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from genrm.data.lengths import POLICIES


@dataclass
class EvalRunConfig:
    """The options of `genrm eval`; judge settings left at None take the judge card's (or the judge's) default."""

    bench: str = "rewardbench"  # rewardbench | rewardbench2 | rmbench | judgebench | ultrafeedback | masterkey (with data) | file (with data) | file:PATH
    model: str = "smollm2-135m"  # judge checkpoint, run dir, HF id or embedded name
    judge: str = "auto"  # auto (judge card or architecture) | bt | genrm | cot | length
    data: str | None = None  # local file or directory with the bench's schema
    split: str | None = None
    per_subset: int | None = None  # at most N examples per subset (seeded sample)
    seed: int = 0  # seed of the per_subset sample and of orders=one
    batch_size: int = 8
    orders: str | None = None  # pairwise judges: both (default) | one seeded random order per pair
    max_length: int | None = None  # token limit passed to the judge
    dtype: str | None = None  # auto | bfloat16 | float32 | int8 (CPU dynamic quantization)
    template: str | None = None  # judge prompt template (genrm.judges.prompts) of a pairwise judge
    votes: int | None = None  # CoT: sampled verdicts per order
    adaptive: bool | None = None  # CoT: stop a pair once its majority is settled (same verdicts)
    temperature: float | None = None  # CoT sampling
    top_p: float | None = None
    max_new_tokens: int | None = None
    force_verdict: bool | None = None  # CoT: continue tag-less rationales with "Final verdict: [["
    backend: str | None = None  # CoT: hf | vllm
    tensor_parallel_size: int | None = None  # CoT on vllm
    gpu_memory_utilization: float | None = None  # CoT on vllm
    over_length: str | None = None  # a pair over the judge's token limit: error (default) | skip (reported)
    skip_invalid: bool = False  # skip invalid rows (counted per kind); implies over_length skip unless set


JUDGE_OPTIONS = ("max_length", "dtype", "template", "votes", "adaptive", "temperature", "top_p", "max_new_tokens",
                 "force_verdict", "backend", "tensor_parallel_size", "gpu_memory_utilization")
GENERATIVE = ("votes", "adaptive", "temperature", "top_p", "max_new_tokens", "force_verdict", "backend",
              "tensor_parallel_size", "gpu_memory_utilization")
ORDERS = ("both", "one")
JUDGE_KINDS = ("auto", "bt", "genrm", "cot", "length")
FLAGS = ("bench", "model", "judge", "data", "split", "votes", "batch_size", "max_length", "per_subset", "orders", "seed",
         "dtype", "backend", "temperature", "top_p", "max_new_tokens", "tensor_parallel_size", "over_length",
         "skip_invalid")


def add_arguments(parser) -> None:
    parser.add_argument("--config", default=None, help="YAML recipe of EvalRunConfig keys; options and key=value override it")
    parser.add_argument("--bench", default=None,
                        help="rewardbench | rewardbench2 | rmbench (easy/normal/hard per domain) | judgebench (per source, "
                             "both orders) | ultrafeedback | masterkey (attacks built from --data) | file:PATH "
                             "(default: rewardbench)")
    parser.add_argument("--model", default=None, help="judge checkpoint, HF id or embedded name (default: smollm2-135m)")
    parser.add_argument("--judge", default=None, choices=JUDGE_KINDS,
                        help="judge kind; auto (default) reads the judge card or the architecture; length = the length baseline")
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
    parser.add_argument("--batch-size", type=int, default=None, help="pairs per judge call (default 8)")
    parser.add_argument("--max-length", type=int, default=None, help="token limit passed to the judge")
    parser.add_argument("--per-subset", type=int, default=None,
                        help="evaluate at most N examples per subset (seeded sample of the id-sorted subset)")
    parser.add_argument("--orders", default=None, choices=ORDERS,
                        help="pairwise judges: judge both display orders (default) or one seeded random order per pair")
    parser.add_argument("--seed", type=int, default=None, help="seed of the --per-subset sample and of --orders one (default 0)")
    parser.add_argument("--over-length", default=None, choices=POLICIES,
                        help="a pair over the judge's token limit (--max-length, else the model's context): a located "
                             "error (default) or skipped and reported per subset")
    parser.add_argument("--skip-invalid", action="store_const", const=True, default=None,
                        help="skip invalid rows (counted per kind in results.json) instead of stopping at the first; "
                             "implies --over-length skip unless it is given")
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
    if cfg.over_length not in (None, *POLICIES):
        raise ConfigError(f"over_length must be one of {', '.join(POLICIES)}, not {cfg.over_length!r}")
    given = [key for key in GENERATIVE if getattr(cfg, key) is not None]
    if given and cfg.judge not in ("cot", "auto"):
        raise ConfigError(f"{given[0]} applies to CoT judges (judge cot), not to judge {cfg.judge}")
    if cfg.tensor_parallel_size is not None and cfg.backend != "vllm":
        raise ConfigError("tensor_parallel_size needs backend vllm")
    return cfg


def run(args) -> int:
    from genrm.config import ConfigError
    from genrm.data.pairs import DataError
    from genrm.distributed import check_tensor_parallel, is_main_process
    from genrm.eval.report import console_for_output, print_table
    from genrm.eval.runner import DEFAULT_DATA, evaluate, load_bench, subsample
    from genrm.judges.base import load_judge
    from genrm.logs import quiet

    console = console_for_output()
    try:
        cfg = resolve(args)  # the recipe's keys, on any machine
        if cfg.tensor_parallel_size is not None:  # this machine's GPUs, before anything loads
            check_tensor_parallel(cfg.tensor_parallel_size, "tensor_parallel_size")
    except ConfigError as err:
        console.print(f"[red]error:[/red] {err}", highlight=False, soft_wrap=True)
        return 1
    bench, data = cfg.bench, cfg.data
    if bench.startswith("file:"):
        bench, data = "file", bench[len("file:"):]
    try:
        items = load_bench(bench, data, cfg.split, skip_invalid=cfg.skip_invalid)
    except (DataError, ValueError) as err:
        console.print(f"[red]error:[/red] {err}", highlight=False, soft_wrap=True)
        if getattr(err, "kind", None) == "hub_unreachable":
            console.print(f"Pass a local copy with --data PATH (a file or snapshot directory of {bench}'s schema).",
                          highlight=False, soft_wrap=True)
        return 1
    invalid = list(getattr(items, "skipped", []))
    total = len(items)
    if cfg.per_subset is not None:
        items = subsample(items, cfg.per_subset, cfg.seed)
        console.print(f"subsampled {len(items)} of {total} examples (at most {cfg.per_subset} per subset, seed {cfg.seed})",
                      highlight=False)
    if bench == "masterkey":
        from genrm.eval.masterkey import MASTER_KEYS, attack_pairs

        items = attack_pairs(items)
        console.print(f"master-key attacks: {len(items)} pairs ({len(MASTER_KEYS)} keys x {len(items) // len(MASTER_KEYS)} "
                      "real chosen answers)", highlight=False)
    options = {key: getattr(cfg, key) for key in JUDGE_OPTIONS if getattr(cfg, key) is not None}
    if cfg.orders is not None:
        options.update(both_orders=cfg.orders == "both", order_seed=cfg.seed)
    out = args.out or f"runs/eval-{bench}"
    with quiet(Path(out) / "genrm.log"):  # library warnings and load reports to the log; --verbose shows them
        try:
            judge = load_judge(cfg.model, kind=None if cfg.judge == "auto" else cfg.judge, **options)
        except (OSError, ValueError, TypeError, ImportError) as err:
            console.print(f"[red]error:[/red] could not load judge {cfg.model!r}: {err}", highlight=False, soft_wrap=True)
            return 1
        try:
            over_length = cfg.over_length or ("skip" if cfg.skip_invalid else "error")
            result = evaluate(judge, items, bench=bench, out=out, batch_size=cfg.batch_size, progress=True,
                              model=cfg.model, data_source=data or DEFAULT_DATA.get(bench), over_length=over_length,
                              invalid=invalid, options=options)
        except ValueError as err:  # e.g. a pair over the judge's limit, or a journal of another judge
            console.print(f"[red]error:[/red] {err}", highlight=False, soft_wrap=True)
            return 1
    if is_main_process():
        print_table(result, console)
        console.print(f"wrote {out}/results.json, report.md, chart.png", highlight=False)
    return 0
