"""Run a judge over a benchmark and score it: `evaluate(judge, data, bench=...) -> results dict`.

Benches: "rewardbench" (official sections and overall), "ultrafeedback" and "file" (accuracy per
subset, overall = accuracy over all pairs), "rewardbench2" (best-of-4 rows, see rewardbench2.py).
The results dict is what `results.json` holds; `out` also gets `report.md` and `chart.png`.
"""
from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from pathlib import Path

from genrm.eval import rewardbench as rb
from genrm.eval import rewardbench2 as rb2
from genrm.eval.journal import judge_journaled, record_bytes
from genrm.judges.shard import is_main_process
from genrm.types import PreferencePair

BENCHES = ("rewardbench", "rewardbench2", "ultrafeedback", "file")
DEFAULT_DATA = {"rewardbench": "allenai/reward-bench", "rewardbench2": "allenai/reward-bench-2",
                "ultrafeedback": "HuggingFaceH4/ultrafeedback_binarized"}


def load_bench(bench: str, data: str | None = None, split: str | None = None) -> list:
    """PreferencePairs (or BestOfRows for rewardbench2) of a bench; `data` overrides the hub default."""
    from genrm.data import load_pairs

    if bench not in BENCHES:
        raise ValueError(f"unknown bench {bench!r} (expected one of {', '.join(BENCHES)} or file:PATH)")
    source = data or DEFAULT_DATA.get(bench)
    if source is None:
        raise ValueError("--bench file needs a path: use --bench file:PATH or --data PATH")
    if bench == "rewardbench2":
        return rb2.load_rows(source, split)
    return list(load_pairs(source, split=split))


def subsample(items: Sequence, per_subset: int, seed: int = 0) -> list:
    """At most `per_subset` items of each subset: sorted by id, then a seeded random sample (the
    same seed and data always give the same selection). Order of the input is kept."""
    by_subset: dict[str, list] = {}
    for item in items:
        by_subset.setdefault(item.subset, []).append(item)
    keep = set()
    for subset, group in by_subset.items():
        group = sorted(group, key=lambda x: x.id)
        chosen = group if len(group) <= per_subset else random.Random(f"{seed}:{subset}").sample(group, per_subset)
        keep.update(id(x) for x in chosen)
    return [x for x in items if id(x) in keep]


def data_hash(items: Sequence) -> str:
    """sha256 of the evaluated records (content only, independent of the file format)."""
    h = hashlib.sha256()
    for item in items:
        h.update(record_bytes(item))
    return h.hexdigest()


def evaluate(judge, data: Sequence, bench: str = "rewardbench", out: str | Path | None = None, batch_size: int = 8,
             progress: bool = False, model: str | None = None, data_source: str | None = None,
             chunk: int | None = None) -> dict:
    """Judge every pair (or best-of-4 row), score under the official rules, write results to `out`.
    With `out`, judgments are journaled as they are made (eval/journal.py): a rerun resumes."""
    from genrm import __version__

    if not data:
        raise ValueError("nothing to evaluate: no pairs")

    pairs = rb2.expand(data) if bench == "rewardbench2" else data
    judgments, resumed = judge_journaled(judge, pairs, out, batch_size, progress, model, chunk)
    body = _score_best_of(data, judgments) if bench == "rewardbench2" else _score_pairs(data, judgments, bench)
    results = {
        "bench": bench, "model": model or getattr(judge, "name", None), "judge": getattr(judge, "kind", None),
        "data": data_source, "data_hash": data_hash(data), "n": len(data), "genrm_version": __version__,
        "tie_policy": dict(rb.TIE_POLICY, **(rb2.BEST_OF_POLICY if bench == "rewardbench2" else {})),
        "resumed_judgments": resumed, **body,
    }
    if out is not None and is_main_process():
        from genrm.eval.report import write_outputs

        write_outputs(results, out)
    return results


# ---------------------------------------------------------------- pairwise benches


def _example(pair: PreferencePair, judgment) -> dict:
    ex = {"id": pair.id, "subset": pair.subset, "p_chosen": judgment.p_chosen, "correct": rb.credit(judgment),
          "tie": rb.is_tie(judgment), "parsed": judgment.parsed, "length_correct": rb.length_credit(pair)}
    for key in ("p_chosen_first", "p_chosen_second", "score_chosen", "score_rejected"):
        value = getattr(judgment, key)
        if value is not None:
            ex[key] = value
    for key, order in (("p_chosen_first", "chosen_first_correct"), ("p_chosen_second", "chosen_second_correct")):
        if key in ex:
            ex[order] = rb.probability_credit(ex[key])
    if judgment.votes:
        ex["votes"] = dict(judgment.votes)
    return ex


