"""Judgments journaled as they are made, so a killed evaluation resumes where it stopped.

`OUT/judgments.jsonl` (a runs.Journal) opens with the judge's identity (kind, model, options, and
the size and modification time of a local checkpoint's weight files), then holds one line per
judged pair, keyed by the pair's content hash (PreferencePair.key, not its file position). Pairs
are judged in chunks of similar length (so length-sorted batching keeps its effect); each chunk is
appended, fsynced, before the next starts. A rerun with the same OUT reuses every journaled
judgment and judges only the rest; a journal of another judge is an error, never mixed in.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from genrm.distributed import is_main_process, judge_all, wait_for_everyone
from genrm.runs import Journal
from genrm.types import Judgment, PreferencePair

NAME = "judgments.jsonl"
IDENTITY_ATTRS = ("indicators", "both_orders", "order_seed", "max_length", "template")


def identity(judge, model: str | None = None) -> dict:
    """What makes two judges' verdicts interchangeable: kind, model and scoring options."""
    out = {"kind": getattr(judge, "kind", None), "model": model or getattr(judge, "name", None)}
    if callable(getattr(judge, "card", None)):
        out["card"] = judge.card()
    for attr in IDENTITY_ATTRS:
        if hasattr(judge, attr):
            out[attr] = getattr(judge, attr)
    generator = getattr(judge, "generator", None)
    if generator is not None:  # the backend samples differently (vLLM vs transformers)
        out["generator"] = type(generator).__name__
    model = getattr(judge, "model", None) or getattr(generator, "model", None)
    if hasattr(model, "parameters"):  # bf16, fp32 and int8 judgments differ
        from genrm.models import is_int8

        out["dtype"] = "int8" if is_int8(model) else str(next(model.parameters()).dtype)
    if out["model"] and Path(str(out["model"])).is_dir():  # a retrained checkpoint in the same place is another judge
        root = Path(str(out["model"]))
        out["weights"] = {str(f.relative_to(root)): [f.stat().st_size, f.stat().st_mtime_ns]
                          for f in sorted(root.rglob("*")) if f.suffix in (".safetensors", ".bin") and f.is_file()}
    return out


def _size(pair: PreferencePair) -> int:
    return sum(len(m["content"]) for m in pair.prompt) + len(pair.chosen_text) + len(pair.rejected_text)


def judge_journaled(judge, pairs: Sequence[PreferencePair], out: str | Path | None, batch_size: int = 8,
                    progress: bool = False, model: str | None = None, chunk: int | None = None) -> tuple[list[Judgment], int]:
    """(judgments in the order of `pairs`, how many came from the journal). Without `out`, plain
    judge_all. `chunk` pairs are judged between journal writes (default 8 x batch_size)."""
    if out is None:
        return judge_all(judge, pairs, batch_size, progress), 0
    from tqdm.auto import tqdm

    keys = [p.key for p in pairs]
    journal = Journal(Path(out) / NAME, key=lambda r: r["key"], header={"judge": identity(judge, model)},
                      writable=is_main_process())
    reused = sum(k in journal for k in keys)
    # one index per key still to judge (a pair repeated in the data is judged once), shortest first
    todo = sorted({k: i for i, k in enumerate(keys) if k not in journal}.values(), key=lambda i: _size(pairs[i]))
    wait_for_everyone()  # every process has read the journal before the main process appends to it
    chunk = chunk or 8 * batch_size
    unique = len(set(keys))
    with journal, tqdm(total=unique, initial=unique - len(todo), desc="judging pairs", unit="pair",
                       disable=not progress) as bar:
        for start in range(0, len(todo), chunk):
            idx = todo[start:start + chunk]
            judgments = judge_all(judge, [pairs[i] for i in idx], batch_size)
            journal.append({"key": keys[i], "judgment": asdict(j)} for i, j in zip(idx, judgments))
            bar.update(len(idx))
    return [Judgment(**journal[k]["judgment"]) for k in keys], reused
