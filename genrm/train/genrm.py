"""GenRM (indicator token): SFT on -log pi(I | judge prompt), I = "A" or "B", loss on I alone.

Every pair is shown in both orders (chosen first -> "A", chosen second -> "B"), so the labels are
balanced across positions. Training goes through genrm.train.sft (TRL's SFTTrainer) with the
prompts IndicatorJudge scores: `judge_messages(pair, chosen_first, template)`; the template is
stored in the judge card, so scoring renders exactly the prompts trained on.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from genrm.config import ConfigError
from genrm.judges.prompts import INDICATOR_TEMPLATES, indicator_ids, judge_messages
from genrm.models import load_tokenizer
from genrm.train.common import check_keys, data_card, write_eval
from genrm.train.sft import SFTExample, train_sft
from genrm.types import PreferencePair

INDICATORS = ("A", "B")  # the display letters of judge_messages: first = "A", second = "B"
OWN_KEYS = {"template", "paired_batches"}  # GenRM's keys on top of SFTConfig's and train.common's


def check_config(config: dict) -> None:
    """Raise ConfigError for a key that neither TRL's SFTConfig nor genrm knows, or a template
    that is not an indicator template."""
    from trl import SFTConfig

    template = config.get("template", "indicator")
    if template not in INDICATOR_TEMPLATES:
        raise ConfigError(f"template must be an indicator template ({', '.join(INDICATOR_TEMPLATES)}), not {template!r}")
    check_keys(SFTConfig, config, OWN_KEYS)


def genrm_examples(pairs: Sequence[PreferencePair], template: str = "indicator") -> list[SFTExample]:
    """Both orders of every pair; the completion is the indicator of the chosen response, no EOS."""
    return [SFTExample(judge_messages(p, chosen_first, template), INDICATORS[0] if chosen_first else INDICATORS[1], eos=False,
                       pair=p)
            for p in pairs for chosen_first in (True, False)]


def train_genrm(model: str, pairs: Sequence[PreferencePair], out: str | Path, config: dict | None = None,
                eval_pairs: Sequence[PreferencePair] | None = None, template: str | None = None) -> Path:
    """Train an indicator-token GenRM on `pairs`; returns the checkpoint directory (`out/checkpoint`).
    The judge template is `template`, else the config key `template` (default "indicator").
    Config key `paired_batches` (default true): a pair's two orders share every batch
    (train_sft's units), so the "A" and "B" targets of one pair always meet and a position prior
    alone earns nothing.
    With `eval_pairs`, also evaluates the saved judge into `out/eval/` (genrm.eval.evaluate)."""
    config = dict(config or {})
    if template is not None:
        config["template"] = template
    check_config(config)
    template = config.pop("template", "indicator")
    paired = config.pop("paired_batches", True)
    indicator_ids(load_tokenizer(model), INDICATORS)  # clear error before any training if not single tokens
    out = Path(out)
    card = {"kind": "genrm", "method": "genrm-indicator", "template": template, "indicators": list(INDICATORS),
            "both_orders": True, "data": {"train": data_card(pairs)}}
    if eval_pairs:
        card["data"]["eval"] = data_card(eval_pairs)
    checkpoint = train_sft(model, genrm_examples(pairs, template), out, config, {**card, "paired_batches": paired},
                           unit=2 if paired else 1)
    if eval_pairs:
        write_eval(checkpoint, eval_pairs, out)
    return checkpoint
