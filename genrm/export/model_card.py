"""The model card (README.md) of an exported judge, with the hub's metadata on top.

`model_card(card)` renders the judge card that `genrm.export.checkpoint.export_run` assembles (genrm_judge.json
plus the run's config.yaml under `run_config` and its evaluation under `eval`). The card states:
  - the judge: kind, method, base model, template (and its prompt), indicator tokens, position policy;
  - the training data: source (path or hub id, split), pair counts, files, length filtering;
  - the hyperparameters the trainer ran with;
  - the evaluation: accuracy with n and Wilson 95% CI, pooled and per subset, with the length
    baseline and the accuracy per display order.
"""
from __future__ import annotations

from pathlib import Path

import yaml

METHOD = {
    "bt": "Bradley-Terry reward model (sequence classifier, one label), trained with TRL's RewardTrainer",
    "genrm": "GenRM with an answer-indicator token (Mahan et al. 2024), trained with TRL's SFTTrainer "
             "on -log p(indicator | judge prompt), every pair in both orders",
    "cot": "CoT-GenRM: writes a rationale, then a [[A]] or [[B]] verdict (Mahan et al. 2024); "
           "K sampled rationales per order vote, the last tag of each wins",
}
TITLE = {"bt": "Bradley-Terry reward model", "genrm": "GenRM judge (indicator token)",
         "cot": "CoT-GenRM judge (rationale, then verdict)"}
PIPELINE = {"bt": "text-classification", "genrm": "text-generation", "cot": "text-generation"}


def model_card(card: dict) -> str:
    """The README.md text of an exported judge."""
    kind = card["kind"]
    run = card.get("run_config") or {}
    lines = front_matter(card, run) + [f"# {TITLE[kind]}", ""] + judge_lines(card) + data_lines(card, run)
    lines += ["## Hyperparameters", "", "| key | value |", "|---|---|"]
    settings = run.get("config") or card.get("hyperparameters") or {}
    lines += [f"| {k} | {v} |" for k, v in sorted(settings.items(), key=lambda kv: kv[0])]
    lines += [""] + eval_lines(card.get("eval")) + use_lines(kind)
    return "\n".join(lines)


def hub_id(name) -> bool:
    """Whether `name` reads as a hub repo id ("org/name") rather than a local path."""
    return (isinstance(name, str) and name.count("/") == 1 and not name.startswith((".", "/", "~"))
            and not Path(name).exists())


def front_matter(card: dict, run: dict) -> list[str]:
    meta = {"library_name": "transformers", "pipeline_tag": PIPELINE[card["kind"]],
            "tags": ["genrm", "reward-model", card["kind"]]}
    if hub_id(card.get("base_model")):
        meta["base_model"] = card["base_model"]
    datasets = [d for d in (run.get("data"), run.get("eval_data")) if hub_id(d)]
    if datasets:
        meta["datasets"] = sorted(set(datasets))
    return ["---", yaml.safe_dump(meta, sort_keys=False).rstrip(), "---", ""]


def judge_lines(card: dict) -> list[str]:
    kind = card["kind"]
    lines = ["## Judge", "", f"- **Judge kind**: `{kind}`: {METHOD[kind]}.",
             f"- **Base model**: `{card.get('base_model', 'unknown')}`"]
    if kind == "bt":
        lines += [("- **Template**: none; each conversation (prompt + one response) is rendered with the tokenizer's "
                  "chat template and scored alone."),
                  "- **Indicator tokens**: none; the reward is the one-label head's output at the last token."]
    else:
        template = card.get("template", "cot" if kind == "cot" else "indicator")
        style = "a compact pairwise prompt" if template.endswith("-compact") else "the MT-Bench pairwise prompt, tie option removed"
        settings = ", ".join(f"{k} {card[k]}" for k in ("votes", "max_new_tokens", "temperature", "top_p", "adaptive")
                             if k in card)
        lines.append(f"- **Template**: `{template}` ({style})" + (f"; sampling: {settings}" if settings else "") + ".")
        if kind == "genrm":
            first, second = card.get("indicators", ["A", "B"])
            lines.append(f"- **Indicator tokens**: `{first}` = the first response is better, `{second}` = the second; "
                         f"p(first) = softmax over the two tokens' logits at the last position.")
        else:
            lines.append("- **Indicator tokens**: the verdict tags `[[A]]` (first) / `[[B]]` (second); the last tag of a "
                         "rationale counts, a rationale without one is unparsed.")
    lines += [f"- **Position policy**: {card['position_policy']}.", ""]
    prompt = judge_prompt(card)
    if prompt:
        lines += ["Judge prompt (system, then the user turn; `{question}`, `{first}`, `{second}` are filled in):", "",
                  "```text", prompt, "```", ""]
    return lines


