"""The one evaluation path: `evaluate(judge, pairs, out=...) -> EvalResult`.

Every figure genrm prints goes through here: `genrm eval`, `genrm train --eval-data`, each STaR
iteration, the demo and the benchmarks. Judgments are journaled in `out` (eval/journal.py), so a
killed evaluation resumes; each pair is credited by the one policy (eval/credit.py), beside the
length baseline (a judge like the others, judges/length.py) on the same pairs; results are written
by eval/report.py (results.json, report.md, chart.png).

Benches: "rewardbench" (official sections and overall), "file" (accuracy per subset, overall =
accuracy over all pairs), "ultrafeedback" (as file), "rewardbench2" (best-of-4 rows, rewardbench2.py),
"rmbench" (3 x 3 styled comparisons per row, rmbench.py) and "judgebench" (labelled A/B pairs,
judgebench.py): the last two are credited pair by pair like "file" and also scored by their own
official rule (`sections`, `overall` and the result's `figures`). `bench=None` picks "rewardbench"
when every subset carries an official RewardBench name, else "file".
"""
from __future__ import annotations

import hashlib
import random
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from genrm.data.lengths import apply_policy, peak_memory, skip_report
from genrm.distributed import is_main_process
from genrm.eval import credit as C
from genrm.eval import judgebench as jb
from genrm.eval import rewardbench as rb
from genrm.eval import rewardbench2 as rb2
from genrm.eval import rmbench as rmb
from genrm.eval.calibration import calibration, votes_curve
from genrm.eval.journal import judge_journaled
from genrm.stats import wilson
from genrm.types import EvalResult, Judgment, PreferencePair, Score, record_bytes

BENCHES = ("rewardbench", "rewardbench2", "rmbench", "judgebench", "ultrafeedback", "masterkey", "file")
DEFAULT_DATA = {"rewardbench": "allenai/reward-bench", "rewardbench2": "allenai/reward-bench-2",
                "rmbench": "THU-KEG/RM-Bench", "judgebench": "ScalerLab/JudgeBench",
                "ultrafeedback": "HuggingFaceH4/ultrafeedback_binarized"}
ROW_BENCHES = {"rewardbench2": rb2, "rmbench": rmb, "judgebench": jb}  # rows expanded into pairs (module.expand)
OWN_FIGURES = {"rmbench": rmb, "judgebench": jb}  # also scored by their official rule (module.figures)


def load_bench(bench: str, data: str | None = None, split: str | None = None, skip_invalid: bool = False) -> list:
    """PreferencePairs (or the rows of rewardbench2, rmbench, judgebench) of a bench; `data` overrides the hub default.
    For masterkey, the preference set its attacks are built from (masterkey.attack_pairs).
    With `skip_invalid`, bad rows are skipped and listed in the result's `.skipped` (data.PairList)."""
    from genrm.data.pairs import load_pairs

    if bench not in BENCHES:
        raise ValueError(f"unknown bench {bench!r} (expected one of {', '.join(BENCHES)} or file:PATH)")
    source = data or DEFAULT_DATA.get(bench)
    if source is None:
        raise ValueError(f"--bench {bench} needs a preference set: give --data PATH" + (
            " (its pairs become master-key attacks: genrm.eval.masterkey)" if bench == "masterkey" else
            " or use --bench file:PATH"))
    if bench in ROW_BENCHES:
        return ROW_BENCHES[bench].load_rows(source, split)
    return load_pairs(source, split=split, skip_invalid=skip_invalid)


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


def detect_bench(items: Sequence) -> str:
    return "rewardbench" if rb.is_rewardbench({x.subset for x in items}) else "file"


