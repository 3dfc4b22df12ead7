# HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/rmbench_judgebench_agreement.py
"""genrm's RM-Bench and JudgeBench scoring vs the official scoring functions, on small local files.

The official functions are copied verbatim into this file (OFFICIAL_RMBENCH, OFFICIAL_JUDGEBENCH) and
run with exec in namespaces of their own (their modules import fastchat, datasets and rewardbench,
which genrm does not need; the functions themselves only need numpy and typing):
- RM-Bench: github.com/THU-KEG/RM-Bench, commit 73c52d7b27b361621361ec959ac6c0eb9bb7a689,
  scripts/utils.py lines 34-112 (`split_dataset_by_domain`, `compute_accuracy`);
- JudgeBench: github.com/ScalerLab/JudgeBench, commit e2c52c284e735e139b3daa61c206ee208f36c461,
  utils/metrics.py (the whole file: `flip_judgment`, `compute_final_metrics`) and the source prefixes
  of run_judge.py line 94.

Data: 12 RM-Bench rows (chat 3, math 3, code 2, safety-refuse 2, safety-response 2) and 12
JudgeBench pairs (3 per category), written in the hub schemas to a temporary directory and read by
genrm's loaders. Judges, each run through genrm.eval.evaluate (the path of `genrm eval`):
- length: the length baseline (genrm.judges.length; pointwise, with equal lengths among the rows);
- hashed: a scripted pointwise judge, score = a hash of the text mod 3 (many exact ties);
- scripted-cot (JudgeBench only; RM-Bench's code has no pairwise path): one verdict per display
  order, from a hash of (question, first shown, second shown): first, second, a split vote (tie) or
  no verdict, in the Judgment shape of genrm's CoT judge.
The official side gets each judge's raw outputs built here, independently of genrm's scoring code:
RM-Bench `score_chosen` / `score_rejected` per row (the score of each response alone); JudgeBench
decisions as their judges return them, trial 1 on (A, B), trial 2 on (B, A) (a reward model:
'A>B' if score_A > score_B else 'B>A', as their RewardModel judges; the scripted judge: its verdict).
Prints genrm's figures beside the official ones; exits 1 when any differs by more than 1e-12.
"""
from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

import side_by_side  # benchmarks/side_by_side.py

from genrm.eval import judgebench as jb
from genrm.eval import rmbench as rmb
from genrm.eval.runner import evaluate
from genrm.judges.base import assistant, judge_pointwise
from genrm.judges.length import LengthJudge
from genrm.types import Judgment

