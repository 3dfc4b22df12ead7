"""STaR data: sample rationales durably, mark them against the human label, build SFT / DPO sets.

A sample row is keyed by (pair_id, order, index): `order` is "chosen_first" or "chosen_second",
`index` the sample number 0..K-1, whose randomness depends only on (seed, prompt, index). Rows
are appended to a runs.Journal chunk by chunk as they are produced, so a killed run resumes by
generating only the keys that are missing; a key already on disk is never written twice. A chunk is
one generate call: `chunk` prompts (the HF backend's batch size), or, for a generator that
schedules its own batches (vLLM, batch_size None), up to SCHEDULED_CHUNK prompts, so the engine
sees the whole shard at once (or chunks that large) and keeps its batches full. Samples are
seeded per (seed, prompt, index), so the chunking changes no sample.

Under a launcher (`accelerate launch` or torchrun on one or several nodes: `genrm star` itself
launched) sampling is data-parallel: `sample_across` deals the prompts still missing out to the
processes, each samples its share with its own generator (one engine per process, on its own GPU)
into its own journal `PATH.part-RANK`, and the main process merges the parts into PATH (keys already
there are kept, so a part written twice merges once) and removes them. A killed launch resumes at
any process count: the merge runs first, and only prompts not complete in PATH are dealt out again.
The run directory must be on a file system every node sees (it holds the checkpoints too).

Training sets follow the paper: STaR-SFT keeps rationales whose verdict matches the human label;
STaR-DPO pairs such a rationale with one ending in the wrong verdict (a rationale without a verdict
is not a rejected answer unless `rejects="wrong_or_unparsed"`). Each example is tagged with its
pair and order, and the set is balanced (`BALANCES`):
  position  as many examples whose verdict is "A" as "B", so a judge biased towards one letter,
            whose correct samples mostly carry that letter, is not trained to be more biased (the
            Self-Taught Evaluator balances its labels the same way);
  pair      only pairs solved in both orders, their two orders as one unit (one example of each,
            trained in one batch as GenRM trains): within a unit the letters differ and the
            prompts differ only in the order, so nothing but the responses' content tells the
            verdicts apart;
  none      every example.
SFT examples and DPO pairs carry the loss on the whole completion (rationale and verdict, the
paper) or, with loss_on="verdict", on the verdict alone, the rationale read as context (`LOSS_ON`;
for DPO: the verdict letter after the correct rationale against the letter after the wrong one).
"""
from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

from tqdm.auto import tqdm

from genrm.generation.base import SamplingParams
from genrm.judges.prompts import (
    LETTERS,
    ORDER_NAMES,
    chosen_position,
    judge_messages,
    parse_verdict,
    shown_orders,
    split_at_verdict,
)
from genrm.runs import Journal
from genrm.train.dpo import DPOExample
from genrm.train.grpo import GRPOPrompt
from genrm.train.sft import SFTExample
from genrm.types import PreferencePair

NAMES = ORDER_NAMES
ORDERS = {name: first for first, name in NAMES.items()}
BALANCES = ("position", "pair", "none")
SCHEDULED_CHUNK = 4096  # prompts per generate call (and per journal write) for a generator with batch_size None
LOSS_ON = ("completion", "verdict")


def plan(pairs: Sequence[PreferencePair], both_orders: bool, seed: int = 0) -> list[tuple[PreferencePair, str]]:
    """(pair, order) prompts to sample: both orders, or each pair's seeded random one (prompts.shown_orders)."""
    return [(p, NAMES[first]) for p in pairs for first in shown_orders(p, both_orders, seed)]


def mark(pair_id: str, order: str, index: int, text: str, num_tokens: int, finished: bool) -> dict:
    """One sample row: its verdict position and whether it agrees with the human label."""
    verdict = parse_verdict(text)
    return {"pair_id": pair_id, "order": order, "index": index, "text": text, "verdict": verdict.position,
            "correct": verdict.parsed and verdict.position == chosen_position(ORDERS[order]),
            "num_tokens": num_tokens, "finished": finished}


