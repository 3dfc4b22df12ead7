"""Load preference data from any source into PreferencePair records, with located errors.

Sources: a hub dataset id (through `datasets`), a local .jsonl / .json / .parquet / .csv file, a
directory of them (a hub snapshot's `data/{split}-00000-of-00001.parquet` layout included), or a
`save_to_disk` directory. Formats: RewardBench and TRL standard (plain strings), TRL
conversational (message lists), UltraFeedback binarized (full conversations whose last assistant
turn differs).
"""
from __future__ import annotations

import csv
import json
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from genrm.types import Message, PreferencePair

SUPPORTED = (".jsonl", ".json", ".parquet", ".csv")
ROLES = ("system", "user", "assistant", "tool")
HUB_DEFAULT_SPLITS = {
    "allenai/reward-bench": "filtered",
    "allenai/reward-bench-2": "test",
    "HuggingFaceH4/ultrafeedback_binarized": "test_prefs",
}
_SHARD = re.compile(r"^(?P<split>.+?)-\d{5}-of-\d{5}$")


class DataError(ValueError):
    """A located data problem: file, 1-based row (the line number for JSON lines), field."""

    def __init__(self, path: str, row: int | None, field: str | None, problem: str, kind: str):
        self.path, self.row, self.field, self.problem, self.kind = path, row, field, problem, kind
        where = path if row is None else f"{path}, row {row}"
        if field is not None:
            where += f", field '{field}'"
        super().__init__(f"{where}: {problem}")


class PairList(list):
    """A list of PreferencePair that also remembers what was skipped (`--skip-invalid`)."""

    def __init__(self, pairs=(), skipped: list[DataError] | None = None):
        super().__init__(pairs)
        self.skipped: list[DataError] = skipped or []
        self.first_seen: dict[str, str] = {}  # pair id -> where it was first read (ids are unique across a load)

    def skip_counts(self) -> Counter:
        return Counter(e.kind for e in self.skipped)