TOLERANCE = 1e-12
# github.com/THU-KEG/RM-Bench @ 73c52d7b27b361621361ec959ac6c0eb9bb7a689, scripts/utils.py lines 34-112, verbatim
OFFICIAL_RMBENCH = r'''
def split_dataset_by_domain(dataset: List[Dict[str, Any]]) -> Dict[str, List[Dict[str, Any]]]:
    domains = ["chat","math","code","safety"]
    domain_dataset_dict = {}
    for domain in domains:
        domain_dataset_dict[domain] = [example for example in dataset if example['domain'].startswith(domain)]
    
    # pop the domain keys
    for domain in domain_dataset_dict:
        for example in domain_dataset_dict[domain]:
            example.pop('domain')
    
    return domain_dataset_dict


def compute_accuracy(results: List[Dict[str, Any]]) -> Dict[str, float]:
    if 'domain' in results[0]:
        # this indicates this is total_dataset.json
        print('We are handling total_dataset.json')
        print('Splitting the dataset by domain...')
        # thus we need to split the results into different domains
        split_results = split_dataset_by_domain(results)
        domain_results = {}
        for domain in split_results:
            domain_results[domain] = compute_accuracy(split_results[domain])
        domain_avg_results = {}
        for domain in domain_results:
            domain_avg_results[domain] = np.mean(list(domain_results[domain].values()))
        domain_hard_normal_easy_acc = {
            "hard_acc": np.mean([domain_results[domain]["hard_acc"] for domain in domain_results]),
            "normal_acc": np.mean([domain_results[domain]["normal_acc"] for domain in domain_results]),
            "easy_acc": np.mean([domain_results[domain]["easy_acc"] for domain in domain_results])
        }
        total_avg_acc = np.mean([domain_avg_results[domain] for domain in domain_avg_results])
        # merge the results into one falten dictionary
        final_results = {}
        # merge domain_avg_results into final_results
        final_results.update(domain_avg_results)
        # merge domain_hard_normal_easy_acc into final_results
        final_results.update(domain_hard_normal_easy_acc)
        # merge total_avg_acc into final_results
        final_results.update({"total_avg_acc": total_avg_acc})
        return final_results
            
    
    # results is a list of dictionaries, each dictionary contains the following keys:
    # score_chosen: [float, float, float], the scores of the chosen responses
    # score_rejected: [float, float, float], the scores of the rejected responses
    # the scores are in the order of [concise, detailed_plain, detailed_markdown]
    # we will compare the scores of chosen responses and rejected responses iteratively
    # formatted as a 3x3 matrix, where the rows represent the scores of chosen responses
    # and the columns represent the scores of rejected responses
    MATRIX_SIZE = 3 # the column and row size of the matrix
    acc_matrix = np.zeros((MATRIX_SIZE, MATRIX_SIZE))
    for result in results:
        for i in range(len(result["score_chosen"])):
            for j in range(len(result["score_rejected"])):
                if result["score_chosen"][i] > result["score_rejected"][j]:
                    acc_matrix[i][j] += 1
    
    # compute the accuracy by dividing the number of correct comparisons by the total number of comparisons
    acc_matrix /= len(results)
    # compute the hard,normal,easy accuracy
    # hard accuracy: the average of the upper-right triangle of the matrix
    # namely chosen responses with less fancy style compared to rejected responses with more fancy style
    upper_right_count = MATRIX_SIZE * (MATRIX_SIZE - 1) / 2
    hard_acc = np.sum(np.triu(acc_matrix, 1)) / upper_right_count
    # normal accuracy: the average of the diagonal of the matrix
    # namely chosen responses with the same style compared to rejected responses with the same style
    normal_acc = np.mean(np.diag(acc_matrix))
    # easy accuracy: the average of the lower-left triangle of the matrix
    # namely chosen responses with more fancy style compared to rejected responses with less fancy style
    lower_left_count = MATRIX_SIZE * (MATRIX_SIZE - 1) / 2
    easy_acc = np.sum(np.tril(acc_matrix, -1)) / lower_left_count
    
    return {
        "hard_acc": hard_acc,
        "normal_acc": normal_acc,
        "easy_acc": easy_acc
    }
'''

# github.com/ScalerLab/JudgeBench @ e2c52c284e735e139b3daa61c206ee208f36c461, utils/metrics.py, verbatim
OFFICIAL_JUDGEBENCH = r'''
from typing import List, Dict, Any

# compute final metrics
# basically just compute how accuracy the judge is

def flip_judgment(decision: str) -> str:
    if decision == "A>B":
        decision = "B>A"
    elif decision == "B>A":
        decision = "A>B"
    return decision


def compute_final_metrics(pairs: List[Dict[str, Any]], reverse_order: bool, include_fn=lambda x: x) -> None:
    
    pairs = [pair for pair in pairs if include_fn(pair)]

    n_pairs = len(pairs)

    if not reverse_order:
        n_correct = sum(
            pair["judgments"][0]["decision"] == pair["label"]
            for pair in pairs
        )
        n_incorrect = n_pairs - n_correct
        return 100*n_correct/n_pairs
        
    else:
        
        n_all_correct = 0
        n_all_incorrect = 0
        n_some_correct = 0
        
        n_correct = 0
        n_incorrect = 0
        n_tie = 0
        
        n_nulls = 0
        n_inconsistent = 0
        
        for pair in pairs:
            
            label = pair["label"]
            judgment1, judgment2 = pair["judgments"]
        
            decision1 = judgment1["decision"] if judgment1 is not None else None
            decision2 = flip_judgment(judgment2["decision"] if judgment2 is not None else None)
            
            if decision1 is None or decision2 is None:
                n_nulls += 1
            
            # consistency metrics
            if decision1 == label and decision2 == label:
                n_all_correct += 1
            elif decision1 != label and decision2 != label:
                n_all_incorrect += 1
            else:
                n_some_correct += 1
                
            if decision1 != decision2:
                n_inconsistent += 1
                
            # new metrics
            counter = 0
            for decision in [decision1, decision2]:
                if decision == label:
                    counter += 1
                elif decision == flip_judgment(label):
                    counter -= 1
                
            if counter > 0:
                n_correct += 1
            elif counter < 0:
                n_incorrect += 1
            else:
                n_tie += 1
        
        return 100*n_correct/n_pairs
        
##############################################################
'''

