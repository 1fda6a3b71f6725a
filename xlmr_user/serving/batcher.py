"""Dynamic batching: requests wait in one bounded queue; each of ``workers``
threads takes up to ``max_batch_size`` texts, runs the model once on them, and
answers each request.  A worker takes what is queued when it is free (requests
that arrive while the model runs form the next batch) and, with
``max_delay_s`` > 0, waits that long after the oldest request's arrival for
more.  Several workers run batches side by side on one copy of the model
(torch releases the GIL inside its operators): on a small CPU model that uses
the cores better than one batch split across all of them."""
from __future__ import annotations

import asyncio
import collections
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence


class QueueFull(Exception):
    """The queue holds ``max_queue`` texts already: answer 503, try later."""


@dataclass
class _Request:
    items: Sequence
    future: asyncio.Future
    loop: asyncio.AbstractEventLoop
    queued_at: float = field(default_factory=time.monotonic)


class DynamicBatcher:
    def __init__(self, run: Callable[[List], List], max_batch_size: int = 32,
                 max_delay_s: float = 0.0, max_queue: int = 1024,
                 on_batch: Optional[Callable[[int, int], None]] = None, workers: int = 1):
        """``run(items) -> outputs`` (same order), called from ``workers`` threads at
        once; ``on_batch(batch_texts, queued_texts)`` after each batch (metrics)."""
        self.run, self.max_batch_size, self.max_delay_s = run, max_batch_size, max_delay_s
        self.max_queue, self.on_batch = max_queue, on_batch
        self._queue: collections.deque = collections.deque()
        self._queued = 0  # texts waiting
        self._cond = threading.Condition()
        self._stopping = False
        self._threads = [threading.Thread(target=self._work, name=f"xlmr-serve-model-{i}", daemon=True)
                         for i in range(workers)]

    @property
    def queued(self) -> int:
        return self._queued

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        """Answer everything already queued, then end the worker."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for t in self._threads:
            t.join()

    async def submit(self, items: Sequence) -> List:
        loop = asyncio.get_running_loop()
        request = _Request(items, loop.create_future(), loop)
        with self._cond:
            if self._stopping or self._queued + len(items) > self.max_queue:
                raise QueueFull()
            self._queue.append(request)
            self._queued += len(items)
            self._cond.notify()
        return await request.future

    def _take(self) -> List[_Request]:
        """The next batch: the oldest request, then more while they fit."""
        with self._cond:
            while not self._queue:
                if self._stopping:
                    return []
                self._cond.wait()
            batch = [self._queue.popleft()]
            texts = len(batch[0].items)
            deadline = batch[0].queued_at + self.max_delay_s
            while texts < self.max_batch_size:
                if self._queue:
                    if texts + len(self._queue[0].items) > self.max_batch_size:
                        break
                    batch.append(self._queue.popleft())
                    texts += len(batch[-1].items)
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stopping:
                    break
                self._cond.wait(remaining)
            self._queued -= texts
            return batch

    def _work(self) -> None:
        while True:
            batch = self._take()
            if not batch:
                return
            items = [item for r in batch for item in r.items]
            try:
                outputs, error = self.run(items), None
            except Exception as e:  # noqa: BLE001  (answered to the requests of this batch)
                outputs, error = None, e
            start = 0
            for r in batch:
                n = len(r.items)
                if error is None:
                    r.loop.call_soon_threadsafe(_resolve, r.future, outputs[start:start + n], None)
                else:
                    r.loop.call_soon_threadsafe(_resolve, r.future, None, error)
                start += n
            if self.on_batch:
                self.on_batch(len(items), self._queued)


def _resolve(future: asyncio.Future, result, error) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
