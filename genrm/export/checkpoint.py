"""Export a trained judge: plain HF checkpoint (safetensors + tokenizer) + genrm_judge.json + README.

`export_run(run, out)` takes a run directory (holding `checkpoint/`, `config.yaml`, and maybe
`eval/results.json`) or a checkpoint directory, and writes to `out`:
  - the model's safetensors, config and tokenizer, loadable with AutoModelForSequenceClassification
    (BT; also the `text-classification` pipeline) or AutoModelForCausalLM (GenRM) alone;
  - genrm_judge.json: judge kind, template, indicator tokens, position policy, base model, data,
    and the held-out evaluation if there is one; `genrm.load_judge(out)` rebuilds the judge;
  - README.md: the model card (genrm.export.model_card: judge, training data, hyperparameters, evaluation
    per subset, how to use), with the hub's metadata on top.
`push_to_hub(out, repo)` uploads the exported folder to a hub model repo (`genrm export --push-to-hub`).

The files are readable by transformers 5.x (which wrote them) and by 4.x (4.51, as the official
RewardBench harness pins it): `make_compatible` adds the legacy top-level config keys next to the
new ones (`rope_theta`, `rope_scaling`, `partial_rotary_factor` beside `rope_parameters`;
`torch_dtype` beside `dtype`) and names a tokenizer class 4.x knows (`PreTrainedTokenizerFast`,
which reads tokenizer.json verbatim in both) with explicit `model_input_names` (4.x would otherwise
add `token_type_ids`, which Llama-style models reject). `check_same_under_transformers` then
reloads the original and the rewritten files with the installed transformers and raises if the
config, the tokenizer or the meaning of the legacy keys differ: never a silently different model.
A BT export also states what genrm's BTJudge sets at load time (`pin_bt_padding`: a pad token
distinct from EOS, config.pad_token_id equal to it), and a chat template that prints today's date
renders genrm's fixed date when none is passed (`pin_date`), so loaders that only read the files
(the RewardBench harness, the text-classification pipeline) compute what `genrm eval` computes.
What 4.x computes from an export is measured by benchmarks/official_agreement.py (logits under
4.51 vs 5.x, and the official `rewardbench` CLI vs `genrm eval`).
"""
from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import yaml

from genrm.export.model_card import model_card
from genrm.judges.base import CARD
from genrm.runs import atomic_write_json, atomic_write_text

POSITION_POLICY = {
    "bt": "pointwise: each response is scored alone; p_chosen = sigmoid(r_chosen - r_rejected)",
    "genrm": "both orders scored; p_chosen = mean of p(chosen) with the chosen response shown first and second",
    "cot": "both orders sampled; p_chosen = share of parsed [[A]]/[[B]] votes for the chosen response",
}
# RoPE types whose transformers-4 `rope_scaling` dict means what transformers-5 `rope_parameters` does
# (same keys, same formulas); others are written too but flagged as unverified.
VERIFIED_ROPE_TYPES = ("default", "linear", "dynamic", "llama3")
LEGACY_TOKENIZER_CLASS = "PreTrainedTokenizerFast"
# conversations whose rendering and tokenization must not change when the tokenizer files are rewritten
_PROBE_CONVERSATIONS = [
    [{"role": "user", "content": "What is 2+2?"}, {"role": "assistant", "content": "The answer is 4."}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name a colour, please. Ünïcödé ✓ 日本"},
     {"role": "assistant", "content": "Blue.\n\n  Also:\tgreen!"}],
]


def find_checkpoint(run: str | Path) -> Path:
    run = Path(run)
    for candidate in (run / "checkpoint", run):
        if (candidate / CARD).is_file() and (candidate / "config.json").is_file():
            return candidate
    raise FileNotFoundError(f"{run}: no trained checkpoint here (expected {run / 'checkpoint' / CARD}); "
                            "pass a run directory written by `genrm train`")


