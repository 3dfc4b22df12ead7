"""The demo's sizes and settings: the methods (rows), the splits, the claims it tests, and
`settings(size, overrides)`, the typed DemoConfig of a size (genrm/demo/__init__.py says what the demo is)."""
from __future__ import annotations

from dataclasses import dataclass, field

from genrm.config import EvalConfig, load_typed, merge
from genrm.data.synth import NEW_FAMILIES, TWIN_FAMILIES
from genrm.eval.compare import Claim

ROWS = ("length baseline", "zero-shot", "zero-shot CoT", "BT", "GenRM", "STaR-SFT", "STaR-Rationalizer", "STaR-DPO",
        "STaR-GRPO")
STEPS = {row: row.lower().replace(" ", "-") for row in ROWS}
STAR_ROWS = ("STaR-SFT", "STaR-Rationalizer", "STaR-DPO")  # they share iteration 1's samples
# the splits every method is scored on (genrm.data.synth: no prompt shared with train or with each other);
# `eval_split: dev` scores dev in place of test, for tuning
SPLITS = {"test": "test (trained families, prompts never trained on)", "ood": "OOD: new families (no shared rule)",
          "twin": "adversarial twins (same surface, opposite preference)"}
# The claims, fixed on CLAIMS_SET before the runs that test them; each is tested on CLAIM_SPLITS on per-prompt
# units, with Holm over the whole list (genrm.eval.compare.claim_tests). Changing them is a README change with
# its reason.
# The STaR-GRPO claims were added on 2026-12-06, before the first run that tests them (they apply where the row runs:
# not in the default demo, whose claims are unchanged).
CLAIMS_SET = "2026-12-05 (STaR-GRPO: 2026-12-06)"
CLAIMS = (Claim("BT", ">", "zero-shot"), Claim("GenRM", ">", "zero-shot"), Claim("GenRM", "vs", "BT"),
          Claim("STaR-SFT", ">", "zero-shot CoT"), Claim("STaR-DPO", ">", "zero-shot CoT"), Claim("STaR-DPO", ">=", "STaR-SFT"),
          Claim("STaR-GRPO", ">", "zero-shot CoT"), Claim("STaR-GRPO", "vs", "STaR-SFT"), Claim("STaR-GRPO", "vs", "STaR-DPO"))
CLAIM_SPLITS = ("test", "ood")


@dataclass
class DemoConfig:
    """Sizes and settings of the demo (`genrm demo --set key=value`, dotted for sections)."""

    rows: list | None = None  # the methods to run (names of ROWS, run in ROWS order); None: every one
    n_train: int = 64
    n_dev: int = 64  # written for tuning (eval_split: dev); not scored otherwise
    n_test: int = 64
    n_ood: int = 64
    n_twin: int = 32
    ood_families: list = field(default_factory=lambda: list(NEW_FAMILIES))
    twin_families: list = field(default_factory=lambda: list(TWIN_FAMILIES))
    eval_split: str = "test"  # test, or dev: what tuning reads (tables then say dev)
    indicator_template: str = "indicator"
    cot_template: str = "cot"
    force_verdict: bool = True  # the CoT judges continue a tag-less rationale with "Final verdict: [[" (judges/cot.py)
    eval: EvalConfig = field(default_factory=lambda: EvalConfig(batch_size=16, votes=1, max_new_tokens=16))
    bt: dict = field(default_factory=dict)  # TRL RewardConfig keys + freeze_layers, lora
    genrm: dict = field(default_factory=dict)  # TRL SFTConfig keys + freeze_layers, lora
    star: dict = field(default_factory=dict)  # genrm.star.config.StarConfig keys (method, model, data set by the demo)
    star_sft: dict = field(default_factory=dict)  # StarConfig keys for the STaR-SFT row only, over `star`
    star_rationalize: dict = field(default_factory=dict)  # for the STaR-Rationalizer row
    star_dpo: dict = field(default_factory=dict)  # and for the STaR-DPO row
    star_grpo: dict = field(default_factory=dict)  # and for the STaR-GRPO row (the judge trained by RL, train/grpo.py)


