"""Run requests in real threads released at once, as gunicorn workers would send them to one database."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

SWITCH_INTERVAL = 0.0001  # seconds


def run_together(jobs: list[Callable[[], T]], timeout: float = 60) -> list[T]:
    """Run each job in its own thread, all started by one barrier; return their results in order.

    A job's exception is re-raised here, so a 500 or a deadlock fails the test instead of passing silently.
    """
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)
    errors: list[BaseException] = []

    def worker(index: int, job: Callable[[], T]) -> None:
        barrier.wait()
        try:
            results[index] = job()
        except BaseException as error:  # noqa: BLE001 - re-raised in the calling thread below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(i, job)) for i, job in enumerate(jobs)]
    # Workers of a real server run side by side; threads take turns on the GIL, by default every 5 ms, long
    # enough for a whole request on a fast database. Switching often interleaves them as the workers would.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL)
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=timeout)
    finally:
        sys.setswitchinterval(interval)
    assert not any(t.is_alive() for t in threads), "a request never finished"
    if errors:
        raise errors[0]
    return results