def load_pairs(source: str | Path, split: str | None = None, *, skip_invalid: bool = False) -> PairList:
    """Load preference pairs from `source`; raise DataError on the first bad row unless
    `skip_invalid`, in which case bad rows are skipped and listed in `result.skipped`."""
    path = Path(source)
    out = PairList()
    if path.is_dir() and ((path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists()):
        _collect(out, _saved_dataset_rows(path, split), str(path), path.name, skip_invalid)
    else:  # files, each named its default subset (a hub id: its name)
        for where, reader in source_files(source, split):
            try:
                _collect(out, reader, where, Path(where).stem if path.exists() else where.split("/")[-1], skip_invalid)
            except DataError as err:
                if not (skip_invalid and err.kind == "no_pairs" and path.is_dir()):
                    raise
                out.skipped.append(err)
    if not out:
        raise DataError(str(source), None, None, "no preference pairs found", "no_pairs")
    return out


def _collect(out: PairList, rows: Iterator[tuple[int, Any]], where: str, default_subset: str, skip: bool) -> None:
    count = 0
    seen = out.first_seen
    for row_no, row in rows:
        try:
            if isinstance(row, DataError):
                raise row
            pair = row_to_pair(row, where, row_no, default_subset)
            if pair.id in seen:
                raise DataError(where, row_no, "id", f"duplicate id {pair.id!r} (first at {seen[pair.id]}): ids must "
                                "be unique, results are matched by id", "duplicate_id")
            seen[pair.id] = pair.source
            out.append(pair)
            count += 1
        except DataError as err:
            if not skip:
                raise
            out.skipped.append(err)
    if count == 0:
        raise DataError(where, None, None, "no preference pairs found in this file", "no_pairs")


# ---------------------------------------------------------------- reading rows


def source_files(source: str | Path, split: str | None = None, hub_split: str | None = None) -> list[tuple[str, Iterator]]:
    """(where, raw rows) of each file of a local file, a directory of files or a hub dataset id
    (`hub_split` when no split is given): the readers of the benches whose rows are not pairs."""
    path = Path(source)
    if path.is_dir():
        return [(str(f), file_rows(f)) for f in data_files(path, split)]
    if path.is_file():
        if path.suffix not in SUPPORTED:
            raise DataError(str(path), None, None, f"unsupported file type; use one of {', '.join(SUPPORTED)}", "wrong_type")
        return [(str(path), file_rows(path))]
    if re.fullmatch(r"[\w.-]+/[\w.-]+", str(source)) and not str(source).startswith("."):
        return [(str(source), hub_rows(str(source), split or hub_split))]
    raise DataError(str(source), None, None, "no such file or directory (and not a hub dataset id 'owner/name')", "missing_file")


def read_rows(source: str | Path, split: str | None, read_row, id_field: str | None = None,
              hub_split: str | None = None, what: str = "rows") -> list:
    """Every row of `source` (source_files) through `read_row(raw, where, row_no)`, in order. With
    `id_field`, a row whose `.id` was seen before is a DataError naming that field."""
    rows, seen = [], {}
    for where, reader in source_files(source, split, hub_split):
        for row_no, raw in reader:
            row = read_row(raw, where, row_no)
            if id_field is not None:
                if row.id in seen:
                    raise DataError(where, row_no, id_field, f"duplicate {id_field} {row.id!r} (first at {seen[row.id]})",
                                    "duplicate_id")
                seen[row.id] = row.source
            rows.append(row)
    if not rows:
        raise DataError(str(source), None, None, f"no {what} found", "no_pairs")
    return rows


def row_fields(raw: Any, where: str, row_no: int, required: Sequence[str]):
    """The `fail(field, problem, kind="wrong_type")` of a raw row (it raises a DataError naming file,
    row and field), once the row is checked to be an object holding every `required` field."""
    def fail(field, problem, kind="wrong_type"):
        raise DataError(where, row_no, field, problem, kind)

    if isinstance(raw, DataError):
        raise raw
    if not isinstance(raw, dict):
        fail(None, f"expected an object, got {type(raw).__name__}")
    for key in required:
        if raw.get(key) is None:
            fail(key, "missing field", "missing_field")
    return fail


def check_texts(value: Any, key: str, fail, count: int | None = None, names: Sequence[str] = ()) -> None:
    """`value` must be a non-empty list (of exactly `count` items, named `names`, when given) of non-empty strings."""
    if count is not None and (not isinstance(value, list) or len(value) != count):
        named = f" ({', '.join(names)})" if names else ""
        fail(key, f"expected a list of {count} responses{named}, got "
                  + (f"{len(value)}" if isinstance(value, list) else type(value).__name__))
    if not isinstance(value, list) or not value:
        fail(key, f"expected a non-empty list of strings, got {type(value).__name__}")
    for i, text in enumerate(value):
        if not isinstance(text, str) or not text.strip():
            fail(f"{key}[{i}]", "expected a non-empty string", "empty_text")


def data_files(directory: Path, split: str | None) -> list[Path]:
    files = sorted(p for p in directory.rglob("*") if p.suffix in SUPPORTED and p.is_file()
                   and not any(part.startswith(".") for part in p.relative_to(directory).parts))
    if not files:
        raise DataError(str(directory), None, None, f"no {', '.join(SUPPORTED)} files in this directory", "no_pairs")
    split_of = {p: (m["split"] if (m := _SHARD.match(p.stem)) else None) for p in files}
    splits = {s for s in split_of.values() if s}
    if split is not None:
        files = [p for p in files if split in (p.stem, split_of[p])]
        if not files:
            raise DataError(str(directory), None, None, f"no files for split '{split}' (found splits: {sorted(splits)})", "no_pairs")
    elif len(splits) > 1:
        raise DataError(str(directory), None, None, f"this directory holds several splits {sorted(splits)}; pass split=", "wrong_type")
    return files


def file_rows(path: Path) -> Iterator[tuple[int, Any]]:
    if path.suffix == ".jsonl":
        yield from _jsonl_rows(path)
    elif path.suffix == ".json":
        yield from _json_rows(path)
    elif path.suffix == ".csv":
        text = _decode(path.read_bytes(), str(path))
        for i, row in enumerate(csv.DictReader(text.splitlines(keepends=True)), 1):
            yield i, {k: (v if v != "" else None) if k in ("id", "subset") else v for k, v in row.items()}
    else:
        import pyarrow.parquet as pq

        yield from enumerate(pq.read_table(path).to_pylist(), 1)


def _jsonl_rows(path: Path) -> Iterator[tuple[int, Any]]:
    with open(path, "rb") as f:
        for line_no, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                yield line_no, DataError(str(path), line_no, None, f"invalid UTF-8 at byte {e.start} of the line", "invalid_utf8")
                continue
            try:
                yield line_no, json.loads(text)
            except json.JSONDecodeError as e:
                yield line_no, DataError(str(path), line_no, None, f"malformed JSON: {e.msg} (column {e.colno})", "malformed_json")
            except RecursionError:
                yield line_no, DataError(str(path), line_no, None, "JSON nested too deeply to read", "malformed_json")


def _json_rows(path: Path) -> Iterator[tuple[int, Any]]:
    text = _decode(path.read_bytes(), str(path))
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(str(path), e.lineno, None, f"malformed JSON: {e.msg} (line {e.lineno}, column {e.colno})", "malformed_json") from None
    except RecursionError:
        raise DataError(str(path), None, None, "JSON nested too deeply to read", "malformed_json") from None
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) != 1:
            raise DataError(str(path), None, None, "expected a JSON array of rows (or an object holding one)", "wrong_type")
        data = lists[0]
    if not isinstance(data, list):
        raise DataError(str(path), None, None, "expected a JSON array of rows", "wrong_type")
    yield from enumerate(data, 1)


