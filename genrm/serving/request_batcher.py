"""One worker thread that owns a judge and batches the requests of many threads (genrm serve).

Callers `submit(kind, items)` from any thread and wait. Each item is first looked up in the
cache of answers by content (genrm.serving.cache, `cache_size` entries, 0: off): a request whose
items are all there is answered at once, in the caller's thread; otherwise its missing items go on
a bounded queue (full: RequestError 503). The worker takes the first waiting request, gathers more
until `batch_size` items or `max_wait_ms` after the first, calls the judge once per kind (`score`:
(prompt, response) items -> `judge.score`; `judge`: PreferencePairs -> `judge.judge`, each shown as
its content alone, cache.content_pair) on the distinct items (identical items in one call are
judged once, and items whose answer reached the cache while they waited are not judged again),
stores the answers in the cache and hands each request its own. When a call raises,
each of its requests is retried alone, so only the requests that fail get the error: 400 for a
ValueError (the judge rejected the input, e.g. longer than max_length), 500 otherwise; nothing
failed is cached. `close()` lets the worker finish every queued request, then stops it.

Stats count what reached the worker: requests (a request the cache answers whole never does),
items, `judged` (distinct items the judge computed), judge calls; the cache counts its own hits.
"""
from __future__ import annotations

import queue
import sys
import threading
import time
from dataclasses import dataclass, field

from genrm.serving.cache import LRU, keyed
from genrm.serving.protocol import RequestError


@dataclass
class Work:
    """One request's items the cache did not hold, waiting for the worker."""

    kind: str  # "score" | "judge"
    items: list  # (key, item the judge is shown): genrm.serving.cache.keyed
    done: threading.Event = field(default_factory=threading.Event)
    result: list | None = None
    error: RequestError | None = None


@dataclass
class Stats:
    requests: int = 0  # answered
    items: int = 0
    judged: int = 0  # distinct items the judge computed
    judge_calls: int = 0
    failed_calls: int = 0
    most_requests_per_call: int = 0


class Batcher:
    def __init__(self, judge, batch_size: int = 32, max_wait_ms: float = 10.0, queue_size: int = 1024,
                 cache_size: int = 4096):
        if batch_size < 1 or queue_size < 1 or max_wait_ms < 0:
            raise ValueError(f"need batch_size >= 1, queue_size >= 1, max_wait_ms >= 0 (got {batch_size}, {queue_size}, "
                             f"{max_wait_ms})")
        self.judge, self.batch_size, self.max_wait = judge, batch_size, max_wait_ms / 1000.0
        self.queue: queue.Queue[Work] = queue.Queue(maxsize=queue_size)
        self.stats, self.cache = Stats(), LRU(cache_size)
        self._closing, self._lock = False, threading.Lock()
        self._thread = threading.Thread(target=self._run, name="genrm-batcher", daemon=True)

    def start(self) -> Batcher:
        self._thread.start()
        return self

    def close(self) -> None:
        """Refuse new requests, finish the queued ones, stop the worker."""
        with self._lock:
            self._closing = True
        if self._thread.is_alive():
            self._thread.join()

    def submit(self, kind: str, items: list) -> list:
        """The judge's outputs for `items`, from the cache or from the worker (blocks until it has them)."""
        shown = [keyed(kind, item) for item in items]
        out = [self.cache.get(key) for key, _ in shown]
        todo = [i for i, value in enumerate(out) if value is None]
        if not todo:
            return out
        work = Work(kind, [shown[i] for i in todo])
        with self._lock:
            if self._closing:
                raise RequestError("the server is shutting down", 503)
            try:
                self.queue.put_nowait(work)
            except queue.Full:
                raise RequestError(f"the queue is full ({self.queue.maxsize} requests waiting); retry later", 503) from None
        work.done.wait()
        if work.error is not None:
            raise work.error
        for i, value in zip(todo, work.result):
            out[i] = value
        return out

    def _run(self) -> None:
        while True:
            batch = self._gather()
            if not batch:
                with self._lock:
                    if self._closing and self.queue.empty():
                        return
                continue
            for kind in ("score", "judge"):
                works = [w for w in batch if w.kind == kind]
                try:
                    if works:
                        self._call(kind, works)
                except Exception as err:  # noqa: BLE001 - a bug here must not leave a request waiting
                    for w in works:
                        if not w.done.is_set():
                            w.error = RequestError(f"internal error: {type(err).__name__}: {err}", 500)
                            w.done.set()

    def _gather(self) -> list[Work]:
        try:
            batch = [self.queue.get(timeout=0.05)]
        except queue.Empty:
            return []
        size, deadline = len(batch[0].items), time.monotonic() + self.max_wait
        while size < self.batch_size and (left := deadline - time.monotonic()) > 0:
            try:
                batch.append(self.queue.get(timeout=left))
            except queue.Empty:
                break
            size += len(batch[-1].items)
        return batch

    def _call(self, kind: str, works: list[Work]) -> None:
        items = dict(item for w in works for item in w.items)  # key -> item: each distinct item once
        # a repeat that waited behind its original's call finds the answer now (not counted as a look-up)
        ready = {key: value for key in items if (value := self.cache.peek(key)) is not None}
        items = {key: item for key, item in items.items() if key not in ready}
        if not items:
            return self._answer(works, ready, 0)
        self.stats.judge_calls += 1
        try:
            if kind == "score":
                out = self.judge.score([p for p, _ in items.values()], [r for _, r in items.values()],
                                       batch_size=self.batch_size)
            else:
                out = self.judge.judge(list(items.values()), batch_size=self.batch_size)
            if len(out) != len(items):
                raise RuntimeError(f"the judge returned {len(out)} results for {len(items)} items")
        except Exception as err:  # noqa: BLE001 - reported to the requests; the worker keeps serving
            self.stats.failed_calls += 1
            if len(works) > 1:
                for w in works:
                    self._call(kind, [w])
                return
            status = 400 if isinstance(err, ValueError) else 500
            if status == 500:  # the server's problem, not the client's: say so where it runs
                print(f"genrm serve: the judge failed on a {kind} request: {type(err).__name__}: {err}", file=sys.stderr)
            works[0].error = RequestError(f"the judge failed on this request: {type(err).__name__}: {err}", status)
            works[0].done.set()
            return
        answers = dict(zip(items, out))
        for key, value in answers.items():
            self.cache.put(key, value)
        self._answer(works, {**ready, **answers}, len(items))

    def _answer(self, works: list[Work], answers: dict, judged: int) -> None:
        self.stats.requests += len(works)
        self.stats.items += sum(len(w.items) for w in works)
        self.stats.judged += judged
        self.stats.most_requests_per_call = max(self.stats.most_requests_per_call, len(works))
        for w in works:
            w.result = [answers[key] for key, _ in w.items]
            w.done.set()