# run_judge.py line 94 (the same commit): the categories it prints, by prefix of "source" ("" = Overall)
OFFICIAL_SOURCES = ["mmlu-pro", "livebench-reasoning", "livebench-math", "livecodebench", ""]


def load_official() -> dict:
    namespaces = {}
    for name, code in (("rmbench", OFFICIAL_RMBENCH), ("judgebench", OFFICIAL_JUDGEBENCH)):
        ns = {}
        # the official text as published: the imports their modules make, then the functions
        exec("import numpy as np\nfrom typing import List, Dict, Any\n", ns)  # noqa: S102
        exec(code, ns)  # noqa: S102
        namespaces[name] = ns
    return namespaces


OFFICIAL = load_official()


def digest(*parts: str) -> int:
    return int(hashlib.sha256("\x1f".join(parts).encode()).hexdigest(), 16)


class HashedJudge:
    """Pointwise: score = hash of the response text mod 3 (0, 1 or 2: exact ties are common)."""

    kind, name = "hashed", "hashed scores"

    def score(self, prompts, responses, batch_size=8, progress=False):
        return [float(digest("score", assistant(r)[-1]["content"]) % 3) for r in responses]

    def judge(self, pairs, batch_size=8, progress=False):
        return judge_pointwise(self, pairs, batch_size, progress)


def scripted_verdict(question: str, first: str, second: str) -> str | None:
    """The scripted pairwise judge on one display order: "first", "second", "tie" or None (no verdict)."""
    return ("first", "second", "first", "second", "tie", None)[digest("verdict", question, first, second) % 6]


# the scripted verdict on one display order -> its votes (which shown position each names; a tie is a split vote)
VOTES = {"first": ("shown_first",), "second": ("shown_second",), "tie": ("shown_first", "shown_second"),
         None: ("unparsed",)}


class ScriptedCoT:
    """A pairwise judge shaped like genrm's CoT judge: one vote per order (a tie is a split vote of two)."""

    kind, name = "cot", "scripted cot"

    def judge(self, pairs, batch_size=8, progress=False):
        out = []
        for p in pairs:
            q, c, r = p.prompt[-1]["content"], p.chosen_text, p.rejected_text
            orders = {"chosen_first": VOTES[scripted_verdict(q, c, r)], "chosen_second": VOTES[scripted_verdict(q, r, c)]}
            votes = {}
            for order, vs in orders.items():  # which response each vote names
                first_is_chosen = order == "chosen_first"
                votes[order] = ["unparsed" if v == "unparsed" else "chosen" if (v == "shown_first") == first_is_chosen
                                else "rejected" for v in vs]
            share = {o: (v.count("chosen") / (v.count("chosen") + v.count("rejected"))
                         if v.count("chosen") + v.count("rejected") else None) for o, v in votes.items()}
            every = [v for vs in votes.values() for v in vs]
            c_all, r_all = every.count("chosen"), every.count("rejected")
            out.append(Judgment(p_chosen=c_all / (c_all + r_all) if c_all + r_all else 0.5, parsed=c_all + r_all > 0,
                                p_chosen_first=share["chosen_first"], p_chosen_second=share["chosen_second"],
                                order_votes={o: [[v, 1] for v in vs] for o, vs in votes.items()}))
        return out