def judge_prompt(card: dict) -> str | None:
    """The judge's system prompt and user-turn layout, from genrm.judges.prompts (None for BT)."""
    if card["kind"] == "bt":
        return None
    from genrm.judges.prompts import TEMPLATES

    template = TEMPLATES.get(card.get("template", "cot" if card["kind"] == "cot" else "indicator"))
    return f"{template.system}\n\n{template.user}" if template else None


def data_lines(card: dict, run: dict) -> list[str]:
    lines = ["## Training data", ""]
    data = card.get("data") or {}
    train, held_out = data.get("train") or {}, data.get("eval") or {}
    if run.get("data"):
        split = run.get("data_split") or run.get("split")
        limit = f", at most {run['max_train_pairs']} (max_train_pairs, seeded sample)" if run.get("max_train_pairs") else ""
        pairs = run.get("train_pairs", train.get("pairs"))
        lines.append(f"- training pairs: {pairs} from `{run['data']}`" + (f" (split `{split}`)" if split else "") + limit)
    elif train:
        lines.append(f"- training pairs: {train.get('pairs')}")
    if train.get("files"):
        lines.append(f"- training files: {', '.join(f'`{f}`' for f in train['files'])}")
    if "train_examples" in card:
        lines.append(f"- training examples after length filtering: {card['train_examples']} "
                     f"({card.get('dropped_too_long', 0)} dropped for length)")
    if run.get("eval_data") or held_out:
        pairs = run.get("eval_pairs", held_out.get("pairs"))
        source = run.get("eval_data") or ", ".join(held_out.get("files", [])) or "unknown"
        how = (f", held out from the training source (eval_fraction {run['eval_fraction']})"
               if run.get("eval_fraction") and not run.get("eval_data") else "")
        lines.append(f"- held-out pairs: {pairs} from `{source}`{how}")
    if len(lines) == 2:
        lines.append("- not recorded (the checkpoint was not written by `genrm train`)")
    return lines + [""]


def _row(name: str, s: dict) -> str:
    ci = f"{s['ci95'][0]:.3f}-{s['ci95'][1]:.3f}" if s.get("ci95") else "-"
    base = f"{s['length_baseline']:.3f}" if s.get("length_baseline") is not None else "-"
    return f"| {name} | {s['n']} | {s['accuracy']:.3f} | {ci} | {base} |"


def eval_lines(ev: dict | None) -> list[str]:
    lines = ["## Evaluation", ""]
    if not ev:
        return lines + ["No held-out evaluation was run (train with `--eval-data`).", ""]
    ci = f", 95% Wilson CI {ev['ci95'][0]:.3f}-{ev['ci95'][1]:.3f}" if ev.get("ci95") else ""
    where = f" on `{ev['data']}`" if ev.get("data") else ""
    lines.append(f"Held-out accuracy{where}: {ev['accuracy']:.3f} (n = {ev['n']}{ci}).")
    if ev.get("chosen_first_accuracy") is not None and ev.get("chosen_second_accuracy") is not None:
        lines.append(f"Per position: chosen shown first {ev['chosen_first_accuracy']:.3f}, "
                     f"shown second {ev['chosen_second_accuracy']:.3f}.")
    if ev.get("overall") is not None and ev.get("bench") in ("rewardbench", "rewardbench2"):
        lines.append(f"{ev.get('bench', 'bench')} overall (official section weights): {ev['overall']:.3f}.")
    lines += ["", "| subset | n | accuracy | 95% CI (Wilson) | length baseline |", "|---|---|---|---|---|", _row("all", ev)]
    lines += [_row(name, s) for name, s in sorted((ev.get("subsets") or {}).items())]
    return lines + ["", (f"Ties: {ev.get('ties', 0)}, unparsed verdicts: {ev.get('unparsed', 0)} (credit policy: "
                    f"`tie_policy` in the run's `{ev.get('results', 'eval/results.json')}`, with every per-example result)."), ""]


def use_lines(kind: str) -> list[str]:
    load = ("from transformers import pipeline\nrm = pipeline('text-classification', model='DIR', function_to_apply='none')\n"
            "text = rm.tokenizer.apply_chat_template(messages, tokenize=False)  # prompt + response messages\n"
            "reward = rm(text)[0]['score']" if kind == "bt" else
            "from transformers import AutoModelForCausalLM\nmodel = AutoModelForCausalLM.from_pretrained('DIR')")
    lines = ["## Use", "", "```python", "import genrm", "judge = genrm.load_judge('DIR')",
             "judgments = judge.judge(pairs)  # list of Judgment with p_chosen", "```", "", "```python", load, "```", "",
             ("The config and tokenizer files carry the transformers-4 keys next to the transformers-5 ones "
              "(loads with transformers 5.x and 4.x; see `transformers_compat` in genrm_judge.json).")]
    if kind == "bt":
        lines += [("Official RewardBench (transformers 4.51): `rewardbench --model DIR --torch_dtype float32 "
                   "--not_quantized` (add `--dataset FILE --load_json` for a local file).")]
    return lines + [""]