def export_run(run: str | Path, out: str | Path) -> Path:
    """Write the exported judge to `out` (replaced atomically); returns `out`."""
    run, out = Path(run), Path(out)
    checkpoint = find_checkpoint(run)
    card = json.loads((checkpoint / CARD).read_text())
    kind = card.get("kind")
    if kind not in POSITION_POLICY:
        raise ValueError(f"{checkpoint / CARD}: cannot export judge kind {kind!r} (expected one of {sorted(POSITION_POLICY)})")
    if kind in ("genrm", "cot") and not card.get("both_orders", True):
        card["position_policy"] = "one order per pair, seeded random from the pair's content (genrm.judges.prompts.shown_orders)"
    card.setdefault("position_policy", POSITION_POLICY[kind])
    config_path = run / "config.yaml"
    run_config = yaml.safe_load(config_path.read_text()) if config_path.is_file() else {}
    if run_config:
        card["run_config"] = run_config
    held_out = read_eval(run)
    if held_out:
        held_out["data"] = held_out["data"] or run_config.get("eval_data")
        card["eval"] = held_out

    tmp = out.parent / f".{out.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(checkpoint, tmp)
    try:
        notes = make_compatible(tmp)
        check_same_under_transformers(checkpoint, tmp)
        if kind == "bt":
            notes += pin_bt_padding(tmp)
        notes += pin_date(tmp)
    except Exception:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    card["transformers_compat"] = compat_record(notes)
    for problem in (n for n in notes if not n.startswith("changed: ")):
        warnings.warn(f"{out}: {problem}", stacklevel=2)
    atomic_write_json(tmp / CARD, card)
    atomic_write_text(tmp / "README.md", model_card(card))
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out


def read_eval(run: Path) -> dict | None:
    """The run's held-out evaluation (RUN/eval/results.json, written by genrm.eval.evaluate): its
    pooled Score (accuracy, n, ci95, length baseline, per-order accuracy, ties, unparsed), the
    Score of each subset, the data source, bench and overall score."""
    from dataclasses import asdict

    from genrm.types import EvalResult

    path = run / "eval" / "results.json"
    if not path.is_file():
        return None
    result = EvalResult.from_dict(json.loads(path.read_text()))
    return {**asdict(result.pooled), "subsets": {name: asdict(s) for name, s in result.subsets.items()},
            "bench": result.bench, "data": result.data, "overall": result.overall, "results": "eval/results.json"}


def push_to_hub(folder: str | Path, repo_id: str, private: bool = False, token: str | None = None) -> str:
    """Upload an exported judge (`folder`: safetensors, tokenizer, genrm_judge.json, README.md) to
    the hub model repo `repo_id`, created first if it does not exist (private if asked). The token
    is `token`, else huggingface_hub's own (HF_TOKEN, `hf auth login`). Returns the commit URL."""
    from huggingface_hub import HfApi

    folder = Path(folder)
    if not (folder / CARD).is_file():
        raise FileNotFoundError(f"{folder}: not an exported judge (no {CARD})")
    api = HfApi(token=token)
    api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
    kind = json.loads((folder / CARD).read_text()).get("kind")
    commit = api.upload_folder(repo_id=repo_id, repo_type="model", folder_path=str(folder),
                               commit_message=f"genrm export: {kind} judge")
    return commit.commit_url


def legacy_config(config: dict) -> tuple[dict, list[str]]:
    """`config` (a config.json dict) with the transformers-4 keys added next to the transformers-5 ones,
    and notes on what could not be expressed or verified. Sub-configs (text_config, ...) are done too.
    Transformers 5 reads `rope_parameters` and `dtype` first, so the added keys change nothing there."""
    out, notes = dict(config), []
    if out.get("dtype") is not None:
        out["torch_dtype"] = out["dtype"]
    rope = out.get("rope_parameters")
    if isinstance(rope, dict) and rope:
        if "rope_theta" in rope or "rope_type" in rope:  # one RoPE for every layer
            rope_type = rope.get("rope_type", rope.get("type", "default"))
            if "rope_theta" in rope:
                out["rope_theta"] = rope["rope_theta"]
            if "partial_rotary_factor" in rope:
                out["partial_rotary_factor"] = rope["partial_rotary_factor"]
            scaling = {k: v for k, v in rope.items() if k not in ("rope_theta", "partial_rotary_factor")}
            out["rope_scaling"] = None if rope_type == "default" else scaling
            if rope_type not in VERIFIED_ROPE_TYPES:
                notes.append(f"rope_type {rope_type!r}: legacy rope_scaling written but its transformers-4 meaning is unverified")
        else:  # one RoPE per layer type (gemma3-style): the transformers-4 layout is model-specific
            notes.append(f"per-layer-type rope_parameters ({', '.join(sorted(rope))}) have no generic transformers-4 "
                         "form: legacy RoPE keys not written, transformers 4.x would not load the same model")
    for key, value in config.items():
        if isinstance(value, dict) and ("model_type" in value or "rope_parameters" in value):
            out[key], sub = legacy_config(value)
            notes += [f"{key}: {n}" for n in sub]
    return out, notes


