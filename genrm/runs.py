"""Run directories: resolved config, atomic writes, and a ledger of finished steps for resume.

Every file is written to a temporary name and renamed into place, so a run killed at any moment
leaves either the old file or the new one, never half of one. Step-wise work records each finished
step in `ledger.json`; a resumed run skips those. Long per-row outputs (judgments, samples, ranked
candidates) go to a `Journal`: keyed JSON lines appended durably, so a rerun continues where a
killed one stopped and never writes a key twice; `read_jsonl` drops a torn last line.
"""
from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Hashable, Iterable
from pathlib import Path
from typing import Any

import yaml


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")


def read_jsonl(path: str | Path) -> list[dict]:
    """Rows of a JSON-lines file; a torn (unterminated) last line from a killed writer is dropped."""
    path = Path(path)
    if not path.exists():
        return []
    rows = []
    for line in path.read_bytes().split(b"\n"):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            break  # only a torn final line can be malformed: this file is written by JsonlWriter alone
    return rows


class JsonlWriter:
    """Append rows to a JSON-lines file, durably. On open, a torn last line is cut off."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            data = self.path.read_bytes()
            keep = data.rfind(b"\n") + 1
            if keep != len(data):
                with open(self.path, "r+b") as f:
                    f.truncate(keep)
        self._f = open(self.path, "ab")  # noqa: SIM115  (held open across writes; closed by close())

    def write(self, rows: Iterable[dict]) -> None:
        self._f.write(b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in rows))
        self._f.flush()
        os.fsync(self._f.fileno())

    def close(self) -> None:
        self._f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class JournalMismatch(ValueError):
    """A journal on disk records other work (another judge, model or setting) than this run's."""


class Journal:
    """Keyed rows in a JSON-lines file, appended durably (each `append` is fsynced).

    Opening reads the rows already there (first occurrence of a key wins; a torn last line is
    dropped); `append` writes only rows whose key is new. With `header`, the file's first line is
    `{"header": header}` and a file holding another header raises JournalMismatch, so the work of
    two different runs is never mixed. `writable=False` (the non-main processes of a launch) keeps
    rows in memory only.
    """

    def __init__(self, path: str | Path, key: Callable[[dict], Hashable], header: dict | None = None,
                 writable: bool = True):
        if header is not None:
            header = json.loads(json.dumps(header, default=str))  # tuples -> lists, as they read back
        self.path, self.key, self.header, self.writable = Path(path), key, header, writable
        rows = read_jsonl(self.path)
        if header is not None and rows:
            if rows[0] != {"header": header}:
                raise JournalMismatch(f"{self.path} holds the work of another run ({rows[0].get('header', rows[0])}); "
                                      "use another output directory or delete the file to start over")
            rows = rows[1:]
        self.rows: dict = {}
        for row in rows:
            self.rows.setdefault(key(row), row)
        self._writer: JsonlWriter | None = None

    def __contains__(self, key) -> bool:
        return key in self.rows

    def __getitem__(self, key) -> dict:
        return self.rows[key]

    def __len__(self) -> int:
        return len(self.rows)

    def values(self) -> list[dict]:
        return list(self.rows.values())

    def append(self, rows: Iterable[dict]) -> list[dict]:
        """Record `rows` (those with a new key); returns the rows recorded."""
        new = []
        for row in rows:
            k = self.key(row)
            if k not in self.rows:
                self.rows[k] = row
                new.append(row)
        if new and self.writable:
            if self._writer is None:
                fresh = not self.path.exists() or not self.path.stat().st_size
                self._writer = JsonlWriter(self.path)
                if fresh and self.header is not None:
                    self._writer.write([{"header": self.header}])
            self._writer.write(new)
        return new

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class RunDir:
    """A run directory: `config.yaml` (resolved), `ledger.json` (finished steps) and outputs."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    # config
    def save_config(self, config: dict) -> None:
        atomic_write_text(self.path / "config.yaml", yaml.safe_dump(config, sort_keys=False))

    def load_config(self) -> dict:
        path = self.path / "config.yaml"
        if not path.exists():
            raise FileNotFoundError(f"{self.path} has no config.yaml: not a genrm run directory")
        return yaml.safe_load(path.read_text()) or {}

    # ledger of finished steps
    def ledger(self) -> dict:
        path = self.path / "ledger.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def is_done(self, step: str) -> bool:
        return step in self.ledger()

    def mark_done(self, step: str, info: Any = True) -> None:
        ledger = self.ledger()
        ledger[step] = info
        atomic_write_json(self.path / "ledger.json", ledger)

    def result(self, step: str) -> Any:
        return self.ledger().get(step)
