from genrm.runs import JsonlWriter, RunDir, atomic_write_json, read_jsonl


def test_ledger_and_config(tmp_path):
    run = RunDir(tmp_path / "run")
    run.save_config({"method": "dpo", "lr": 1e-6})
    assert run.load_config() == {"method": "dpo", "lr": 1e-6}
    assert not run.is_done("sample-0")
    run.mark_done("sample-0", {"n": 3})
    assert RunDir(tmp_path / "run").result("sample-0") == {"n": 3}
    assert not list((tmp_path / "run").glob(".*"))  # no temporary files left behind


def test_torn_jsonl_line_is_dropped_and_cut(tmp_path):
    path = tmp_path / "s.jsonl"
    with JsonlWriter(path) as w:
        w.write([{"i": 0}, {"i": 1}])
    with open(path, "ab") as f:
        f.write(b'{"i": 2, "te')  # a writer killed mid-line
    assert read_jsonl(path) == [{"i": 0}, {"i": 1}]
    with JsonlWriter(path) as w:
        w.write([{"i": 2}])
    assert read_jsonl(path) == [{"i": 0}, {"i": 1}, {"i": 2}]


def test_atomic_json(tmp_path):
    atomic_write_json(tmp_path / "a" / "m.json", {"x": 1})
    assert (tmp_path / "a" / "m.json").read_text().strip().startswith("{")


def test_journal_appends_new_keys_once_and_checks_its_header(tmp_path):
    import pytest

    from genrm.runs import Journal, JournalMismatch

    path = tmp_path / "j.jsonl"
    with Journal(path, key=lambda r: r["k"], header={"judge": ("bt", 1)}) as j:
        assert j.append([{"k": 1, "v": "a"}, {"k": 2, "v": "b"}, {"k": 1, "v": "again"}]) == [{"k": 1, "v": "a"}, {"k": 2, "v": "b"}]
    with open(path, "ab") as f:
        f.write(b'{"k": 3, "v"')  # killed mid-line
    j = Journal(path, key=lambda r: r["k"], header={"judge": ["bt", 1]})  # tuples and lists read back alike
    assert len(j) == 2 and 2 in j and j[1]["v"] == "a" and 3 not in j
    j.append([{"k": 3, "v": "c"}, {"k": 2, "v": "x"}])
    j.close()
    assert read_jsonl(path) == [{"header": {"judge": ["bt", 1]}}, {"k": 1, "v": "a"}, {"k": 2, "v": "b"}, {"k": 3, "v": "c"}]
    with pytest.raises(JournalMismatch, match="another run"):
        Journal(path, key=lambda r: r["k"], header={"judge": ["cot", 1]})
    memory = Journal(tmp_path / "other.jsonl", key=lambda r: r["k"], writable=False)
    memory.append([{"k": 1}])
    assert 1 in memory and not (tmp_path / "other.jsonl").exists()
