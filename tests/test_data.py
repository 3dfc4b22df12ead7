import json

import pytest

from genrm.cli import main
from genrm.data.pairs import DataError, load_pairs

RB_ROW = {"prompt": "What is 2+2?", "chosen": "4", "rejected": "5", "chosen_model": "m1", "rejected_model": "m2",
          "subset": "math-prm", "id": 7}


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_rewardbench_schema(tmp_path):
    rows = [RB_ROW, dict(RB_ROW, id=8, subset="xstest-should-refuse", chosen="No.", rejected="Sure, here is how.")]
    pairs = load_pairs(write_jsonl(tmp_path / "rb.jsonl", rows))
    assert [p.id for p in pairs] == ["7", "8"]
    p = pairs[0]
    assert p.prompt == [{"role": "user", "content": "What is 2+2?"}]
    assert p.chosen == [{"role": "assistant", "content": "4"}] and p.rejected_text == "5"
    assert p.subset == "math-prm" and p.source.endswith("rb.jsonl:1")


def test_trl_conversational_multi_turn(tmp_path):
    row = {"prompt": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                      {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "2+2?"}],
           "chosen": [{"role": "assistant", "content": "4"}], "rejected": [{"role": "assistant", "content": "22"}]}
    (p,) = load_pairs(write_jsonl(tmp_path / "conv.jsonl", [row]))
    assert len(p.prompt) == 4 and p.prompt[2]["role"] == "assistant" and p.chosen_text == "4"
    assert p.subset == "conv" and p.id == "conv-1"


def test_ultrafeedback_binarized_schema(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    row = {"prompt": "Name a colour.", "prompt_id": "abc",
           "chosen": [{"role": "user", "content": "Name a colour."}, {"role": "assistant", "content": "Red."}],
           "rejected": [{"role": "user", "content": "Name a colour."}, {"role": "assistant", "content": "Dog."}],
           "score_chosen": 8.0, "score_rejected": 2.0}
    d = tmp_path / "uf" / "data"
    d.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist([row]), d / "test_prefs-00000-of-00001.parquet")
    pq.write_table(pa.Table.from_pylist([row, row]), d / "train_prefs-00000-of-00001.parquet")
    (p,) = load_pairs(tmp_path / "uf", split="test_prefs")
    assert p.prompt == [{"role": "user", "content": "Name a colour."}] and p.chosen_text == "Red."
    assert p.id == "abc"
    with pytest.raises(DataError, match="several splits"):
        load_pairs(tmp_path / "uf")


def test_json_csv_and_directory(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps([RB_ROW]))
    (tmp_path / "b.csv").write_text("prompt,chosen,rejected\n\"Say hi\",hi,bye\n")
    pairs = load_pairs(tmp_path)
    assert sorted(p.subset for p in pairs) == ["b", "math-prm"]


def test_hub_unreachable_says_how_to_pass_a_local_copy():
    with pytest.raises(DataError) as e:
        load_pairs("allenai/reward-bench")
    assert "local" in str(e.value) and "--local-dir" in str(e.value) and "filtered" in str(e.value)


BAD = [  # (row or raw line, field named, words in the message)
    ({"prompt": "q", "rejected": "b"}, "chosen", "missing field"),
    ({"prompt": "q", "chosen": None, "rejected": "b"}, "chosen", "null"),
    ({"prompt": "   ", "chosen": "a", "rejected": "b"}, "prompt", "whitespace"),
    ({"prompt": "q", "chosen": 5, "rejected": "b"}, "chosen", "expected a string"),
    ({"prompt": "q", "chosen": "same", "rejected": "same "}, "rejected", "identical"),
    ({"prompt": [{"role": "robot", "content": "q"}], "chosen": "a", "rejected": "b"}, "prompt[0].role", "unknown message role"),
]


@pytest.mark.parametrize("row,field,words", BAD)
def test_bad_rows_are_located(tmp_path, row, field, words):
    path = write_jsonl(tmp_path / "bad.jsonl", [dict(RB_ROW, id=1), dict(RB_ROW, id=2), row])
    with pytest.raises(DataError) as e:
        load_pairs(path)
    assert e.value.row == 3 and e.value.field == field
    assert str(e.value).startswith(f"{path}, row 3, field '{field}'") and words in str(e.value)


def test_malformed_json_line_and_invalid_utf8(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(json.dumps(RB_ROW).encode() + b"\n{\"prompt\": oops}\n")
    with pytest.raises(DataError, match=r"x.jsonl, row 2: malformed JSON"):
        load_pairs(path)
    path.write_bytes(json.dumps(RB_ROW).encode() + b"\n" + json.dumps(dict(RB_ROW, id=8)).encode() + b"\n\xff\xfe\n")
    with pytest.raises(DataError, match=r"x.jsonl, row 3: invalid UTF-8"):
        load_pairs(path)
    bad_json = tmp_path / "y.json"
    bad_json.write_bytes(b'[\n{"prompt": "\xff"}]')
    with pytest.raises(DataError, match=r"y.json, row 2: invalid UTF-8"):
        load_pairs(bad_json)


def test_file_with_no_pairs(tmp_path):
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(DataError, match="empty.jsonl: no preference pairs"):
        load_pairs(tmp_path / "empty.jsonl")


def test_skip_invalid_counts(tmp_path):
    rows = [RB_ROW] + [row for row, _, _ in BAD]
    pairs = load_pairs(write_jsonl(tmp_path / "mix.jsonl", rows), skip_invalid=True)
    assert len(pairs) == 1 and len(pairs.skipped) == len(BAD)
    assert pairs.skip_counts()["identical"] == 1 and pairs.skip_counts()["missing_field"] == 1


def test_cli_validate(tmp_path, capsys):
    good = write_jsonl(tmp_path / "good.jsonl", [dict(RB_ROW, id=1), dict(RB_ROW, id=2), dict(RB_ROW, id=3, subset="hep-go")])
    assert main(["data", "validate", str(good)]) == 0
    out = capsys.readouterr().out
    assert "math-prm" in out and "hep-go" in out and "3 valid pairs" in out
    bad = write_jsonl(tmp_path / "bad.jsonl", [RB_ROW, {"prompt": "q", "chosen": "a"}])
    assert main(["data", "validate", str(bad)]) == 1
    assert "bad.jsonl, row 2, field 'rejected': missing field" in capsys.readouterr().out
    assert main(["data", "validate", str(bad), "--skip-invalid"]) == 1
    out = capsys.readouterr().out
    assert "1 valid pairs" in out and "1 invalid row(s) skipped" in out and "missing_field 1" in out