def _decode(raw: bytes, where: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise DataError(where, line, None, f"invalid UTF-8 at byte {e.start} (line {line})", "invalid_utf8") from None


def hub_rows(name: str, split: str | None) -> Iterator[tuple[int, Any]]:
    import datasets

    split = split or HUB_DEFAULT_SPLITS.get(name)
    try:
        ds = datasets.load_dataset(name, split=split)
    except Exception as e:  # noqa: BLE001  (network, auth, missing dataset: all end the same way for the user)
        raise DataError(name, None, None, (
            f"could not load this dataset from the Hugging Face hub ({type(e).__name__}: {str(e)[:300]}). "
            f"Offline? On a connected machine run `huggingface-cli download {name} --repo-type dataset "
            f"--local-dir DIR`, copy DIR here and pass DIR (with split='{split or 'train'}') or one of its "
            ".parquet/.jsonl files instead of the id."), "hub_unreachable") from None
    yield from _dataset_rows(ds, name, split)


def _saved_dataset_rows(path: Path, split: str | None) -> Iterator[tuple[int, Any]]:
    import datasets

    yield from _dataset_rows(datasets.load_from_disk(str(path)), str(path), split)


def _dataset_rows(ds, where: str, split: str | None) -> Iterator[tuple[int, Any]]:
    if hasattr(ds, "keys"):  # a DatasetDict
        if split is None and len(ds) != 1:
            raise DataError(where, None, None, f"several splits {sorted(ds.keys())}; pass split=", "wrong_type")
        ds = ds[split] if split is not None else next(iter(ds.values()))
    yield from enumerate(ds, 1)


# ---------------------------------------------------------------- one row -> one pair


def row_to_pair(row: Any, where: str, row_no: int, default_subset: str) -> PreferencePair:
    """Validate one raw row and turn it into a PreferencePair (DataError names the field)."""

    def fail(field, problem, kind):
        raise DataError(where, row_no, field, problem, kind)

    if not isinstance(row, dict):
        fail(None, f"expected an object with prompt/chosen/rejected, got {type(row).__name__}", "wrong_type")
    for key in ("chosen", "rejected"):
        if key not in row:
            fail(key, "missing field", "missing_field")
    chosen = messages_of(row["chosen"], "chosen", "assistant", fail)
    rejected = messages_of(row["rejected"], "rejected", "assistant", fail)
    if chosen[0]["role"] != "assistant" and rejected[0]["role"] != "assistant":
        # full conversations (UltraFeedback binarized, TRL implicit prompt): split the shared prefix
        k = 0
        while k < min(len(chosen), len(rejected)) and chosen[k] == rejected[k]:
            k += 1
        prompt, chosen, rejected = chosen[:k], chosen[k:], rejected[k:]
        if not prompt:
            fail("chosen", "conversation shares no prompt with 'rejected'", "wrong_type")
    else:
        if "prompt" not in row:
            fail("prompt", "missing field", "missing_field")
        prompt = messages_of(row["prompt"], "prompt", "user", fail)
        for key, msgs in (("chosen", chosen), ("rejected", rejected)):
            if msgs[: len(prompt)] == prompt and len(msgs) > len(prompt):
                msgs[: len(prompt)] = []
    for key, msgs in (("chosen", chosen), ("rejected", rejected)):
        if not msgs:
            fail(key, "no response after the prompt", "empty_text")
        for i, m in enumerate(msgs):
            if m["role"] != "assistant":
                fail(f"{key}[{i}].role", f"expected 'assistant' after the prompt, got '{m['role']}'", "unknown_role")
    if [m["content"].strip() for m in chosen] == [m["content"].strip() for m in rejected]:
        fail("rejected", "identical to 'chosen'", "identical")
    pair_id = row.get("id", row.get("prompt_id"))
    subset = row.get("subset")
    if subset is not None and not isinstance(subset, str):
        fail("subset", f"expected a string, got {type(subset).__name__}", "wrong_type")
    return PreferencePair(
        id=str(pair_id) if pair_id is not None else f"{Path(where).stem}-{row_no}",
        prompt=prompt, chosen=chosen, rejected=rejected,
        subset=subset or default_subset, source=f"{where}:{row_no}",
    )


def messages_of(value: Any, field: str, default_role: str, fail) -> list[Message]:
    if value is None:
        fail(field, "null value", "null_field")
    plain = isinstance(value, str)
    if plain:
        value = [{"role": default_role, "content": value}]
    elif not isinstance(value, list):
        fail(field, f"expected a string or a list of messages, got {type(value).__name__}", "wrong_type")
    elif not value:
        fail(field, "empty message list", "empty_text")
    out = []
    for i, m in enumerate(value):
        if not isinstance(m, dict):
            fail(f"{field}[{i}]", f"expected a message object, got {type(m).__name__}", "wrong_type")
        role, content = m.get("role"), m.get("content")
        if role not in ROLES:
            fail(f"{field}[{i}].role", f"unknown message role {role!r} (expected one of {', '.join(ROLES)})", "unknown_role")
        where = field if plain else f"{field}[{i}].content"
        if content is None:
            fail(where, "null value", "null_field")
        if not isinstance(content, str):
            fail(where, f"expected a string, got {type(content).__name__}", "wrong_type")
        if not content.strip():
            fail(where, "empty or whitespace-only text", "empty_text")
        if "\x00" in content:
            fail(where, f"NUL character at position {content.index(chr(0))}", "nul_char")
        out.append({"role": role, "content": content})
    return out