def evaluate(judge, data: Sequence, bench: str | None = None, out: str | Path | None = None, batch_size: int = 8,
             progress: bool = False, model: str | None = None, data_source: str | None = None,
             chunk: int | None = None, over_length: str = "error", invalid: Sequence = (),
             options: dict | None = None) -> EvalResult:
    """Judge every pair (or best-of-4 row), credit it under the one policy, score subsets and
    sections; with `out`, journal the judgments (a rerun resumes) and write results.json,
    report.md and chart.png there. Pairs over the judge's token limit are a located error, or with
    `over_length="skip"` left out and reported (genrm.data.lengths); `invalid` lists the rows the loader
    skipped (DataError), reported beside them. `options` (how the judge was loaded: dtype, backend,
    sampling) and the judge's card are recorded in the result."""
    from genrm import __version__
    from genrm.judges.base import exact_probabilities
    from genrm.judges.length import LengthJudge

    if not data:
        raise ValueError("nothing to evaluate: no pairs")
    bench = bench or detect_bench(data)
    start = time.time()
    best_of = bench == "rewardbench2"
    if best_of:  # the Ties metric reads vote shares: draw every vote
        judge = exact_probabilities(judge)
    data, pairs, too_long = within_limit(judge, data, ROW_BENCHES.get(bench), over_length)
    if not data:
        raise ValueError(f"nothing to evaluate: all {len(too_long)} pairs are over the judge's limit")
    judgments, resumed = judge_journaled(judge, pairs, out, batch_size, progress, model, chunk)
    lengths = LengthJudge().judge(pairs)
    if len(judgments) != len(pairs):
        raise ValueError(f"judge returned {len(judgments)} judgments for {len(pairs)} pairs")
    body = score_best_of(data, judgments, lengths) if best_of else score_pairs(pairs, judgments, lengths, bench)
    if bench in OWN_FIGURES:
        body.update(own_figures(OWN_FIGURES[bench], data, judgments, lengths))
    result = EvalResult(bench=bench, model=model or getattr(judge, "name", None), judge=getattr(judge, "kind", None),
                        n=len(data), data=data_source, data_hash=data_hash(data), genrm_version=__version__,
                        tie_policy=dict(C.TIE_POLICY, **(rb2.BEST_OF_POLICY if best_of else {}),
                                        **getattr(OWN_FIGURES.get(bench), "POLICY", {})),
                        resumed_judgments=resumed, seconds=round(time.time() - start, 1),
                        skipped={**skip_report(too_long), **invalid_report(invalid)}, memory=peak_memory(),
                        behaviour=behaviour(body["examples"]), calibration=calibration(body["examples"]),
                        votes_curve=votes_curve(body["examples"]),
                        options={**(judge.card() if callable(getattr(judge, "card", None)) else {}), **(options or {})},
                        **body)
    if out is not None and is_main_process():
        from genrm.eval.report import write_outputs

        write_outputs(result, out)
    return result


def within_limit(judge, data: Sequence, row_module, policy: str) -> tuple[list, list[PreferencePair], list]:
    """(items, their pairs, the TooLong left out): pairs over a Bounded judge's limit raise or are
    left out; for a bench of rows (`row_module.expand` gives their pairs) a row with one pair over
    the limit is left out whole."""
    from genrm.judges.base import Bounded

    pairs = row_module.expand(data) if row_module else list(data)
    over = judge.too_long(pairs) if isinstance(judge, Bounded) else []
    kept, skipped = apply_policy(pairs, over, policy)
    if not row_module:
        return kept, kept, skipped
    if not skipped:
        return list(data), pairs, []
    bad, kept_rows, k = {id(t.pair) for t in skipped}, [], 0
    for row in data:
        n = len(row_module.expand([row]))
        if not any(id(p) in bad for p in pairs[k:k + n]):
            kept_rows.append(row)
        k += n
    return kept_rows, row_module.expand(kept_rows), skipped


def own_figures(module, rows: Sequence, judgments: Sequence[Judgment], lengths: Sequence[Judgment]) -> dict:
    """A bench's official figures (module.figures) as the result's sections, overall and `figures`,
    the length baseline's beside them."""
    own, length = module.figures(rows, judgments), module.figures(rows, lengths)
    return {"sections": own["sections"], "overall": own["overall"], "figures": own,
            "length_baseline": {"sections": length["sections"], "overall": length["overall"]},
            "notes": module.notes(own, judgments)}


def invalid_report(errors: Sequence) -> dict:
    """Rows the loader skipped (`load_pairs(..., skip_invalid=True)`): count, per kind, the first few."""
    if not errors:
        return {}
    return {"invalid": {"n": len(errors), "kinds": dict(Counter(e.kind for e in errors)),
                        "first": [str(e) for e in errors[:10]]}}