def row_key(row: dict) -> tuple:
    return row["pair_id"], row["order"], row["index"]


def read_samples(path: str | Path) -> list[dict]:
    """The rows on disk, first occurrence of each key (a torn last line is dropped)."""
    return Journal(path, key=row_key).values()


def sample(generator, items: Sequence[tuple[PreferencePair, str]], k: int, params: SamplingParams, path: str | Path,
           template: str = "cot", hinted: bool = False, chunk: int | None = 8, progress: bool = False,
           force_verdict: bool = False) -> list[dict]:
    """K samples per (pair, order) item into the journal at `path`, resuming from the rows already
    there; returns the rows of these items and indices (rows of other items stay on disk).
    `chunk`: prompts per generate call, None for SCHEDULED_CHUNK (module docstring).

    `hinted` tells the model which response is better (the rationalizer); rows are still marked
    against the label. force_verdict: see judges/cot.py."""
    from genrm.judges.cot import force_verdicts, verdict_params

    chunk = chunk or SCHEDULED_CHUNK
    with Journal(path, key=row_key) as journal:
        todo = []  # (pair, order, first missing index)
        for pair, order in items:
            missing = [j for j in range(k) if (pair.id, order, j) not in journal]
            if missing:
                todo.append((pair, order, missing[0]))
        have = len(items) * k - sum(k - first for _, _, first in todo)
        groups: dict[int, list] = {}
        for item in todo:
            groups.setdefault(item[2], []).append(item)
        with tqdm(total=len(items) * k, initial=have, unit="sample", desc="sampling (hinted)" if hinted else "sampling",
                  disable=not progress) as bar:
            for first, members in sorted(groups.items()):
                for start in range(0, len(members), chunk):
                    batch = members[start:start + chunk]
                    prompts = [judge_messages(p, ORDERS[o], template, hint=chosen_position(ORDERS[o]) if hinted else None)
                               for p, o, _ in batch]
                    step = verdict_params(SamplingParams(n=k - first, temperature=params.temperature, top_p=params.top_p,
                                                         max_new_tokens=params.max_new_tokens, seed=params.seed),
                                          force_verdict)
                    drawn = generator.generate(prompts, step, first_index=first)
                    if force_verdict:
                        drawn = force_verdicts(generator, prompts, drawn, step, first)
                    rows = [mark(p.id, o, j, c.text, c.num_tokens, c.finished)
                            for (p, o, _), completions in zip(batch, drawn) for j, c in enumerate(completions, start=first)]
                    bar.update(len(journal.append(rows)))
        return [journal[(p.id, o, j)] for p, o in items for j in range(k)]


def part_path(path: str | Path, rank: int) -> Path:
    return Path(f"{path}.part-{rank}")


def merge_parts(path: str | Path) -> int:
    """Append the rows of every `PATH.part-R` journal to PATH (new keys only), then remove the parts;
    returns the rows added."""
    path = Path(path)
    parts = sorted(path.parent.glob(path.name + ".part-*"))
    added = 0
    with Journal(path, key=row_key) as journal:
        for part in parts:
            added += len(journal.append(read_samples(part)))
    for part in parts:
        part.unlink()
    return added


