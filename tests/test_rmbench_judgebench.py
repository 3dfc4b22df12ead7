"""RM-Bench and JudgeBench: loaders, expansion, official figures by hand for scripted judges, located
errors, and `genrm eval --bench rmbench` end to end on the tiny BT model."""
import json

import pytest

from genrm.cli import main
from genrm.data.pairs import DataError
from genrm.eval import judgebench as jb
from genrm.eval import rmbench as rmb
from genrm.eval.runner import evaluate
from genrm.judges.length import LengthJudge
from genrm.types import Judgment


def rm_row(k, domain="chat", **over):
    row = {"id": k, "prompt": f"Question {k}?", "chosen": [f"good {k}", f"good {k}, in detail", f"**good {k}**, in detail"],
           "rejected": [f"bad {k}", f"bad {k}, in detail", f"**bad {k}**, in detail"], "domain": domain}
    return {**row, **over}


def jb_row(k, source="mmlu-pro-law", label="A>B", **over):
    row = {"pair_id": f"p{k}", "original_id": str(k), "source": source, "question": f"Problem {k}?",
           "response_model": "m", "response_A": f"answer A{k}", "response_B": f"answer B{k}", "label": label}
    return {**row, **over}


def write(path, rows):
    if path.suffix == ".json":
        path.write_text(json.dumps(rows))
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


class Scripted:
    """A pairwise judge answering from a table: pair id -> Judgment (default: p_chosen 0.9)."""

    kind, name = "genrm", "scripted"

    def __init__(self, table):
        self.table = table

    def judge(self, pairs, batch_size=8, progress=False):
        return [self.table(p.id) for p in pairs]


# ---------------------------------------------------------------- RM-Bench


def test_rmbench_loads_json_and_jsonl_and_expands_nine_pairs(tmp_path):
    rows = [rm_row(1), rm_row(2, "safety-refuse")]
    for name in ("rm.json", "rm.jsonl"):
        loaded = rmb.load_rows(write(tmp_path / name, rows))
        assert [r.id for r in loaded] == ["chat:1", "safety-refuse:2"] and loaded[1].subset == "safety-refuse"
    pairs = rmb.expand(loaded)
    assert len(pairs) == 18 and pairs[5].id == "chat:1|c1|r2"
    assert pairs[5].chosen_text == "good 1, in detail" and pairs[5].rejected_text == "**bad 1**, in detail"
    assert {p.subset for p in pairs[9:]} == {"safety-refuse"} and pairs[0].prompt[0]["content"] == "Question 1?"
    # the same id in two domains is two rows (the per-domain files of THU-KEG/RM-Bench reuse ids)
    assert len(rmb.load_rows(write(tmp_path / "two.jsonl", [rm_row(8), rm_row(8, "code")]))) == 2


def test_rmbench_figures_by_hand_for_a_scripted_pairwise_judge():
    """chat rows win on and below the diagonal; above it row 1 ties (0,1) and loses the rest, row 2
    loses all. safety: the refuse row wins everything but (2,2), unparsed; the response row loses all."""
    rows = [rmb.row_from(rm_row(1), "t", 1), rmb.row_from(rm_row(2), "t", 2),
            rmb.row_from(rm_row(3, "safety-refuse"), "t", 3), rmb.row_from(rm_row(4, "safety-response"), "t", 4)]

    def table(pair_id):
        row, c, r = pair_id.split("|")
        i, j = int(c[1]), int(r[1])
        if row.startswith("chat"):
            if i >= j:
                return Judgment(p_chosen=0.9)
            return Judgment(p_chosen=0.5) if (row, i, j) == ("chat:1", 0, 1) else Judgment(p_chosen=0.2)
        if row == "safety-refuse:3":
            return Judgment(p_chosen=0.5, parsed=False) if (i, j) == (2, 2) else Judgment(p_chosen=0.8)
        return Judgment(p_chosen=0.1)

    result = evaluate(Scripted(table), rows, bench="rmbench")
    fig = result.figures
    chat, safety = fig["domains"]["chat"], fig["domains"]["safety"]
    assert chat["matrix"] == [[1.0, 0.25, 0.0], [1.0, 1.0, 0.0], [1.0, 1.0, 1.0]]
    assert (chat["hard"], chat["normal"], chat["easy"]) == pytest.approx((1 / 12, 1.0, 1.0))
    assert chat["average"] == pytest.approx(25 / 36) and chat["rows"] == 2
    assert safety["matrix"] == [[0.5, 0.5, 0.5], [0.5, 0.5, 0.5], [0.5, 0.5, 0.25]] and safety["rows"] == 2
    assert (safety["hard"], safety["normal"], safety["easy"]) == pytest.approx((0.5, 5 / 12, 0.5))
    assert (fig["hard"], fig["normal"], fig["easy"]) == pytest.approx((7 / 24, 17 / 24, 3 / 4))
    assert result.overall == pytest.approx(7 / 12) == pytest.approx((fig["hard"] + fig["normal"] + fig["easy"]) / 3)
    assert result.sections == pytest.approx({"chat": 25 / 36, "safety": 17 / 36})
    assert fig["missing_domains"] == ["math", "code"] and "math, code" in result.notes[0]
    # genrm's subset table: the same credits per comparison, safety split by the rows' own domain
    assert set(result.subsets) == {"chat", "safety-refuse", "safety-response"}
    assert result.subsets["chat"].accuracy == pytest.approx(25 / 36) and result.subsets["chat"].n == 18
    assert "rmbench" in result.tie_policy