def _subset_table(examples: list[dict], group=lambda ex: ex["subset"]) -> dict:
    groups: dict[str, list[dict]] = {}
    for ex in examples:
        groups.setdefault(group(ex), []).append(ex)
    table = {}
    for name, exs in sorted(groups.items()):
        n = len(exs)
        acc = sum(e["correct"] for e in exs) / n
        row = {"accuracy": acc, "n": n, "ci95": rb.wilson(acc, n),
               "length_baseline": sum(e["length_correct"] for e in exs) / n,
               "ties": sum(bool(e.get("tie")) for e in exs), "unparsed": sum(not e.get("parsed", True) for e in exs)}
        for key in ("chosen_first_correct", "chosen_second_correct"):
            values = [e[key] for e in exs if key in e]
            row[key.replace("_correct", "_accuracy")] = sum(values) / len(values) if len(values) == n else None
        table[name] = row
    return table


def _score_pairs(pairs: Sequence[PreferencePair], judgments: Sequence, bench: str) -> dict:
    if len(judgments) != len(pairs):
        raise ValueError(f"judge returned {len(judgments)} judgments for {len(pairs)} pairs")
    examples = [_example(p, j) for p, j in zip(pairs, judgments)]
    subsets = _subset_table(examples)
    body = {"examples": examples, "subsets": subsets,
            "counts": {"ties": sum(e["tie"] for e in examples), "unparsed": sum(not e["parsed"] for e in examples)},
            "position": _subset_table(examples, group=lambda ex: "all")["all"]}
    if bench == "rewardbench":
        for ex in examples:
            ex["section"] = rb.section_of(ex["subset"])
        scored = {k: v for k, v in subsets.items() if rb.section_of(k) != rb.OTHER}
        sections = rb.section_scores({k: v["accuracy"] for k, v in scored.items()})
        length_sections = rb.section_scores({k: v["length_baseline"] for k, v in scored.items()})
        body.update(sections=sections, overall=rb.overall_score(sections), overall_legacy=rb.legacy_overall(sections),
                    length_baseline={"sections": length_sections, "overall": rb.overall_score(length_sections)},
                    coverage=rb.section_coverage(subsets),
                    other_subsets={k: v for k, v in subsets.items() if rb.section_of(k) == rb.OTHER})
    else:
        pooled = body["position"]
        body.update(sections={}, overall=pooled["accuracy"], overall_legacy=None,
                    length_baseline={"sections": {}, "overall": pooled["length_baseline"]})
    return body


# ---------------------------------------------------------------- best-of-4 (RewardBench 2)


def _score_best_of(rows: Sequence, judgments: Sequence) -> dict:
    grids = rb2.split_judgments(rows, judgments)
    examples, ties_items, ties_length = [], [], []
    for row, grid in zip(rows, grids):
        chosen_scores, rejected_scores = rb2.completion_scores(grid)
        length_chosen, length_rejected = rb2.length_grid(row)
        flat = [j for line in grid for j in line]
        ex = {"id": row.id, "subset": row.subset, "chosen_scores": chosen_scores, "rejected_scores": rejected_scores,
              "comparisons": [j.p_chosen for j in flat], "ties": sum(rb.is_tie(j) for j in flat),
              "unparsed": sum(not j.parsed for j in flat)}
        if row.subset == rb2.TIES:
            ties_items.append((row.id, chosen_scores, rejected_scores))
            ties_length.append((row.id, length_chosen, length_rejected))
            ex["correct"] = 1.0 if min(chosen_scores) > max(rejected_scores) else 0.0
            ex["length_correct"] = 1.0 if min(length_chosen) > max(length_rejected) else 0.0
        else:
            ex["correct"] = rb2.row_credit(grid)
            ex["length_correct"] = rb2.top_credit(length_chosen[0], length_rejected)
        for attr, key in (("p_chosen_first", "chosen_first_correct"), ("p_chosen_second", "chosen_second_correct")):
            value = rb2.position_credit(grid, attr)
            if value is not None:
                ex[key] = value
        examples.append(ex)
    subsets = _subset_table([dict(e, tie=False, parsed=True) for e in examples])
    for name, row in subsets.items():
        exs = [e for e in examples if e["subset"] == name]
        row["ties"], row["unparsed"] = sum(e["ties"] for e in exs), sum(e["unparsed"] for e in exs)
    if ties_items:
        metric, length_metric = rb2.ties_score(ties_items), rb2.ties_score(ties_length)
        subsets[rb2.TIES].update(accuracy=metric["score"], metric="ties (official weighted)", components=metric,
                                 length_baseline=length_metric["score"], ci95=None)
    domains = {name: row["accuracy"] for name, row in subsets.items() if name in rb2.DOMAINS}
    length_domains = {name: row["length_baseline"] for name, row in subsets.items() if name in rb2.DOMAINS}

    def mean(scores: dict) -> float | None:
        return sum(scores.values()) / len(scores) if scores else None

    return {"examples": examples, "subsets": subsets, "sections": domains, "overall": mean(domains),
            "overall_legacy": None, "length_baseline": {"sections": length_domains, "overall": mean(length_domains)},
            "counts": {"ties": sum(e["ties"] for e in examples), "unparsed": sum(e["unparsed"] for e in examples),
                       "comparisons": len(judgments)},
            "position": _subset_table([dict(e, tie=False, parsed=True) for e in examples], group=lambda ex: "all")["all"],
            "other_subsets": {k: v for k, v in subsets.items() if k not in rb2.DOMAINS}}