# ---------------------------------------------------------------- scores of example groups


def score_examples(examples: Sequence[dict]) -> Score:
    """Mean credit, Wilson CI, length baseline, per-order accuracy, ties and unparsed of `examples`."""
    n = len(examples)
    acc = sum(e["correct"] for e in examples) / n
    per_order = {}
    for order in ("chosen_first", "chosen_second"):
        values = [e[f"{order}_correct"] for e in examples if f"{order}_correct" in e]
        per_order[f"{order}_accuracy"] = sum(values) / len(values) if values else None
        per_order[f"n_{order}"] = len(values)
    return Score(accuracy=acc, n=n, ci95=wilson(acc, n), length_baseline=sum(e["length_correct"] for e in examples) / n,
                 ties=sum(e.get("ties", e.get("tie", False)) for e in examples),
                 unparsed=sum(e.get("unparsed", not e.get("parsed", True)) for e in examples), **per_order)


def group_scores(examples: Sequence[dict]) -> dict[str, Score]:
    """A Score per subset."""
    groups: dict[str, list[dict]] = {}
    for e in examples:
        groups.setdefault(e["subset"], []).append(e)
    return {name: score_examples(exs) for name, exs in sorted(groups.items())}


def example(pair: PreferencePair, judgment: Judgment, length: Judgment) -> dict:
    """One pair's record in results.json: its credit under the policy and the values behind it."""
    ex = {"id": pair.id, "key": pair.key, "prompt_key": pair.prompt_key, "subset": pair.subset, "p_chosen": judgment.p_chosen,
          "correct": C.credit(judgment), "tie": C.is_tie(judgment), "parsed": judgment.parsed,
          "length_correct": C.credit(length)}
    for key in ("p_chosen_first", "p_chosen_second", "score_chosen", "score_rejected"):
        value = getattr(judgment, key)
        if value is not None:
            ex[key] = value
    orders = C.order_credits(judgment)
    ex.update({f"{order}_correct": value for order, value in orders.items()})
    if orders:
        ex["shown"] = "both" if len(orders) == 2 else next(iter(orders))
    if judgment.votes:
        ex["votes"] = dict(judgment.votes)
    if judgment.rationale_tokens:
        ex["rationale_tokens"] = judgment.rationale_tokens
        ex["forced_verdicts"] = judgment.forced_verdicts
    if judgment.order_votes:
        ex["order_votes"] = judgment.order_votes
    return ex


VERDICT_ONLY = 16  # rationales shorter than this many tokens on average: the CoT judge is verdict-only


def behaviour(examples: Sequence[dict]) -> dict:
    """How a judge behaved on these examples. position_consistency: of the pairs judged in both
    orders, the share where both orders preferred the same response (a judge that answers by
    position scores 0). For CoT judges: mean tokens the model sampled per rationale, the share of
    rationales whose verdict the model wrote itself (not forced, not missing), and verdict_only
    when rationales average under VERDICT_ONLY tokens."""
    both = [e for e in examples if "p_chosen_first" in e and "p_chosen_second" in e]
    out: dict = {}
    if both:
        same = sum((e["p_chosen_first"] - 0.5) * (e["p_chosen_second"] - 0.5) > 0 for e in both)
        out.update(position_consistency=same / len(both), pairs_both_orders=len(both))
    tokens = [k for e in examples for k in e.get("rationale_tokens", [])]
    if tokens:
        unparsed = sum(e.get("votes", {}).get("unparsed", 0) for e in examples)
        forced = sum(e.get("forced_verdicts", 0) for e in examples)
        mean = sum(tokens) / len(tokens)
        out.update(rationales=len(tokens), mean_rationale_tokens=mean,
                   self_written_verdicts=(len(tokens) - forced - unparsed) / len(tokens), verdict_only=mean < VERDICT_ONLY)
    return out