def legacy_tokenizer_config(tokenizer_config: dict, model_input_names: list[str]) -> dict:
    """tokenizer_config.json readable by transformers 4.x: `PreTrainedTokenizerFast` (tokenizer.json as
    is, in 4.x and 5.x alike; 4.x has no `TokenizersBackend`) and the model's input names (4.x's default
    adds token_type_ids, which e.g. LlamaForSequenceClassification.forward rejects)."""
    out = dict(tokenizer_config)
    for transient in ("is_local", "local_files_only"):  # how 5.x was loading it, not a tokenizer property
        out.pop(transient, None)
    out["tokenizer_class"] = LEGACY_TOKENIZER_CLASS
    out["model_input_names"] = list(model_input_names)
    return out


def make_compatible(directory: str | Path) -> list[str]:
    """Rewrite `directory`'s config.json (and tokenizer_config.json when a tokenizer.json is there) in
    place so that transformers 4.x reads the same model; returns notes (empty: nothing left unexpressed)."""
    directory = Path(directory)
    config_path = directory / "config.json"
    config, notes = legacy_config(json.loads(config_path.read_text()))
    atomic_write_text(config_path, json.dumps(config, indent=2, sort_keys=True) + "\n")
    tok_path = directory / "tokenizer_config.json"
    if tok_path.is_file():
        if (directory / "tokenizer.json").is_file():
            from transformers import AutoTokenizer

            names = AutoTokenizer.from_pretrained(directory).model_input_names
            tok_config = legacy_tokenizer_config(json.loads(tok_path.read_text()), names)
            atomic_write_text(tok_path, json.dumps(tok_config, indent=2, ensure_ascii=False) + "\n")
        else:
            notes.append("no tokenizer.json: tokenizer files left as saved")
    return notes


def pin_bt_padding(directory: str | Path) -> list[str]:
    """Make the files say what genrm's BTJudge does at load time: a pad token distinct from EOS
    (genrm.models.prepare_tokenizer's choice) and config.pad_token_id equal to it, so that any
    loader (the text-classification pipeline, the RewardBench harness) reads the reward at the last
    real token. A no-op for checkpoints written by `genrm train bt`; returns what it changed."""
    from transformers import AutoTokenizer

    from genrm.models import prepare_tokenizer

    directory = Path(directory)
    tok = AutoTokenizer.from_pretrained(directory)
    before = tok.pad_token
    pad = prepare_tokenizer(tok, side="left", name=str(directory)).pad_token
    pad_id = tok.convert_tokens_to_ids(pad)
    changed = []
    if pad != before:
        tok_path = directory / "tokenizer_config.json"
        tok_config = json.loads(tok_path.read_text())
        tok_config["pad_token"] = pad
        atomic_write_text(tok_path, json.dumps(tok_config, indent=2, ensure_ascii=False) + "\n")
        changed.append(f"pad token {before!r} -> {pad!r} (distinct from EOS, as genrm scores)")
    config_path = directory / "config.json"
    config = json.loads(config_path.read_text())
    if config.get("pad_token_id") != pad_id:
        changed.append(f"config pad_token_id {config.get('pad_token_id')!r} -> {pad_id}")
        config["pad_token_id"] = pad_id
        atomic_write_text(config_path, json.dumps(config, indent=2, sort_keys=True) + "\n")
    if AutoTokenizer.from_pretrained(directory).pad_token_id != pad_id:
        raise RuntimeError(f"{directory}: could not set the pad token to {pad!r}")
    return [f"changed: {c}" for c in changed]


def pin_date(directory: str | Path) -> list[str]:
    """Chat templates that print today's date (Llama 3.x: `date_string`, else strftime_now) render
    the fixed date genrm renders with (genrm.data.chat.FIXED_DATE) when a loader passes none, as the
    RewardBench harness and the text-classification pipeline do; without this their prompts would
    change from day to day and differ from genrm's. A no-op for other templates."""
    try:
        from genrm.data.chat import FIXED_DATE
    except ImportError:  # this genrm renders with the template's own date
        return []
    directory = Path(directory)
    jinja, tok_path = directory / "chat_template.jinja", directory / "tokenizer_config.json"
    tok_config = json.loads(tok_path.read_text()) if tok_path.is_file() else {}
    if jinja.is_file():
        template = jinja.read_text()
    elif isinstance(tok_config.get("chat_template"), str):
        template = tok_config["chat_template"]
    else:
        return []
    if "date_string" not in template:
        return []
    pinned = ("{%- if date_string is not defined %}{%- set date_string = " + json.dumps(FIXED_DATE)
              + " %}{%- endif %}" + template)
    from transformers import AutoTokenizer

    before = AutoTokenizer.from_pretrained(directory)
    if jinja.is_file():
        atomic_write_text(jinja, pinned)
    else:
        tok_config["chat_template"] = pinned
        atomic_write_text(tok_path, json.dumps(tok_config, indent=2, ensure_ascii=False) + "\n")
    after = AutoTokenizer.from_pretrained(directory)
    for conversation in _PROBE_CONVERSATIONS:
        if (after.apply_chat_template(conversation, tokenize=False)
                != before.apply_chat_template(conversation, tokenize=False, date_string=FIXED_DATE)):
            raise RuntimeError(f"{directory}: pinning the chat template's date to {FIXED_DATE!r} changed its output")
    return [f"changed: chat template date pinned to {FIXED_DATE!r} when none is passed"]


