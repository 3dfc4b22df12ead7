"""Judge answers kept by content, so that a repeated request costs no judge call (genrm serve).

`keyed(kind, item)` gives an item's key and the item the judge is shown. The key is the sha256 of
the canonical JSON (sorted keys) of the kind and the item's content: a `score` item's (prompt
messages, response), a `judge` item's (prompt, chosen, rejected), never its id, subset or source.
A judge item is shown to the judge as that content alone (`content_pair`: id = the key, subset and
source "serve"), so every value of its judgment, the seeded order of a one-order judge included,
depends on the content only: the same content gets the same judgment whatever its id, its place in
a request or the route it came by (/judge pairs, /group_reward matches), and a cached judgment is
the one the judge would compute again (CoT samples are seeded by prompt and sample index: cot.py).

`LRU(capacity)`: a thread-safe least-recently-used map of at most `capacity` entries (0: stores
nothing, every look-up misses uncounted); `get` counts hits and misses, `put` evictions beyond the
capacity; `peek` reads without counting (the worker's second look just before a judge call). Its values are shared by every request that reads them (the server only reads them).
A CoT judgment holds its rationales, so an entry weighs about votes x orders x max_new_tokens tokens.
"""
from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict

from genrm.types import PreferencePair


def content_key(kind: str, content: list) -> str:
    return hashlib.sha256(json.dumps([kind, *content], sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def content_pair(pair: PreferencePair) -> PreferencePair:
    """The pair as the server's judge sees it: its content, with the content's key as id."""
    key = content_key("judge", [pair.prompt, pair.chosen, pair.rejected])
    return PreferencePair(id=key, prompt=pair.prompt, chosen=pair.chosen, rejected=pair.rejected, subset="serve",
                          source="serve")


def keyed(kind: str, item) -> tuple[str, object]:
    """(key, the item the judge is shown) of a `score` item (prompt, response) or a `judge` PreferencePair."""
    if kind == "judge":
        pair = content_pair(item)
        return pair.id, pair
    return content_key(kind, list(item)), item


class LRU:
    def __init__(self, capacity: int):
        if capacity < 0:
            raise ValueError(f"cache capacity must be at least 0 (0: off), not {capacity}")
        self.capacity = capacity
        self.hits = self.misses = self.evictions = 0
        self._entries: OrderedDict[str, object] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str):
        """The value stored under `key` (now the most recently used), else None."""
        if not self.capacity:
            return None
        with self._lock:
            if key not in self._entries:
                self.misses += 1
                return None
            self.hits += 1
            self._entries.move_to_end(key)
            return self._entries[key]

    def peek(self, key: str):
        """The value stored under `key`, else None; not counted as a look-up."""
        with self._lock:
            return self._entries.get(key)

    def put(self, key: str, value) -> None:
        if not self.capacity:
            return
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
                self.evictions += 1

    def stats(self) -> dict:
        with self._lock:
            looked_up = self.hits + self.misses
            return {"capacity": self.capacity, "size": len(self._entries), "hits": self.hits, "misses": self.misses,
                    "evictions": self.evictions, "hit_rate": self.hits / looked_up if looked_up else None}
