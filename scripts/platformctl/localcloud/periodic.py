"""A background thread that calls one function at a fixed rate until stopped (the local cloud's samplers)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)


class Periodic:
    """Calls ``work`` every ``interval`` seconds in a daemon thread named ``name``.

    A fixed rate, not a fixed pause: a slow call does not push every later one back (a local alarm period
    must not be left without data), and after a call longer than the interval the next one runs at once
    rather than several in a burst. An exception in one call is logged and the next call still runs.
    """

    def __init__(self, name: str, interval: float, work: Callable[[], None]) -> None:
        self.name, self.interval, self.work = name, interval, work
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def stopping(self) -> bool:
        """True once ``stop`` was called: long work checks it to end early."""
        return self._stop.is_set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True, name=self.name)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        due = time.monotonic()
        while True:
            due += self.interval
            if self._stop.wait(max(0.0, due - time.monotonic())):
                return
            try:
                self.work()
            except Exception:  # one failed call must not end the thread
                logger.exception("%s: a periodic call failed", self.name)
            due = max(due, time.monotonic() - self.interval)
