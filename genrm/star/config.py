"""STaR run configuration: `StarConfig` (the paper's defaults where it gives them) and validation.

A recipe only sets values; `resolve_config` loads it through genrm.config.load_typed (unknown keys
anywhere fail with a suggestion, values are type-checked) and checks the `train` section against
the TRL config class of the method (SFTConfig or DPOConfig) plus genrm's own trainer keys, so a
typo fails at load instead of being silently ignored.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from genrm.config import ConfigError, EvalConfig, SamplingConfig, load_typed

METHODS = ("sft", "rationalize", "dpo", "grpo")
DPO_REJECTS = ("wrong", "wrong_or_unparsed")
# per-method trainer defaults (REFERENCE.md §1: lr 1e-6, rationalizer 2e-5; DPO beta 1.0)
TRAIN_DEFAULTS = {"sft": {"learning_rate": 1e-6}, "rationalize": {"learning_rate": 2e-5},
                  "dpo": {"learning_rate": 1e-6, "beta": 1.0},
                  # GRPO: KL to the reference model (TRL's own default is beta 0: no reference model); the data set
                  # is read in order, so that a pair's two orders meet in a generation batch (train/grpo.py)
                  "grpo": {"learning_rate": 1e-6, "beta": 0.04, "shuffle_dataset": False}}


@dataclass
class RewardWeights:
    """GRPO's reward terms (genrm/train/grpo.py): verdict correct, consistent across orders, tag written."""

    correct: float = 1.0
    consistency: float = 0.5  # only when both orders are sampled (both_orders)
    format: float = 0.1


@dataclass
class StarConfig:
    method: str = "dpo"
    model: str = "smollm2-135m"
    data: str | None = None  # training pairs: a file, directory or hub id (genrm.data.pairs.load_pairs)
    data_split: str | None = None
    eval_data: str | None = None  # held-out pairs (in-distribution); none: hold out eval_fraction of data
    eval_fraction: float = 0.1
    benches: dict = field(default_factory=dict)  # name -> pairs source, evaluated after every iteration (OOD)
    max_train_pairs: int | None = None  # use at most this many training pairs (after shuffling with seed)
    max_eval_pairs: int | None = None  # and at most this many pairs of each evaluation set
    max_prompt_tokens: int | None = None  # drop pairs whose judge prompt is longer than this (either order)
    over_length: str = "error"  # without max_prompt_tokens, a pair over the context: "error" (located) or "skip" (counted)
    iterations: int = 3  # the paper: 3 iterations ...
    shards: int = 3  # ... over 3 equal shards, iteration i sampling shard (i-1) % shards
    samples: int = 4  # K rationales per pair and order (not reported in the paper); grpo: the group size
    both_orders: bool = True  # sample and judge both orders; else one seeded random order per pair
    template: str = "cot"  # judge template (genrm.judges.prompts), used for sampling, training and judging
    force_verdict: bool = False  # continue tag-less samples with "Final verdict: [[" (judges/cot.py); for small models
    seed: int = 0
    restart_from_base: bool = False  # sft/rationalize: train every iteration from the base model on all data so far
    balance: str = "position"  # "position": as many "A" as "B" verdicts (Self-Taught Evaluator); "pair": pairs solved in
    # both orders, one example of each order per unit, trained in one batch (as GenRM); "none" (genrm.star.samples)
    loss_on: str = "completion"  # "completion" (rationale + verdict, the paper) or "verdict" (the sampled rationale
    # is read, not trained on or compared, and DPO compares the verdict letters alone: for small models whose short
    # rationales are noise)
    dpo_pairs_per_prompt: int = 4  # cap of (correct, incorrect) pairs per judge prompt
    dpo_rejects: str = "wrong"  # rejected rationales: "wrong" verdicts only (the paper), or "wrong_or_unparsed"
    hint_samples: int = 1  # rationalize: hinted samples per prompt with no correct sample
    rewards: RewardWeights = field(default_factory=RewardWeights)  # grpo: the reward terms' weights
    eval_baseline: bool = True  # evaluate the starting model too (metrics["baseline"])
    launch: str | None = None  # run each training step under this launcher, e.g. "accelerate launch --config_file ..."
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    train: dict = field(default_factory=dict)  # TRL SFTConfig / DPOConfig / GRPOConfig keys + lora, freeze_layers, max_length


