"""An asyncio event loop in its own thread: asyncua is asyncio, the station is threads.

The station calls in only through :meth:`LoopThread.call_soon` (never blocks: result and event listeners run
on the station's signal thread) and :meth:`LoopThread.run` at start/stop (blocks the caller, with a timeout).

The loop beats every ``BEAT_S``; :meth:`LoopThread.watch` hands the station's supervisor a ``Watch`` that sees
the thread die or the loop stop turning (a coroutine that blocks it), like any of the station's own workers.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from inspect_app.workers import Watch

log = logging.getLogger(__name__)
T = TypeVar("T")
BEAT_S = 0.1


class LoopThread:
    def __init__(self, name: str) -> None:
        self.name = name
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._started = False
        self._stopped = False  # stopped on purpose: not a death the supervisor should report
        self._last_beat = time.monotonic()

    def _beat(self) -> None:
        self._last_beat = time.monotonic()
        self.loop.call_later(BEAT_S, self._beat)

    def watch(self) -> Watch:
        """For the station's supervisor: alive while running, stuck when the loop has not turned."""

        def stuck_for(now: float) -> tuple[float, str | None]:
            late = now - self._last_beat
            return (late, None) if late > 2 * BEAT_S and not self._stopped else (0.0, None)

        return Watch(self.name, lambda: self._stopped or self._thread.is_alive(), stuck_for)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self._last_beat = time.monotonic()
        self.loop.call_soon(self._beat)
        self.loop.run_forever()
        # cancel what is left so its finally blocks run before the loop closes
        pending = [t for t in asyncio.all_tasks(self.loop) if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()

    def start(self) -> None:
        self._thread.start()
        self._started = True

    def run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        """Run ``coro`` on the loop and wait for it (from any thread but the loop's own). Raises
        TimeoutError, also when the loop is no longer running (it died: nothing would ever run it)."""
        if self.loop.is_closed() or not self._thread.is_alive():
            coro.close()
            raise TimeoutError(f"{self.name}: the event loop is not running")
        fut = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return fut.result(timeout)
        except concurrent.futures.TimeoutError:
            fut.cancel()
            raise TimeoutError(f"{self.name}: no answer within {timeout:g}s") from None

    def call_soon(self, fn: Callable[..., object], *args: object) -> None:
        """Thread-safe and non-blocking; silently nothing once the loop is closed (the link is stopping)."""
        try:
            self.loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:
            log.debug("%s: loop closed, call dropped", self.name)

    def stop(self, timeout: float = 5.0) -> None:
        self._stopped = True
        if not self._started:
            return
        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout)
