"""STaR data: sample rationales durably, mark them against the human label, build SFT / DPO sets.

A sample row is keyed by (pair_id, order, index): `order` is "chosen_first" or "chosen_second",
`index` the sample number 0..K-1, whose randomness depends only on (seed, prompt, index). Rows
are appended to a JSON-lines file chunk by chunk as they are produced (runs.JsonlWriter), so a
killed run resumes by generating only the keys that are missing; a key already on disk is never
written twice.
"""
from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

from tqdm.auto import tqdm

from genrm.generation.base import SamplingParams
from genrm.prompts import chosen_position, judge_messages, parse_verdict
from genrm.runs import JsonlWriter, read_jsonl
from genrm.train.dpo import DPOExample
from genrm.train.sft import SFTExample
from genrm.types import PreferencePair

ORDERS = {"chosen_first": True, "chosen_second": False}


def order_names(both_orders: bool) -> list[str]:
    return ["chosen_first", "chosen_second"] if both_orders else ["chosen_first"]


def mark(pair_id: str, order: str, index: int, text: str, num_tokens: int, finished: bool) -> dict:
    """One sample row: its verdict position and whether it agrees with the human label."""
    verdict = parse_verdict(text)
    return {"pair_id": pair_id, "order": order, "index": index, "text": text, "verdict": verdict.position,
            "correct": verdict.parsed and verdict.position == chosen_position(ORDERS[order]),
            "num_tokens": num_tokens, "finished": finished}


def read_samples(path: str | Path) -> list[dict]:
    """The rows on disk, first occurrence of each key (a torn last line is dropped by read_jsonl)."""
    seen, rows = set(), []
    for row in read_jsonl(path):
        key = (row["pair_id"], row["order"], row["index"])
        if key not in seen:
            seen.add(key)
            rows.append(row)
    return rows


def sample(generator, pairs: Sequence[PreferencePair], orders: Sequence[str], k: int, params: SamplingParams,
           path: str | Path, template: str = "cot", chunk: int = 8, progress: bool = False,
           force_verdict: bool = False) -> list[dict]:
    """K samples per (pair, order) into `path`, resuming from the rows already there; returns the
    rows of these pairs, orders and indices.

    template "hint" tells the model which response is better (the rationalizer); rows are still
    marked against the label. force_verdict: see judges/cot.py."""
    from genrm.judges.cot import force_verdicts

    wanted = {(p.id, o) for p in pairs for o in orders}
    # rows of other pairs, orders or indices (a file shared with another run) stay on disk, unreturned
    done = [r for r in read_samples(path) if (r["pair_id"], r["order"]) in wanted and r["index"] < k]
    have = {(r["pair_id"], r["order"], r["index"]) for r in done}
    todo = []  # (pair, order, first missing index)
    for pair in pairs:
        for order in orders:
            missing = [j for j in range(k) if (pair.id, order, j) not in have]
            if missing:
                todo.append((pair, order, missing[0]))
    with JsonlWriter(path) as writer, tqdm(total=len(pairs) * len(orders) * k, initial=len(have), unit="sample",
                                           desc=f"sampling ({template})", disable=not progress) as bar:
        groups: dict[int, list] = {}
        for item in todo:
            groups.setdefault(item[2], []).append(item)
        for first, items in sorted(groups.items()):
            for start in range(0, len(items), chunk):
                batch = items[start:start + chunk]
                prompts = [judge_messages(p, ORDERS[o], template,
                                          hint=chosen_position(ORDERS[o]) if template == "hint" else None)
                           for p, o, _ in batch]
                step = SamplingParams(n=k - first, temperature=params.temperature, top_p=params.top_p,
                                      max_new_tokens=params.max_new_tokens, seed=params.seed)
                rows = []
                drawn = generator.generate(prompts, step, first_index=first)
                if force_verdict:
                    drawn = force_verdicts(generator, prompts, drawn, step, first)
                for (p, o, _), completions in zip(batch, drawn):
                    for j, c in enumerate(completions, start=first):
                        if (p.id, o, j) not in have:
                            rows.append(mark(p.id, o, j, c.text, c.num_tokens, c.finished))
                            have.add((p.id, o, j))
                writer.write(rows)
                done.extend(rows)
                bar.update(len(rows))
    return done


def summarize(rows: Sequence[dict]) -> dict:
    n = len(rows)
    prompts = {(r["pair_id"], r["order"]) for r in rows}
    solved = {(r["pair_id"], r["order"]) for r in rows if r["correct"]}
    return {"samples": n, "correct_rate": sum(r["correct"] for r in rows) / n if n else 0.0,
            "unparsed_rate": sum(r["verdict"] is None for r in rows) / n if n else 0.0,
            "prompts": len(prompts), "prompts_with_correct": len(solved),
            "tokens": sum(r["num_tokens"] for r in rows)}


def _by_prompt(rows: Sequence[dict]) -> dict[tuple[str, str], list[dict]]:
    out: dict[tuple[str, str], list[dict]] = {}
    for r in sorted(rows, key=lambda r: (r["pair_id"], r["order"], r["index"])):
        out.setdefault((r["pair_id"], r["order"]), []).append(r)
    return out


def _unique(texts) -> list[str]:
    seen, out = set(), []
    for t in texts:
        if t.strip() and t.strip() not in seen:
            seen.add(t.strip())
            out.append(t)
    return out


def unsolved(rows: Sequence[dict]) -> list[tuple[str, str]]:
    """(pair_id, order) prompts with no correct sample: the rationalizer's targets."""
    return [key for key, group in _by_prompt(rows).items() if not any(r["correct"] for r in group)]


def sft_examples(pairs: dict[str, PreferencePair], rows: Sequence[dict]) -> list[SFTExample]:
    """Correct rationales, deduplicated per prompt, under the plain (hint-free) CoT prompt."""
    out = []
    for (pair_id, order), group in _by_prompt(rows).items():
        prompt = judge_messages(pairs[pair_id], ORDERS[order], "cot")
        out.extend(SFTExample(prompt, text) for text in _unique(r["text"] for r in group if r["correct"]))
    return out


def dpo_examples(pairs: dict[str, PreferencePair], rows: Sequence[dict], cap: int, seed: int = 0) -> list[DPOExample]:
    """Up to `cap` (correct, incorrect) rationale pairs per prompt; an incorrect rationale is one
    with the wrong verdict or none. Pairs are drawn from the product without repetition."""
    rng = random.Random(seed)
    out = []
    for (pair_id, order), group in _by_prompt(rows).items():
        good = _unique(r["text"] for r in group if r["correct"])
        bad = _unique(r["text"] for r in group if not r["correct"])
        combos = [(g, b) for g in good for b in bad]
        rng.shuffle(combos)
        prompt = judge_messages(pairs[pair_id], ORDERS[order], "cot")
        out.extend(DPOExample(prompt, g, b) for g, b in combos[:cap])
    return out


def to_records(examples: Sequence[SFTExample | DPOExample]) -> list[dict]:
    from dataclasses import asdict

    return [asdict(ex) for ex in examples]


def sft_from_records(records: Sequence[dict]) -> list[SFTExample]:
    return [SFTExample(**r) for r in records]


def dpo_from_records(records: Sequence[dict]) -> list[DPOExample]:
    return [DPOExample(**r) for r in records]