def test_rmbench_pointwise_tie_counts_zero_as_in_the_official_code():
    """Length judge, responses of equal length across sides: the diagonal ties (0, strict >), a longer
    chosen response (below the diagonal) wins, a shorter one loses."""
    row = rmb.row_from(rm_row(1, chosen=["aa", "bbbb", "cccccc"], rejected=["xx", "yyyy", "zzzzzz"]), "t", 1)
    result = evaluate(LengthJudge(), [row], bench="rmbench")
    chat = result.figures["domains"]["chat"]
    assert chat["matrix"] == [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 1.0, 0.0]]
    assert (chat["hard"], chat["normal"], chat["easy"], result.overall) == (0.0, 0.0, 1.0, pytest.approx(1 / 3))
    assert result.length_baseline["overall"] == result.overall and result.notes  # three domains absent


@pytest.mark.parametrize("row, field", [
    (rm_row(2, chosen=["a", "b"]), "field 'chosen'"),
    (rm_row(2, rejected=["a", " ", "c"]), "field 'rejected[1]'"),
    (rm_row(2, domain="poetry"), "field 'domain'"),
    ({k: v for k, v in rm_row(2).items() if k != "prompt"}, "field 'prompt'"),
    (rm_row(1), "field 'id'"),  # a duplicate of row 1
    ("not an object", "row 2"),
])
def test_rmbench_bad_rows_name_file_row_and_field(tmp_path, row, field):
    path = write(tmp_path / "bad.jsonl", [rm_row(1), row])
    with pytest.raises(DataError) as err:
        rmb.load_rows(path)
    assert str(path) in str(err.value) and "row 2" in str(err.value) and field in str(err.value)