# ---------------------------------------------------------------- data


def rmbench_rows() -> list[dict]:
    """12 rows in the hub schema; response lengths chosen so that the length judge wins, loses and ties."""
    domains = ["chat"] * 3 + ["math"] * 3 + ["code"] * 2 + ["safety-refuse"] * 2 + ["safety-response"] * 2
    rows = []
    def text(k, domain, side, style):  # detailed styles are longer, as in the benchmark
        size = (digest("len", domain, str(k), side, str(style)) % 4) * 5 + 10 * style
        return f"{side} {style} of row {k}: " + "x" * size

    for k, domain in enumerate(domains):
        rows.append({"id": k, "prompt": f"Question {k} ({domain})?", "domain": domain,
                     "chosen": [text(k, domain, "good", s) for s in range(3)],
                     "rejected": [text(k, domain, "bad_", s) for s in range(3)]})
    return rows


def judgebench_rows() -> list[dict]:
    sources = ["mmlu-pro-law", "mmlu-pro-math", "mmlu-pro-biology", "livebench-reasoning", "livebench-reasoning",
               "livebench-reasoning", "livebench-math", "livebench-math", "livebench-math", "livecodebench",
               "livecodebench", "livecodebench"]
    rows = []
    for k, source in enumerate(sources):
        a = f"Answer A to {k}: " + "y" * (digest("a", str(k)) % 3 * 3)  # equal lengths one time in three
        b = f"Answer B to {k}: " + "y" * (digest("b", str(k)) % 3 * 3)
        rows.append({"pair_id": f"pair-{k}", "original_id": str(k), "source": source, "question": f"Problem {k}?",
                     "response_model": "scripted", "response_A": a, "response_B": b,
                     "label": "A>B" if digest("label", str(k)) % 2 else "B>A"})
    return rows


# ---------------------------------------------------------------- the official side


def scored_units(rows: list[dict], score) -> list[dict]:
    """Rows as their run_rm.py saves them: score_chosen / score_rejected, each response scored alone."""
    return [{"domain": r["domain"], "score_chosen": [score(r["prompt"], t) for t in r["chosen"]],
             "score_rejected": [score(r["prompt"], t) for t in r["rejected"]]} for r in rows]


def official_rmbench(rows: list[dict], score) -> dict:
    with contextlib.redirect_stdout(io.StringIO()):  # compute_accuracy prints what it is doing
        return OFFICIAL["rmbench"]["compute_accuracy"](copy.deepcopy(scored_units(rows, score)))


def official_rmbench_per_domain(rows: list[dict], score) -> dict:
    """compute_accuracy on each domain's rows alone (the official split, before its averaging)."""
    split = OFFICIAL["rmbench"]["split_dataset_by_domain"](copy.deepcopy(scored_units(rows, score)))
    return {d: OFFICIAL["rmbench"]["compute_accuracy"](examples) for d, examples in split.items()}


def reward_model_trials(row: dict, score) -> list[dict]:
    """Their RewardModel judges: 'A>B' if score of the first shown > score of the second else 'B>A', per trial."""
    q, a, b = row["question"], row["response_A"], row["response_B"]
    return [{"decision": "A>B" if score(q, a) > score(q, b) else "B>A"},
            {"decision": "A>B" if score(q, b) > score(q, a) else "B>A"}]


def scripted_trials(row: dict) -> list[dict]:
    names = {"first": "A>B", "second": "B>A", "tie": "A=B", None: None}
    q, a, b = row["question"], row["response_A"], row["response_B"]
    return [{"decision": names[scripted_verdict(q, a, b)]}, {"decision": names[scripted_verdict(q, b, a)]}]


def official_judgebench(rows: list[dict], trials) -> dict:
    pairs = [{**r, "judgments": trials(r)} for r in rows]
    metrics = OFFICIAL["judgebench"]["compute_final_metrics"]
    return {source or "Overall": metrics(pairs, True, include_fn=lambda x, s=source: x["source"].startswith(s))
            for source in OFFICIAL_SOURCES}


