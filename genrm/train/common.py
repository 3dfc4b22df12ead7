"""Wiring shared by every trainer: TRL config from a genrm config, freezing, LoRA, checkpoints.

genrm's own config keys (everything else goes to the TRL config class, unknown keys are errors):
  lora: {r, alpha, dropout, target_modules}   train LoRA adapters (merged into the checkpoint); `lora: true`
                                               takes the defaults of LoraSettings
  freeze_layers: N                             freeze the embeddings and the bottom N layers
  max_length: L                                the token limit of an example (default: the model's context)
  over_length: error | skip                    an example over the limit: a located error naming the pair
                                               (default), or dropped and counted; never truncated
  cache_frozen_layers: true                    compute the frozen bottom once per sequence (train/cached.py)
  precision: mixed | fp32 | bf16               the weights' dtype in training (`training_dtype`); default mixed
"""
from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from genrm.config import key_paths, load_typed, split_trainer_kwargs
from genrm.distributed import world_size
from genrm.judges.base import CARD
from genrm.runs import atomic_write_json

OWN_KEYS = {"lora", "freeze_layers", "max_length", "over_length", "cache_frozen_layers", "precision"}
PRECISIONS = ("mixed", "fp32", "bf16")
# the paper's optimiser settings (REFERENCE.md §1); learning rate per method is set by callers.
# report_to "none" is only a default: report_to=tensorboard (wandb, trackio, ...) in a recipe or on the
# command line reaches TRL as it is (TensorBoard events: RUN/trainer/runs/).
PAPER_DEFAULTS = {
    "learning_rate": 1e-6, "adam_beta1": 0.9, "adam_beta2": 0.95, "weight_decay": 0.1,
    "lr_scheduler_type": "cosine", "warmup_steps": 0.1, "num_train_epochs": 1,
    "per_device_train_batch_size": 8, "logging_steps": 1, "report_to": "none", "save_strategy": "no",
    "seed": 0, "disable_tqdm": False,
}


@dataclass
class LoraSettings:
    """The `lora` section (peft.LoraConfig's r, lora_alpha, lora_dropout, target_modules)."""

    r: int = 16
    alpha: int = 32
    dropout: float = 0.0
    target_modules: Any = "all-linear"


def lora_settings(own: dict) -> LoraSettings | None:
    """The LoRA settings of genrm's own keys (None: no LoRA); unknown `lora.*` keys raise ConfigError."""
    lora = own.get("lora")
    if not lora:
        return None
    values = lora if isinstance(lora, dict) else {}
    return load_typed(LoraSettings, values, "lora.", [f"lora.{k}" for k in key_paths(LoraSettings)])


def check_keys(cls, config: dict, own_keys: set[str] = frozenset()) -> tuple[dict, dict]:
    """(kwargs for the TRL config class `cls`, genrm's own keys) of a trainer config. A key that
    neither `cls` nor genrm knows, `lora.*` included, raises ConfigError; nothing is instantiated,
    so a GPU recipe (bf16) is checked on any machine."""
    trainer, own = split_trainer_kwargs(cls, config, OWN_KEYS | set(own_keys))
    lora_settings(own)
    return trainer, own


def make_args(cls, config: dict, out_dir: Path, defaults: dict | None = None, own_keys: set[str] = frozenset()):
    """(TRL config instance, genrm-own options) from `config` layered over the defaults."""
    merged = current_names(cls, {**PAPER_DEFAULTS, **(defaults or {}), **config})
    if "bf16" not in merged:  # TRL defaults to bf16, which CPU training refuses
        merged["bf16"] = bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if world_size() > 1 and not torch.cuda.is_available():  # without it, no gloo group: P unsynchronised copies
        merged.setdefault("use_cpu", True)
    trainer_kwargs, own = check_keys(cls, merged, own_keys)
    trainer_kwargs.setdefault("output_dir", str(out_dir / "trainer"))
    return cls(**trainer_kwargs), own


