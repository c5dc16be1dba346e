"""Micro-batching: questions asked at the same time share one model call.

A small BERT forward pass on a CPU costs much the same for one input as for several (its time
goes to per-call work: Python dispatch of every layer, int8 quantization of activations), and
under threads those per-call costs hold the GIL. So when several asks are in flight, the first to
reach a model call waits a moment (``max_wait``) for the others, then one call serves them all.
An ask alone never waits. Hand-written: the serving libraries that batch (TorchServe, Triton,
Ray Serve) are servers of their own, not a function to wrap inside our process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class _Request(Generic[T, R]):
    item: T
    done: threading.Event = field(default_factory=threading.Event)
    result: R | None = None
    error: BaseException | None = None


class MicroBatcher(Generic[T, R]):
    """Calls ``fn(items) -> results`` (one result per item, in order) for items submitted from
    several threads together. ``in_flight`` says how many callers may come (the asks running);
    a leader waits at most ``max_wait`` seconds, and not at all when it is the only one.

    :param fn: the batched call (e.g. embed several questions, read several questions' sentences).
    :param max_items: the most items in one call.
    :param max_wait: how long the first caller waits for the others, in seconds.
    """

    def __init__(self, fn: Callable[[list[T]], list[R]], max_items: int = 16,
                 max_wait: float = 0.004) -> None:
        self.fn = fn
        self.max_items = max_items
        self.max_wait = max_wait
        self._cond = threading.Condition()
        self._pending: list[_Request[T, R]] = []
        self._leading = False
        self.in_flight = 0  # callers that may submit soon (maintained by ``active``)
        self.calls = 0  # model calls made, and items served (for the benchmark's figures)
        self.items = 0

    def active(self) -> _Active:
        """``with batcher.active():`` around a whole ask, so leaders know whom to wait for."""
        return _Active(self)

    def __call__(self, item: T) -> R:
        req: _Request[T, R] = _Request(item)
        with self._cond:
            self._pending.append(req)
            self._cond.notify_all()
            if self._leading:  # a leader is gathering: it takes this item, or the next one will
                lead = False
            else:
                self._leading = lead = True
        if lead:
            self._lead()
        req.done.wait()
        if req.error is not None:
            raise req.error
        return req.result  # type: ignore[return-value]

    def _lead(self) -> None:
        deadline = time.monotonic() + self.max_wait
        with self._cond:
            while (len(self._pending) < min(self.max_items, max(self.in_flight, 1))
                   and (left := deadline - time.monotonic()) > 0):
                self._cond.wait(left)
            batch, self._pending = self._pending[: self.max_items], self._pending[self.max_items :]
            # the rest (over max_items) get a leader of their own
            self._leading = bool(self._pending)
            nxt = self._pending[0] if self._pending else None
        if nxt is not None:
            threading.Thread(target=self._lead, daemon=True).start()
        try:
            results = self.fn([r.item for r in batch])
            for r, res in zip(batch, results, strict=True):
                r.result = res
        except BaseException as exc:  # every caller of the batch sees the failure
            for r in batch:
                r.error = exc
        finally:
            self.calls += 1
            self.items += len(batch)
            for r in batch:
                r.done.set()


class _Active:
    def __init__(self, batcher: MicroBatcher) -> None:
        self.batcher = batcher

    def __enter__(self) -> None:
        with self.batcher._cond:
            self.batcher.in_flight += 1

    def __exit__(self, *exc: object) -> None:
        with self.batcher._cond:
            self.batcher.in_flight -= 1
            self.batcher._cond.notify_all()