def resolve_config(config: dict) -> StarConfig:
    """StarConfig from a mapping, validated: unknown keys, bad values and trainer keys raise ConfigError."""
    cfg = load_typed(StarConfig, config)
    if cfg.method not in METHODS:
        raise ConfigError(f"method must be one of {', '.join(METHODS)}, not {cfg.method!r}")
    for key in ("iterations", "shards", "samples", "dpo_pairs_per_prompt", "hint_samples"):
        if getattr(cfg, key) < 1:
            raise ConfigError(f"'{key}' must be a positive integer, not {getattr(cfg, key)!r}")
    if cfg.sampling.backend not in ("hf", "vllm"):
        raise ConfigError(f"sampling.backend must be 'hf' or 'vllm', not {cfg.sampling.backend!r}")
    from genrm.data.lengths import POLICIES

    if cfg.over_length not in POLICIES:
        raise ConfigError(f"over_length must be one of {', '.join(POLICIES)}, not {cfg.over_length!r}")
    if cfg.dpo_rejects not in DPO_REJECTS:
        raise ConfigError(f"dpo_rejects must be one of {', '.join(DPO_REJECTS)}, not {cfg.dpo_rejects!r}")
    from genrm.star.samples import BALANCES, LOSS_ON

    if cfg.balance not in BALANCES:
        raise ConfigError(f"balance must be one of {', '.join(BALANCES)}, not {cfg.balance!r}")
    if cfg.balance == "pair" and not cfg.both_orders:
        raise ConfigError("balance: pair needs both orders of every pair sampled: set both_orders: true")
    if cfg.loss_on not in LOSS_ON:
        raise ConfigError(f"loss_on must be one of {', '.join(LOSS_ON)}, not {cfg.loss_on!r}")
    if cfg.restart_from_base and cfg.method == "dpo":
        raise ConfigError("restart_from_base applies to sft and rationalize (each iteration retrains the base model on "
                          "every set so far); STaR-DPO always continues from the latest model: remove the key")
    from genrm.judges.prompts import COT_TEMPLATES

    if cfg.template not in COT_TEMPLATES:
        raise ConfigError(f"template must be a CoT template ({', '.join(COT_TEMPLATES)}), not {cfg.template!r}")
    cfg.train = {**TRAIN_DEFAULTS[cfg.method], **(cfg.train or {})}
    check_train_keys(cfg.method, cfg.train)
    if cfg.method == "grpo":
        check_grpo(cfg)
    return cfg


def check_train_keys(method: str, train: dict) -> None:
    """Reject `train` keys that neither the method's TRL config class nor genrm knows."""
    from genrm.train.common import check_keys

    if method == "dpo":
        from trl import DPOConfig as cls
    elif method == "grpo":
        from trl import GRPOConfig as cls
    else:
        from trl import SFTConfig as cls
    try:
        check_keys(cls, train)
    except ConfigError as err:
        raise ConfigError(f"train: {err}") from None


def check_grpo(cfg: StarConfig) -> None:
    """GRPO samples with the run's own sampling settings; the trainer keys that would say it twice are refused."""
    from genrm.train.grpo import GENERATION_KEYS

    for key, ours in GENERATION_KEYS.items():
        if key in cfg.train:
            raise ConfigError(f"train.{key}: GRPO takes it from the run's '{ours}'; set that instead")
    for key in ("correct", "consistency", "format"):
        if getattr(cfg.rewards, key) < 0:
            raise ConfigError(f"rewards.{key} must be >= 0, not {getattr(cfg.rewards, key)!r}")
    if cfg.samples < 2:
        raise ConfigError("samples: GRPO compares the completions of a group, so it needs at least 2 per prompt")
    if cfg.restart_from_base:
        raise ConfigError("restart_from_base applies to sft and rationalize; GRPO continues from the latest model")