def training_dtype(own: dict, args) -> torch.dtype:
    """The dtype the trained weights are loaded in. `precision: mixed` (default): fp32 weights, so
    the optimizer updates fp32 master weights, with bf16 autocast where `bf16` is on (on GPUs by
    default; DeepSpeed and FSDP apply their own mixed precision to fp32 weights). `fp32`: fp32
    weights, bf16 off. `bf16`: the weights themselves in bf16 (half the memory, no master copy):
    updates smaller than bf16's resolution are lost, so it warns with the learning rate."""
    from genrm.config import ConfigError

    precision = own.get("precision", "mixed")
    if precision not in PRECISIONS:
        raise ConfigError(f"precision: {precision!r} is not one of {', '.join(PRECISIONS)}")
    if precision == "fp32":
        args.bf16 = False
        return torch.float32
    if precision == "bf16":
        args.bf16 = True
        print(f"genrm: warning: precision=bf16 keeps the trained weights in bf16 with no fp32 master copy; at "
              f"learning_rate={args.learning_rate:g} most updates are below bf16's resolution and are lost "
              "(3 AdamW steps at 1e-6 moved 1.5% of the weights against 69% in fp32); precision=mixed keeps them",
              flush=True)
        return torch.bfloat16
    return torch.float32


def current_names(cls, config: dict) -> dict:
    """`config` with the current transformers names: `gradient_checkpointing*` (deprecated aliases,
    still accepted from users) become `activation_checkpointing*`, keeping TRL's default when unset;
    without a GPU, `dataloader_pin_memory` is off (pinning needs an accelerator)."""
    import dataclasses

    names = {f.name: f.default for f in dataclasses.fields(cls)}
    config = dict(config)
    for old, new in (("gradient_checkpointing", "activation_checkpointing"),
                     ("gradient_checkpointing_kwargs", "activation_checkpointing_kwargs")):
        if new in names and new not in config:
            value = config.pop(old, names.get(old))
            if value is not None:
                config[new] = value
        elif new in names:
            config.pop(old, None)
    if not torch.cuda.is_available() and "dataloader_pin_memory" in names:
        config.setdefault("dataloader_pin_memory", False)
    return config


def length_limit(own: dict, model: str) -> tuple[int | None, str]:
    """(token limit, over-length policy) of a training run: max_length, else the model's context."""
    from genrm.data.lengths import check_policy, model_limit

    limit = own.get("max_length")
    return (model_limit(model) if limit is None else limit), check_policy(own.get("over_length", "error"))


def enforce_length(over: list, kept: int, what: str, limit: int | None, policy: str) -> None:
    """`over`: (pair or None, tokens) of each example over the limit. Policy "error": the first one
    that comes from a pair is a located error (genrm.data.lengths.TooLong); examples of no pair (sampled
    rationales) and, under "skip", every one are dropped and counted. No example left is an error."""
    from genrm.data.lengths import TooLong

    if policy == "error":
        for pair, tokens in over:
            if pair is not None:
                raise TooLong(pair, tokens, limit).error(len(over))
    if not kept:
        raise ValueError(f"no {what} left ({len(over)} dropped for exceeding {limit} tokens)")
    if over:
        print(f"genrm: {len(over)} of {kept + len(over)} {what} dropped for exceeding {limit} tokens")


def units_in_order(rows: list, unit: int, total: int, seed: int) -> list:
    """At least `total` rows made of whole units (`unit` consecutive rows: a pair's two orders),
    the units shuffled afresh (seeded) on every pass over the data."""
    import random

    units = [rows[k:k + unit] for k in range(0, len(rows), unit)]
    out, rng, passes = [], random.Random(seed), 0
    while len(out) < total or passes == 0:
        order = list(range(len(units)))
        rng.shuffle(order)
        out += [row for k in order for row in units[k]]
        passes += 1
    return out


def lay_out_units(rows: list, unit: int, args) -> list:
    """The training rows laid out so that each unit of `unit` consecutive rows (a pair's two
    orders) shares a batch: unit by unit, shuffled per pass, read in order (`args` is adjusted:
    sequential sampling, and num_train_epochs spread over the passes laid out). unit 1: unchanged."""
    import math

    if unit <= 1:
        return rows
    if len(rows) % unit:
        raise ValueError(f"{len(rows)} training rows do not make whole units of {unit}")
    if args.per_device_train_batch_size % unit:
        raise ValueError(f"per_device_train_batch_size={args.per_device_train_batch_size} must be a multiple of {unit} "
                         "(the examples of a unit share a batch)")
    if args.max_steps > 0:
        per_step = args.per_device_train_batch_size * args.gradient_accumulation_steps * max(1, args.world_size)
        rows = units_in_order(rows, unit, args.max_steps * per_step, args.seed)
    else:  # num_train_epochs passes over the data, laid out one after another
        passes = max(1, math.ceil(args.num_train_epochs))
        rows = units_in_order(rows, unit, passes * len(rows), args.seed)
        args.num_train_epochs = args.num_train_epochs / passes
    args.train_sampling_strategy = "sequential"
    return rows