def test_rmbench_missing_file_and_empty_file(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        rmb.load_rows(tmp_path / "none.jsonl")
    with pytest.raises(DataError, match="no RM-Bench rows"):
        rmb.load_rows(write(tmp_path / "empty.json", []))


# ---------------------------------------------------------------- JudgeBench


def test_judgebench_expansion_puts_the_labelled_response_first(tmp_path):
    rows = jb.load_rows(write(tmp_path / "jb.jsonl", [jb_row(1), jb_row(2, label="B>A")]))
    a, b = jb.expand(rows)
    assert (a.id, a.chosen_text, a.rejected_text, a.subset) == ("p1", "answer A1", "answer B1", "mmlu-pro-law")
    assert (b.chosen_text, b.rejected_text) == ("answer B2", "answer A2")


def test_judgebench_counter_rule():
    label = "A>B"
    assert jb.pair_correct(label, ["A>B", "A>B"]) and jb.pair_correct(label, ["A>B", "A=B"])
    assert jb.pair_correct(label, ["A>B", None]) and jb.pair_correct(label, ["A>B"])
    assert not jb.pair_correct(label, ["A>B", "B>A"])  # inconsistent
    assert not jb.pair_correct(label, [None, None]) and not jb.pair_correct(label, ["A=B", "A=B"])
    assert not jb.pair_correct(label, ["A=B", "B>A"]) and not jb.pair_correct(label, ["A=B"])
    # decisions in the A/B frame, (A, B) first: label B>A means the chosen response is B
    j = Judgment(p_chosen=0.5, p_chosen_first=1.0, p_chosen_second=0.0)
    assert jb.decisions("B>A", j) == ["A>B", "B>A"] and jb.decisions("A>B", j) == ["A>B", "B>A"]
    tie = Judgment(p_chosen=0.5, score_chosen=2.0, score_rejected=2.0)  # their reward model: 'B>A' on each trial
    assert jb.decisions("A>B", tie) == ["B>A", "A>B"] and not jb.pair_correct("A>B", jb.decisions("A>B", tie))
    assert jb.decisions("B>A", Judgment(p_chosen=0.7, score_chosen=3.0, score_rejected=1.0)) == ["B>A", "B>A"]


def test_judgebench_figures_by_hand_for_a_scripted_judge():
    rows = [jb.row_from(jb_row(1, "mmlu-pro-law"), "t", 1), jb.row_from(jb_row(2, "mmlu-pro-math", "B>A"), "t", 2),
            jb.row_from(jb_row(3, "livebench-reasoning"), "t", 3), jb.row_from(jb_row(4, "livebench-math", "B>A"), "t", 4),
            jb.row_from(jb_row(5, "livecodebench"), "t", 5), jb.row_from(jb_row(6, "arena-hard"), "t", 6)]
    table = {
        "p1": Judgment(p_chosen=0.85, p_chosen_first=0.9, p_chosen_second=0.8),  # both orders right
        "p2": Judgment(p_chosen=0.55, p_chosen_first=0.9, p_chosen_second=0.2),  # inconsistent: 0 (genrm credit: 1)
        "p3": Judgment(p_chosen=0.7, p_chosen_first=0.9, p_chosen_second=0.5),  # right + tie: correct
        "p4": Judgment(p_chosen=1.0, p_chosen_second=1.0,  # CoT: no verdict in one order, right in the other
                       order_votes={"chosen_first": [["unparsed", 3]], "chosen_second": [["chosen", 3]]}),
        "p5": Judgment(p_chosen=0.2, p_chosen_first=0.1, p_chosen_second=0.3),  # both wrong
        "p6": Judgment(p_chosen=0.9, p_chosen_first=0.9),  # one order shown: single game, right
    }
    result = evaluate(Scripted(table.get), rows, bench="judgebench")
    fig = result.figures
    assert result.sections == {"knowledge": 0.5, "reasoning": 1.0, "math": 1.0, "coding": 0.0}
    assert result.overall == pytest.approx(4 / 6) and fig["all"]["pairs"] == 6  # pooled, not the mean of categories
    assert {k: g["inconsistent"] for k, g in fig["categories"].items()} == {"knowledge": 1, "reasoning": 1, "math": 1,
                                                                           "coding": 0}
    assert fig["other_sources"] == ["arena-hard"] and any("arena-hard" in n for n in result.notes)
    assert any("1/4" in n for n in result.notes)
    assert result.accuracy == pytest.approx(5 / 6)  # genrm's credit policy beside it: p_chosen 0.55 counts
    assert "judgebench" in result.tie_policy and result.subsets["arena-hard"].n == 1


@pytest.mark.parametrize("row, field", [
    (jb_row(2, label="A=B"), "field 'label'"),
    ({k: v for k, v in jb_row(2).items() if k != "response_B"}, "field 'response_B'"),
    (jb_row(2, question=""), "field 'question'"),
    (jb_row(2, response_B="answer A2"), "field 'response_B'"),  # identical responses
    (jb_row(1), "field 'pair_id'"),  # a duplicate of row 1
])
def test_judgebench_bad_rows_name_file_row_and_field(tmp_path, row, field):
    path = write(tmp_path / "bad.json", [jb_row(1), row])
    with pytest.raises(DataError) as err:
        jb.load_rows(path)
    assert str(path) in str(err.value) and "row 2" in str(err.value) and field in str(err.value)


# ---------------------------------------------------------------- the command line


def test_eval_rmbench_cli_with_a_bt_model(tiny_bt_dir, tmp_path, capsys):
    data = write(tmp_path / "rmbench.json", [rm_row(1), rm_row(2, "math"), rm_row(3, "code"),
                                             rm_row(4, "safety-refuse"), rm_row(5, "safety-response")])
    out = tmp_path / "out"
    rc = main(["eval", "--bench", "rmbench", "--data", str(data), "--model", str(tiny_bt_dir), "--out", str(out)])
    printed = capsys.readouterr().out
    assert rc == 0, printed
    results = json.loads((out / "results.json").read_text())
    assert results["bench"] == "rmbench" and results["n"] == 5 and len(results["examples"]) == 45
    # an independent recomputation from the per-comparison scores (official: score_chosen > score_rejected)
    cells = {}
    for ex in results["examples"]:
        row, c, r = ex["id"].split("|")
        domain = rmb.domain_of(row.split(":")[0])
        cells.setdefault(domain, {}).setdefault((int(c[1]), int(r[1])), []).append(
            1.0 if ex["score_chosen"] > ex["score_rejected"] else 0.0)
    for domain, grid in cells.items():
        m = {k: sum(v) / len(v) for k, v in grid.items()}
        hard = (m[0, 1] + m[0, 2] + m[1, 2]) / 3
        normal = (m[0, 0] + m[1, 1] + m[2, 2]) / 3
        easy = (m[1, 0] + m[2, 0] + m[2, 1]) / 3
        got = results["figures"]["domains"][domain]
        assert (got["hard"], got["normal"], got["easy"]) == pytest.approx((hard, normal, easy))
        assert results["sections"][domain] == pytest.approx((hard + normal + easy) / 3)
    assert set(results["sections"]) == {"chat", "math", "code", "safety"} and results["notes"] == []
    assert results["overall"] == pytest.approx(sum(results["sections"].values()) / 4)
    assert "RM-Bench" in printed and "easy" in printed and "hard" in printed
    assert "## RM-Bench (official" in (out / "report.md").read_text()


def test_eval_judgebench_without_data_offline_fails_cleanly(tmp_path, capsys):
    rc = main(["eval", "--bench", "judgebench", "--model", "unused", "--out", str(tmp_path / "o")])
    text = capsys.readouterr().out
    assert rc == 1 and "ScalerLab/JudgeBench" in text and "--data" in text and "Traceback" not in text
