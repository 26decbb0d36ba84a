"""The explorer's model worker: one thread runs all model work, behind a bounded queue.

The event loop only parses requests and answers cheap ones (/api/info, /api/map), so the
page stays responsive while images are decoded and scored. One thread, not several:
torch calls on one model are serialized, so a seed gives the same image however many
requests arrive together. When `limit` requests are already admitted (running or
waiting), the next is refused at once with `ExplorerBusy` rather than queued without end.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

from genlab.errors import GenlabError


class ExplorerBusy(GenlabError):
    """Too many model requests are waiting; the client should retry (HTTP 503)."""


class ModelWorker:
    def __init__(self, limit: int = 8):
        if limit < 1:
            raise GenlabError(f"the explorer's queue must admit at least 1 request (got {limit})")
        self.limit = limit
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="genlab-explorer")
        self._lock = threading.Lock()
        self._admitted = 0

    @property
    def admitted(self) -> int:
        """Requests running or waiting now."""
        return self._admitted

    async def run(self, function, *args):
        """`function(*args)` on the worker thread; raises ExplorerBusy when the queue is full."""
        with self._lock:
            if self._admitted >= self.limit:
                raise ExplorerBusy(f"the explorer is busy ({self._admitted} requests in progress); retry in a moment")
            self._admitted += 1
        try:
            job = self._executor.submit(function, *args)
        except BaseException:
            self._release()
            raise
        # freed when the job ends, not when the client goes: a job still running holds its place;
        # one still waiting is cancelled with the request (wrap_future cancels it) and frees it at once
        job.add_done_callback(lambda _: self._release())
        return await asyncio.wrap_future(job)

    def _release(self) -> None:
        with self._lock:
            self._admitted -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