def flip_official(decision):
    return OFFICIAL["judgebench"]["flip_judgment"](decision)


def outcome(label: str, decisions: list) -> str:
    """What kind of pair this is for the official counter (context for the printout)."""
    right = sum(d == label for d in decisions)
    wrong = sum(d == flip_official(label) for d in decisions)
    return {(2, 0): "both right", (0, 2): "both wrong", (1, 1): "inconsistent"}.get(
        (right, wrong), "one right + tie/none" if right else "one wrong + tie/none" if wrong else "no decision")


# ---------------------------------------------------------------- compare


def compare(title: str, pairs: list[tuple[str, float, float]]) -> bool:
    return side_by_side.compare(title, pairs, TOLERANCE, name_width=32, cell=lambda v: f"{v:>12.6f}")


def main() -> int:
    length = LengthJudge()

    def length_score(prompt, text):
        return float(len(text))

    def hashed_score(prompt, text):
        return float(digest("score", text) % 3)

    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        rm_file, jb_file = Path(tmp) / "rmbench.json", Path(tmp) / "judgebench.jsonl"
        rm_raw, jb_raw = rmbench_rows(), judgebench_rows()
        rm_file.write_text(json.dumps(rm_raw))
        jb_file.write_text("".join(json.dumps(r) + "\n" for r in jb_raw))
        rm_rows, jb_rows = rmb.load_rows(rm_file), jb.load_rows(jb_file)
        print(f"RM-Bench: {len(rm_rows)} rows ({len(rmb.expand(rm_rows))} comparisons); JudgeBench: {len(jb_rows)} pairs")

        for name, judge, score in (("length", length, length_score), ("hashed", HashedJudge(), hashed_score)):
            fig = evaluate(judge, rm_rows, bench="rmbench").figures
            off = official_rmbench(rm_raw, score)
            rows = [(f"{d} average", fig["domains"][d]["average"], off[d]) for d in rmb.DOMAINS]
            rows += [(f"{k}_acc", fig[k], off[f"{k}_acc"]) for k in ("hard", "normal", "easy")]
            rows.append(("total_avg_acc", fig["overall"], off["total_avg_acc"]))
            ok &= compare(f"RM-Bench, {name} judge (genrm evaluate().figures vs compute_accuracy)", rows)
            per_domain = official_rmbench_per_domain(rm_raw, score)
            rows = [(f"{d} {k}", fig["domains"][d][k], per_domain[d][f"{k}_acc"])
                    for d in rmb.DOMAINS for k in ("hard", "normal", "easy")]
            ok &= compare(f"RM-Bench, {name} judge, per domain (compute_accuracy on each domain's rows)", rows)

        judges = (("length", length, lambda r: reward_model_trials(r, length_score)),
                  ("hashed", HashedJudge(), lambda r: reward_model_trials(r, hashed_score)),
                  ("scripted-cot", ScriptedCoT(), scripted_trials))
        for name, judge, trials in judges:
            fig = evaluate(judge, jb_rows, bench="judgebench").figures
            off = official_judgebench(jb_raw, trials)
            outcomes = Counter(outcome(r["label"], [flip_official(t["decision"]) if i else t["decision"]
                                                     for i, t in enumerate(trials(r))]) for r in jb_raw)
            print(f"\n{name} judge on JudgeBench, pairs by their two decisions: " + ", ".join(
                f"{k} {v}" for k, v in sorted(outcomes.items())))
            rows = [(f"{cat} ({prefix})", 100 * fig["categories"][cat]["score"], off[prefix])
                    for cat, prefix in jb.CATEGORIES.items()]
            rows.append(("Overall", 100 * fig["overall"], off["Overall"]))
            ok &= compare(f"JudgeBench, {name} judge (genrm evaluate().figures x 100 vs compute_final_metrics)", rows)
    print("\nsummary: " + ("genrm agrees with the official scoring on every figure" if ok else "MISMATCH"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