def _train(steps: int, lr: float, batch: int, freeze: int, cache: bool = False) -> dict:
    """Trainer settings of a demo section; `cache`: the frozen bottom runs once per sequence (train/cached.py)."""
    return {"max_steps": steps, "learning_rate": lr, "per_device_train_batch_size": batch, "freeze_layers": freeze,
            "logging_steps": max(1, steps // 5), "disable_tqdm": True, "warmup_steps": 0.1 if steps >= 20 else 0,
            "activation_checkpointing": False, **({"cache_frozen_layers": True} if cache else {})}


def _epochs(epochs: float, lr: float, batch: int, freeze: int, cache: bool = False) -> dict:
    """Like _train, for a set whose size is known only at run time (STaR's kept samples), no warmup."""
    return {**_train(1, lr, batch, freeze, cache), "max_steps": -1, "num_train_epochs": epochs, "logging_steps": 1,
            "warmup_steps": 0}  # a warmup fraction of a 1-2 step run is a zero learning rate


# "tiny": the test size (seconds, on a tiny model); "default": `genrm demo`, budgeted for 15 minutes on 2
# CPU cores with SmolLM2-135M (compact templates: 88-token judge prompts instead of 248; frozen bottom 24
# of 30 blocks cached; BT 1.5 and GenRM 2.5 passes over 192 pairs, GenRM in both orders; CoT rationales
# of 4 tokens before the forced verdict). CoT judges evaluate with one greedy vote (temperature 0: the
# likeliest verdict, the one-sample stand-in for a majority of many samples; a single vote drawn at
# temperature 1 would turn a 0.7 preference into a 70% coin); STaR samples its rationales at temperature 1.
# STaR trains on pairs solved in both orders, each pair's two orders in one batch (`balance: pair`, as GenRM
# trains), with the loss on the verdict after the sampled rationale (`loss_on: verdict`): 4-token rationales
# of a 135M model are noise whose loss swamps the one verdict token (docs/results.md "How STaR-DPO was made to learn" has the measurements).
# STaR-SFT takes GenRM's optimizer steps (it had about 3x at the medium size), so the two compare at equal steps.
# These settings were chosen before 2026-12-05 on a held-out split that shared prompts with training; none was
# chosen on the test split of the disjoint splits since (tuning reads `eval_split: dev`).
# "medium": benchmarks/paper_table.py (2-3 hours; STaR resamples all 384 pairs every iteration, 4 rationales per order);
# "research": real rationales (96 tokens, no forced verdict); "large": hours
DEFAULT_ROWS = tuple(r for r in ROWS if r not in ("STaR-Rationalizer", "STaR-GRPO"))  # left out for time
COMPACT = {"indicator_template": "indicator-compact", "cot_template": "cot-compact"}
STAR_SMALL = {"balance": "pair", "loss_on": "verdict"}  # the STaR data of the small sizes (above)
# STaR-DPO compares the verdict letters (loss_on: verdict) of far fewer units than STaR-SFT trains on (a prompt needs a
# right and a wrong rationale in both orders; 40 units at the default size): 3 passes in batches of 2 units, the best
# of the settings measured (docs/results.md "How STaR-DPO was made to learn")
STAR_DPO_TRAIN = {**_epochs(3, 2e-4, 4, 24, cache=True), "beta": 0.1}
# STaR-GRPO at a budget matched to STaR-SFT's: per iteration every judge prompt of the shard once (both orders of each
# pair), a group of `samples` rationales each (the rationales STaR-SFT samples), and STaR-SFT's optimizer steps: at
# the medium size 768 prompts x 4 = 3,072 rationales in 128 steps of 24 completions (6 prompts). Same learning rate and
# frozen bottom as STaR-SFT (no frozen-layer cache: GRPO's inputs change every step); KL beta 0.04; chosen before
# the first run, not tuned.
def _grpo(steps: int, prompts_per_step: int, samples: int) -> dict:
    return {**_train(steps, 2e-4, prompts_per_step * samples, 24), "warmup_steps": 0, "beta": 0.04}
SIZES = {
    "tiny": {"n_train": 8, "n_dev": 4, "n_test": 8, "n_ood": 8, "n_twin": 8,
             "eval": {"batch_size": 8, "votes": 1, "max_new_tokens": 8, "temperature": 0},
             "bt": _train(2, 1e-4, 4, 0), "genrm": _train(2, 1e-4, 4, 0),
             "star": {**STAR_SMALL, "iterations": 1, "shards": 1, "samples": 2, "max_train_pairs": 4,
                      "sampling": {"max_new_tokens": 8, "batch_size": 8}, "train": _train(1, 1e-4, 4, 0)},
             "star_rationalize": {"samples": 1},  # one sample per prompt: some go unsolved and get a hint
             "star_grpo": {"train": {**_train(2, 1e-4, 4, 0), "beta": 0.04}}},
    "default": {**COMPACT, "n_train": 192, "n_dev": 64, "n_test": 64, "n_ood": 64, "n_twin": 32, "rows": list(DEFAULT_ROWS),
                "eval": {"batch_size": 32, "votes": 1, "max_new_tokens": 4, "temperature": 0},
                "bt": _train(36, 2e-4, 8, 24, cache=True), "genrm": _train(120, 2e-4, 8, 24, cache=True),
                "star": {**STAR_SMALL, "iterations": 1, "shards": 1, "samples": 2, "max_train_pairs": 192,
                         "sampling": {"max_new_tokens": 4, "batch_size": 32}},
                "star_sft": {"train": _train(120, 2e-4, 8, 24, cache=True)},  # GenRM's optimizer steps
                "star_rationalize": {"train": _epochs(3, 2e-4, 8, 24, cache=True)},
                "star_dpo": {"train": STAR_DPO_TRAIN},
                # (not in the demo's rows) 768 rationales as STaR-SFT samples, in 96 steps of 2 pairs x 2 orders x 2
                "star_grpo": {"train": _grpo(96, 4, 2)}},
    "medium": {**COMPACT, "n_train": 384, "n_dev": 128, "n_test": 128, "n_ood": 128, "n_twin": 64,
               "eval": {"batch_size": 32, "votes": 1, "max_new_tokens": 4, "temperature": 0},
               "bt": _train(64, 2e-4, 8, 24, cache=True), "genrm": _train(256, 2e-4, 8, 24, cache=True),
               # 4 rationales per order for every STaR method: with 2, STaR-DPO had 67 units of 384 pairs and learned
               # nothing in iteration 1 (50.0); with 4 it has 231 (69.5), and STaR-SFT 450 instead of 198 (84.0 instead
               # of 51.6); one DPO pair per prompt (docs/results.md "Medium size, two STaR iterations")
               "star": {**STAR_SMALL, "iterations": 2, "shards": 1, "samples": 4, "max_train_pairs": 384,
                        "sampling": {"max_new_tokens": 4, "batch_size": 32}},
               "star_sft": {"train": _train(128, 2e-4, 8, 24, cache=True)},  # x 2 iterations: GenRM's 256 steps
               "star_rationalize": {"train": _epochs(3, 2e-4, 8, 24, cache=True)},
               "star_dpo": {"dpo_pairs_per_prompt": 1, "train": STAR_DPO_TRAIN},
               "star_grpo": {"train": _grpo(128, 6, 4)}},  # x 2 iterations: STaR-SFT's 256 steps, its 6,144 rationales
    # real rationales: CoT judges sample up to 96 tokens and vote only with tags they wrote themselves (no forced
    # verdict); STaR trains on the whole rationale; STaR-SFT at GenRM's optimizer steps
    "research": {"n_train": 192, "n_dev": 64, "n_test": 64, "n_ood": 64, "n_twin": 32, "force_verdict": False,
                 "rows": list(DEFAULT_ROWS),
                 "eval": {"batch_size": 16, "votes": 1, "max_new_tokens": 96, "temperature": 0},
                 "bt": _train(36, 2e-4, 8, 24, cache=True), "genrm": _train(120, 2e-4, 8, 24, cache=True),
                 "star": {"balance": "pair", "loss_on": "completion", "iterations": 1, "shards": 1, "samples": 2,
                          "max_train_pairs": 192, "sampling": {"max_new_tokens": 96, "batch_size": 16}},
                 "star_sft": {"train": _train(120, 2e-4, 8, 24, cache=True)},
                 "star_rationalize": {"train": _epochs(3, 2e-4, 8, 24, cache=True)},
                 "star_dpo": {"train": STAR_DPO_TRAIN}},
    "large": {"n_train": 800, "n_dev": 200, "n_test": 200, "n_ood": 200, "n_twin": 100,
              "eval": {"batch_size": 16, "votes": 4, "max_new_tokens": 96},
              "bt": _train(200, 1e-4, 8, 16), "genrm": _train(200, 1e-4, 8, 16),
              "star": {"iterations": 2, "shards": 2, "samples": 2, "max_train_pairs": 200,
                       "sampling": {"max_new_tokens": 96, "batch_size": 16}, "train": _train(60, 1e-4, 8, 16)}},
}


class MethodUnavailable(RuntimeError):
    """The module a method needs is not installed in this checkout (reported, never faked)."""


def settings(size: str, overrides: dict | None = None) -> DemoConfig:
    """The DemoConfig of a size with `overrides` (nested mappings) on top; unknown keys fail."""
    if size not in SIZES:
        raise ValueError(f"unknown demo size {size!r} (expected one of {', '.join(SIZES)})")
    cfg = load_typed(DemoConfig, merge(SIZES[size], overrides or {}))
    if cfg.eval_split not in ("test", "dev"):
        raise ValueError(f"eval_split: {cfg.eval_split!r} is not test or dev")
    unknown = [r for r in cfg.rows or () if r not in ROWS]
    if unknown:
        raise ValueError(f"rows: unknown method(s) {unknown} (expected names of {', '.join(ROWS)})")
    return cfg


def chosen_rows(cfg: DemoConfig) -> list[str]:
    return [r for r in ROWS if cfg.rows is None or r in cfg.rows]
