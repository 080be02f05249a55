"""The local cloud's periodic worker: keeps calling after a failed call, stops when told."""

from __future__ import annotations

import threading

from platformctl.localcloud.periodic import Periodic


def test_a_failed_call_does_not_end_the_worker_and_stop_ends_it() -> None:
    calls: list[int] = []
    third = threading.Event()

    def work() -> None:
        calls.append(len(calls))
        if len(calls) == 3:
            third.set()
        if len(calls) == 1:
            raise RuntimeError("first call fails")

    worker = Periodic("test-periodic", 0.01, work)
    worker.start()
    assert third.wait(timeout=10), "the worker stopped calling after the failed call"
    worker.stop()
    assert worker.stopping
    stopped_at = len(calls)
    assert not any(t.name == "test-periodic" for t in threading.enumerate())
    assert len(calls) == stopped_at