def compat_record(notes: list[str]) -> dict:
    import transformers

    problems = [n for n in notes if not n.startswith("changed: ")]
    return {"written_with": transformers.__version__, "legacy_keys": True,
            "changes": [n.removeprefix("changed: ") for n in notes if n.startswith("changed: ")],
            "transformers_4": "unverified: " + "; ".join(problems) if problems else
            "config and tokenizer readable by 4.x (4.51 measured by benchmarks/official_agreement.py)"}


def _config_signature(path: Path) -> dict:
    from transformers import AutoConfig

    d = AutoConfig.from_pretrained(path).to_dict()
    for key in ("_name_or_path", "transformers_version", "torch_dtype", "rope_theta", "rope_scaling", "partial_rotary_factor"):
        d.pop(key, None)
    return d


def _tokenizer_signature(path: Path) -> dict:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    sig = {"special": {name: [getattr(tok, name), getattr(tok, name + "_id")] for name in ("bos_token", "eos_token", "pad_token", "unk_token")},
           "model_input_names": list(tok.model_input_names), "padding_side": tok.padding_side,
           "vocab": len(tok), "chat_template": tok.chat_template}
    if tok.chat_template:
        texts = [tok.apply_chat_template(c, tokenize=False) for c in _PROBE_CONVERSATIONS]
        sig["texts"] = texts
        sig["template_ids"] = [list(tok.apply_chat_template(c, tokenize=True, return_dict=True)["input_ids"])
                               for c in _PROBE_CONVERSATIONS]
    else:
        texts = [" ".join(m["content"] for m in c) for c in _PROBE_CONVERSATIONS]
    encoded = [tok(t) for t in texts]
    sig["call"] = [{k: list(v) for k, v in e.items()} for e in encoded]
    sig["decoded"] = [tok.decode(e["input_ids"]) for e in encoded]
    return sig


def check_same_under_transformers(original: str | Path, rewritten: str | Path) -> None:
    """Raise if the installed transformers reads `rewritten` differently from `original` (config,
    tokenizer), or if the legacy keys alone (the new-layout ones removed) mean another config."""
    from transformers import AutoConfig

    original, rewritten = Path(original), Path(rewritten)
    if _config_signature(original) != _config_signature(rewritten):
        raise RuntimeError(f"{rewritten}: config.json with legacy keys loads differently from {original}")
    if (original / "tokenizer_config.json").is_file():
        a, b = _tokenizer_signature(original), _tokenizer_signature(rewritten)
        if a != b:
            diff = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
            raise RuntimeError(f"{rewritten}: rewritten tokenizer files tokenize differently from {original} ({', '.join(diff)})")
    # what the legacy keys say on their own, as transformers reads legacy configs
    legacy = json.loads((rewritten / "config.json").read_text())
    new = AutoConfig.from_pretrained(rewritten)
    _strip_new_layout(legacy)
    old = type(new).from_dict(legacy)
    for key in ("rope_parameters", "dtype"):
        if key == "rope_parameters" and not _flat_rope(getattr(new, key, None)):
            continue
        if getattr(old, key, None) != getattr(new, key, None):
            raise RuntimeError(f"{rewritten}: legacy config keys give {key}={getattr(old, key, None)!r}, "
                               f"not {getattr(new, key, None)!r}")


def _flat_rope(rope) -> bool:
    return isinstance(rope, dict) and ("rope_theta" in rope or "rope_type" in rope)


def _strip_new_layout(config: dict) -> None:
    if _flat_rope(config.get("rope_parameters")):
        config.pop("rope_parameters")
    if "torch_dtype" in config:
        config.pop("dtype", None)
    for value in config.values():
        if isinstance(value, dict):
            _strip_new_layout(value)