def freeze_bottom(model, n_layers: int) -> None:
    """Freeze the input embeddings and the bottom `n_layers` transformer blocks."""
    if not n_layers:
        return
    base = model.base_model if hasattr(model, "base_model") else model
    layers = getattr(base, "layers", None) or getattr(getattr(base, "model", None), "layers", None)
    if layers is None:
        raise ValueError(f"freeze_layers: cannot find the transformer blocks of {type(model).__name__}")
    if n_layers > len(layers):
        raise ValueError(f"freeze_layers={n_layers} but the model has {len(layers)} layers")
    model.get_input_embeddings().requires_grad_(False)
    for layer in layers[:n_layers]:
        layer.requires_grad_(False)


@contextmanager
def label_positions_only():
    """TRL's fused LM head (SFT, DPO: `add_fused_lm_head`) projects only the positions that carry a
    label on CUDA/XPU, but every position elsewhere, to keep tile shapes fixed for compilers. On CPU
    nothing is compiled, and a judge's completion is a few tokens of a ~90-token prompt, so the
    49k-vocabulary projection of all positions was 3/4 of a GenRM step (profiled: 7.7 of 10.8
    CPU-s). Inside this context TRL takes its compact path on CPU too: the same kernel and loss,
    fed only the labelled positions (tests/test_train.py checks losses and weights). A TRL
    without that switch is left as it is."""
    import trl.trainer.utils as trl_utils

    original = getattr(trl_utils, "_use_triton", None)
    if original is None:
        yield
        return
    trl_utils._use_triton = lambda device: device.type == "cpu" or original(device)
    try:
        yield
    finally:
        trl_utils._use_triton = original


def fit(trainer, *contexts) -> None:
    """Run a TRL trainer the genrm way: its log dicts to the run's log (genrm.logs.quiet_trainer),
    the LM head on labelled positions only, inside `contexts` (e.g. a CachedBottom)."""
    from contextlib import ExitStack

    from genrm.logs import quiet_trainer

    quiet_trainer(trainer)
    with ExitStack() as stack:
        for context in (*contexts, label_positions_only()):
            stack.enter_context(context)
        trainer.train()


def peft_config(own: dict, task_type: str):
    lora = lora_settings(own)
    if lora is None:
        return None
    from peft import LoraConfig

    return LoraConfig(task_type=task_type, r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                      target_modules=lora.target_modules)