def score_pairs(pairs: Sequence[PreferencePair], judgments: Sequence[Judgment], lengths: Sequence[Judgment],
                 bench: str) -> dict:
    examples = [example(p, j, length) for p, j, length in zip(pairs, judgments, lengths)]
    subsets = group_scores(examples)
    pooled = score_examples(examples)
    body = {"examples": examples, "subsets": subsets, "pooled": pooled,
            "counts": {"ties": pooled.ties, "unparsed": pooled.unparsed}}
    if bench != "rewardbench":
        return {**body, "sections": {}, "overall": pooled.accuracy, "overall_legacy": None,
                "length_baseline": {"sections": {}, "overall": pooled.length_baseline}}
    for ex in examples:
        ex["section"] = rb.section_of(ex["subset"])
    official = {k: v for k, v in subsets.items() if rb.section_of(k) != rb.OTHER}
    sections = rb.section_scores({k: v.accuracy for k, v in official.items()})
    length_sections = rb.section_scores({k: v.length_baseline for k, v in official.items()})
    return {**body, "sections": sections, "overall": rb.overall_score(sections),
            "overall_legacy": rb.legacy_overall(sections),
            "length_baseline": {"sections": length_sections, "overall": rb.overall_score(length_sections)},
            "coverage": rb.section_coverage(subsets), "other_subsets": [k for k in subsets if rb.section_of(k) == rb.OTHER]}


# ---------------------------------------------------------------- best-of-4 (RewardBench 2)


def score_best_of(rows: Sequence, judgments: Sequence[Judgment], lengths: Sequence[Judgment]) -> dict:
    grids, length_grids = rb2.split_judgments(rows, judgments), rb2.split_judgments(rows, lengths)
    examples, ties_items, ties_length = [], [], []
    for row, grid, length_grid in zip(rows, grids, length_grids):
        chosen_scores, rejected_scores = rb2.completion_scores(grid)
        length_chosen, length_rejected = rb2.completion_scores(length_grid)
        flat = [j for line in grid for j in line]
        ex = {"id": row.id, "subset": row.subset, "chosen_scores": chosen_scores, "rejected_scores": rejected_scores,
              "comparisons": [j.p_chosen for j in flat], "ties": sum(C.is_tie(j) for j in flat),
              "unparsed": sum(not j.parsed for j in flat)}
        if row.subset == rb2.TIES:
            ties_items.append((row.id, chosen_scores, rejected_scores))
            ties_length.append((row.id, length_chosen, length_rejected))
            ex["correct"] = 1.0 if min(chosen_scores) > max(rejected_scores) else 0.0
            ex["length_correct"] = 1.0 if min(length_chosen) > max(length_rejected) else 0.0
        else:
            ex["correct"], ex["length_correct"] = rb2.row_credit(grid), rb2.row_credit(length_grid)
        for order in ("chosen_first", "chosen_second"):
            value = rb2.position_credit(grid, order)
            if value is not None:
                ex[f"{order}_correct"] = value
        examples.append(ex)
    subsets = group_scores(examples)
    if ties_items:
        metric, length_metric = rb2.ties_score(ties_items), rb2.ties_score(ties_length)
        t = subsets[rb2.TIES]
        t.accuracy, t.length_baseline, t.ci95 = metric["score"], length_metric["score"], None
        t.metric, t.components = "ties (official weighted)", metric
    domains = {name: s.accuracy for name, s in subsets.items() if name in rb2.DOMAINS}
    length_domains = {name: s.length_baseline for name, s in subsets.items() if name in rb2.DOMAINS}
    pointwise = all(C.is_pointwise(j) for j in judgments)
    pooled = score_examples(examples)

    def mean(scores: dict) -> float | None:
        return sum(scores.values()) / len(scores) if scores else None

    return {"examples": examples, "subsets": subsets, "pooled": pooled, "sections": domains, "overall": mean(domains),
            "overall_legacy": None, "length_baseline": {"sections": length_domains, "overall": mean(length_domains)},
            "counts": {"ties": pooled.ties, "unparsed": pooled.unparsed, "comparisons": len(judgments)},
            "other_subsets": [k for k in subsets if k not in rb2.DOMAINS],
            "chance": 0.25 if pointwise else 0.125, "notes": [] if pointwise else [rb2.PAIRWISE_NOTE]}