def sample_across(generator, items: Sequence[tuple[PreferencePair, str]], k: int, params: SamplingParams,
                  path: str | Path, **options) -> list[dict]:
    """`sample`, with the items dealt out across the launched processes (module docstring); every
    process returns all the items' rows. `generator` is a callable that makes (or returns) this
    process's generator (its batch size is the chunk): a process with no share left loads none."""
    from genrm.distributed import is_main_process, process_index, wait_for_everyone, world_size

    size = world_size()
    if is_main_process():
        merge_parts(path)  # the parts of a killed launch
    if size == 1:
        return sample(generator(), items, k, params, path, chunk=generator().batch_size, **options)
    options["progress"] = options.get("progress", False) and is_main_process()
    wait_for_everyone()
    done = Journal(path, key=row_key)
    todo = [(p, o) for p, o in items if any((p.id, o, j) not in done for j in range(k))]
    mine = todo[process_index()::size]
    if mine:
        sample(generator(), mine, k, params, part_path(path, process_index()), chunk=generator().batch_size, **options)
    wait_for_everyone()
    if is_main_process():
        merge_parts(path)
    wait_for_everyone()
    journal = Journal(path, key=row_key)
    return [journal[(p.id, o, j)] for p, o in items for j in range(k)]


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
    for r in sorted(rows, key=row_key):
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


