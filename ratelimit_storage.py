"""The in-process rate-limit store (`memory://`) without a thread per hit.

limits' MemoryStorage drops expired keys from a `threading.Timer` that it starts again on nearly every
hit, since each sweep ends within 10 ms: under load that is a new OS thread per SCIM request, about a
tenth of a request's CPU. Expired counters are already ignored when read, so the sweep only bounds
memory; once a second is as good for that. Defining this class registers it for the `memory` scheme,
so `RATELIMIT_STORAGE_URI=memory://` keeps meaning the same counts, kept more cheaply.
"""

from __future__ import annotations

import threading
import time

from limits.storage import MemoryStorage

SWEEP_EVERY = 1.0  # seconds between sweeps of expired keys


class SweptMemoryStorage(MemoryStorage):
    """MemoryStorage whose expiry sweep runs at most once a second."""

    STORAGE_SCHEME = ["memory"]  # noqa: RUF012 - the registry reads this class attribute

    def _MemoryStorage__schedule_expiry(self) -> None:  # noqa: N802 - overrides the parent's private method
        now = time.monotonic()
        if now < getattr(self, "_next_sweep", 0.0):
            return
        self._next_sweep = now + SWEEP_EVERY
        if not self.timer.is_alive():
            # MemoryStorage's private __expire_events; mypy does not model name mangling, so it sees no such attribute.
            expire = self._MemoryStorage__expire_events  # type: ignore[attr-defined]
            self.timer = threading.Timer(0.01, expire)
            self.timer.daemon = True
            self.timer.start()