def save_checkpoint(trainer, tokenizer, out: Path, card: dict) -> Path:
    """Save the trained model as a plain HF checkpoint (LoRA merged) + the judge card to
    `out/checkpoint`, atomically (a temporary directory, then renamed), and the trainer's log.

    Under `accelerate launch` every process takes part in gathering the whole model with the
    libraries' own gathering (accelerate's `get_state_dict`: DeepSpeed ZeRO-3's consolidated state
    dict, FSDP's full state dict; `gathered_state_dict`), the main process writes, and the others
    wait for it. Call it on every process."""
    import shutil

    from genrm.distributed import is_main_process, wait_for_everyone

    target = out / "checkpoint"
    state_dict = gathered_state_dict(trainer)
    if not is_main_process():
        wait_for_everyone()
        return target
    model = trainer.accelerator.unwrap_model(trainer.model_wrapped)
    tmp = out / ".checkpoint.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    if hasattr(model, "merge_and_unload"):  # LoRA: merged into a plain copy built from the gathered weights
        merged_copy(model, state_dict).save_pretrained(tmp, safe_serialization=True)
    else:
        model.save_pretrained(tmp, state_dict=state_dict, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    atomic_write_json(tmp / CARD, card)
    atomic_write_json(out / "train_log.json", trainer.state.log_history)
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    wait_for_everyone()
    return target


def gathered_state_dict(trainer) -> dict:
    """The whole model's state dict on the main process (every process must call this): under
    ZeRO-3 DeepSpeed's consolidated weights (also when the config does not ask for them at save
    time), under FSDP the full state dict, otherwise the model's own. A tensor still sharded
    (an FSDP2 DTensor, which torch's full-state-dict option leaves as it is on CPU) is gathered
    with DTensor's own all-gather, one tensor at a time."""
    from genrm.distributed import is_main_process

    accelerator, wrapped = trainer.accelerator, trainer.model_wrapped
    try:
        state_dict = accelerator.get_state_dict(wrapped)
    except ValueError:  # ZeRO-3 without stage3_gather_16bit_weights_on_model_save: the engine gathers all the same
        state_dict = wrapped._zero3_consolidated_16bit_state_dict()
    state_dict = state_dict or {}  # ZeRO-3 gives the other processes None
    try:
        from torch.distributed.tensor import DTensor
    except ImportError:
        return state_dict
    main = is_main_process()
    for name, value in list(state_dict.items()):
        if isinstance(value, DTensor):
            full = value.full_tensor()
            if main:
                state_dict[name] = full.cpu()
            else:
                del state_dict[name]
    return state_dict


def merged_copy(peft_model, state_dict: dict):
    """A plain (unsharded, CPU) copy of a PEFT model holding the gathered weights, its LoRA merged.
    Built on the meta device and assigned the tensors, outside ZeRO-3's partitioning (`plain_loading`),
    which would otherwise take hold of a model that one process builds."""
    from peft import get_peft_model

    base = peft_model.get_base_model()
    with plain_loading(), torch.device("meta"):
        copy = get_peft_model(type(base)(base.config), peft_model.peft_config[peft_model.active_adapter])
    _, unexpected = copy.load_state_dict({k: v.to("cpu") for k, v in state_dict.items()}, strict=False, assign=True)
    copy.tie_weights()
    missing = [name for name, p in copy.named_parameters() if p.is_meta]
    if missing or unexpected:
        raise RuntimeError(f"saving a LoRA model: the gathered weights do not fit it (missing {missing[:5]}, "
                           f"unexpected {unexpected[:5]})")
    return copy.merge_and_unload()


def losses(out: Path) -> list[float]:
    """Training losses logged by the trainer, in order."""
    path = out / "train_log.json"
    return [row["loss"] for row in json.loads(path.read_text()) if "loss" in row] if path.exists() else []


def steps_done(out: Path) -> int:
    """Optimizer steps the trainer took (its last logged `step`; 0 when nothing was logged)."""
    path = out / "train_log.json"
    rows = json.loads(path.read_text()) if path.exists() else []
    return max((row.get("step", 0) for row in rows), default=0)


def write_eval(checkpoint: Path, pairs, out: Path, batch_size: int = 8):
    """Evaluate the saved checkpoint (the same code path as inference) on held-out `pairs` through
    genrm.eval.evaluate; results in `out/eval/` (results.json, report.md, chart.png). A journal
    left there by an earlier training of this run judged other weights: it is removed first."""
    import shutil

    from genrm.distributed import is_main_process, wait_for_everyone
    from genrm.eval.runner import evaluate
    from genrm.judges.base import load_judge

    directory = Path(out) / "eval"
    if is_main_process():
        shutil.rmtree(directory, ignore_errors=True)
    wait_for_everyone()  # no process judges (or journals) before the old directory is gone
    with plain_loading():
        judge = load_judge(str(checkpoint))
    result = evaluate(judge, pairs, out=directory, batch_size=batch_size, progress=True,
                      model=str(checkpoint))
    wait_for_everyone()  # the main process has written results.json: every process may read it
    return result


@contextmanager
def plain_loading():
    """Models loaded inside are whole on this process, also right after a ZeRO-3 training, whose
    settings would otherwise make transformers partition every model it loads (zero.Init)."""
    from transformers.integrations import deepspeed

    if not deepspeed.is_deepspeed_zero3_enabled():
        yield
        return
    config = deepspeed._hf_deepspeed_config_weak_ref
    deepspeed.unset_hf_deepspeed_config()
    try:
        yield
    finally:
        deepspeed._hf_deepspeed_config_weak_ref = config


def data_card(pairs) -> dict:
    """Where training/eval pairs came from: the source files and the number of pairs."""
    files = sorted({p.source.rsplit(":", 1)[0] for p in pairs})
    return {"files": files, "pairs": len(pairs), "subsets": sorted({p.subset for p in pairs})}