def balance(examples: Sequence[tuple[str, str, object]], how: str, seed: int = 0) -> tuple[list, dict]:
    """The examples (pair_id, order, example) kept under the balance `how` (module docstring), as a
    flat list (under "pair", each unit's two orders consecutive: chosen first, then second);
    returns (kept, {"before": {order: n}, "after": {order: n}} plus "units" under "pair")."""
    before = {o: sum(1 for _, order, _ in examples if order == o) for o in ORDERS}
    if how == "none":
        kept, info = [ex for _, _, ex in examples], {}
    elif how == "position":
        kept, info = _position_balanced(examples, min(before.values()), seed), {}
    elif how == "pair":
        units = _pair_units(examples)
        kept, info = [ex for unit in units for ex in unit], {"units": len(units)}
    else:
        raise ValueError(f"balance must be one of {', '.join(BALANCES)}, not {how!r}")
    after = dict.fromkeys(ORDERS, len(kept) // 2) if how != "none" else before
    return kept, {"before": before, "after": after, **info}


def _position_balanced(examples, keep: int, seed: int) -> list:
    """As many examples of each order as the rarer order has (a seeded sample of the commoner
    one), in their original order. The order fixes the verdict letter of a correct rationale."""
    positions = {o: [i for i, (_, order, _) in enumerate(examples) if order == o] for o in ORDERS}
    rng = random.Random(seed)
    chosen = {i for v in positions.values() for i in (v if len(v) == keep else rng.sample(v, keep))}
    return [ex for i, (_, _, ex) in enumerate(examples) if i in chosen]


def _pair_units(examples) -> list[tuple]:
    """(chosen-first example, chosen-second example) units: each pair's k-th example of one order
    with its k-th of the other, as many as the rarer order has, pairs in their first-seen order."""
    by_pair: dict[str, dict[str, list]] = {}
    for pair_id, order, ex in examples:
        by_pair.setdefault(pair_id, {o: [] for o in ORDERS})[order].append(ex)
    return [unit for orders in by_pair.values() for unit in zip(orders["chosen_first"], orders["chosen_second"])]


def sft_example(prompt: list, text: str, loss_on: str = "completion") -> SFTExample:
    """The SFT example of a correct rationale: loss on all of it, or ("verdict") on its verdict only."""
    if loss_on == "completion":
        return SFTExample(prompt, text)
    if loss_on == "verdict":
        read, verdict = split_at_verdict(text)
        return SFTExample(prompt, verdict, prefix=read)
    raise ValueError(f"loss_on must be one of {', '.join(LOSS_ON)}, not {loss_on!r}")


def sft_examples(pairs: dict[str, PreferencePair], rows: Sequence[dict], template: str = "cot",
                 loss_on: str = "completion") -> list[tuple[str, str, SFTExample]]:
    """(pair_id, order, example) for every correct rationale, deduplicated per prompt, under the
    plain (hint-free) prompt."""
    out = []
    for (pair_id, order), group in _by_prompt(rows).items():
        prompt = judge_messages(pairs[pair_id], ORDERS[order], template)
        out.extend((pair_id, order, sft_example(prompt, text, loss_on))
                   for text in _unique(r["text"] for r in group if r["correct"]))
    return out


def dpo_example(prompt: list, good: str, bad: str, loss_on: str = "completion") -> DPOExample:
    """The DPO pair of a correct and a rejected rationale: compared whole, or ("verdict") by their
    verdict letters alone. The text after the letter ("]]", the end of the turn) is the same in both
    completions, so comparing it adds nothing to the preference; it only lets DPO raise the margin by
    pushing probability off the format (measured: docs/results.md, "How STaR-DPO was made to learn")."""
    if loss_on == "completion" or not parse_verdict(bad).parsed:  # an unparsed rejection has no verdict to compare
        return DPOExample(prompt, good, bad)
    (read_good, good), (read_bad, bad) = split_at_verdict(good), split_at_verdict(bad)
    return DPOExample(prompt, good[:1], bad[:1], read_good, read_bad, good[1:], bad[1:])


def dpo_examples(pairs: dict[str, PreferencePair], rows: Sequence[dict], cap: int, seed: int = 0,
                 rejects: str = "wrong", template: str = "cot",
                 loss_on: str = "completion") -> tuple[list[tuple[str, str, DPOExample]], dict]:
    """Up to `cap` (correct, rejected) rationale pairs per prompt, drawn from the product without
    repetition; rejected = a wrong verdict ("wrong"), or also none ("wrong_or_unparsed"). Returns
    the (pair_id, order, example) triples and how many rejected rationales of each kind were used."""
    rng = random.Random(seed)
    out, used = [], {"wrong_verdict": 0, "unparsed": 0}
    for (pair_id, order), group in _by_prompt(rows).items():
        good = _unique(r["text"] for r in group if r["correct"])
        wrong = _unique(r["text"] for r in group if r["verdict"] is not None and not r["correct"])
        unparsed = _unique(r["text"] for r in group if r["verdict"] is None) if rejects == "wrong_or_unparsed" else []
        combos = [(g, b, kind) for g in good for kind, bad in (("wrong_verdict", wrong), ("unparsed", unparsed)) for b in bad]
        rng.shuffle(combos)
        prompt = judge_messages(pairs[pair_id], ORDERS[order], template)
        for g, b, kind in combos[:cap]:
            out.append((pair_id, order, dpo_example(prompt, g, b, loss_on)))
            used[kind] += 1
    return out, used


def grpo_prompts(pairs: Sequence[PreferencePair], both_orders: bool, seed: int = 0,
                 template: str = "cot") -> list[GRPOPrompt]:
    """GRPO's prompts: the pairs in a seeded order, each in both orders (adjacent, the first one
    drawn at random) or in one order, alternating over the shuffled pairs so that half the answers
    are "A" and half "B" (balanced positions: a judge always saying "A" earns half the reward)."""
    rng = random.Random(seed)
    shuffled = list(pairs)
    rng.shuffle(shuffled)
    out = []
    for k, p in enumerate(shuffled):
        if both_orders:
            first = rng.random() < 0.5
            orders = (first, not first)
        else:
            orders = (k % 2 == 0,)
        for chosen_first in orders:
            out.append(GRPOPrompt(judge_messages(p, chosen_first, template), LETTERS[chosen_position(chosen_first)], p.id,
                                  NAMES[chosen_first]))
    return out


def grpo_from_records(records: Sequence[dict]) -> list[GRPOPrompt]:
    return [GRPOPrompt(**r) for r in records]


def to_records(examples: Sequence[SFTExample | DPOExample | GRPOPrompt]) -> list[dict]:
    from dataclasses import asdict

    return [asdict(ex) for ex in examples]


def sft_from_records(records: Sequence[dict]) -> list[SFTExample]:
    return [SFTExample(**r) for r in records]


def dpo_from_records(records: Sequence[dict]) -> list[DPOExample]:
    return [DPOExample(**r) for r in records]
