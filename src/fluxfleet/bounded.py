"""Run in-process work that a repository controls (policy engines) with a time and memory bound.

Rego and CEL from a pull request are evaluated by libraries inside fluxfleet's own process, where a
policy that builds a huge set or nests comprehensions without end would take the CI runner's
memory or hang the run. :func:`call` runs such work in a forked child with an address-space and
CPU-time limit and a wall-clock deadline, and returns its (pickled) result; past a limit it raises
:class:`LimitExceeded`. The child shares the parent's loaded engines, so nothing is compiled twice.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import pickle
import resource
import select
import signal
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

MEMORY_BUDGET = 2 * 1024**3  # on top of what the process has mapped already
TIMEOUT = 60.0


class LimitExceeded(Exception):
    """The work ran out of time or memory (the message says which, when known)."""


def _mapped_bytes() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def call(work: Callable[[], T], *, timeout: float | None = None, memory: int | None = None) -> T:
    """``work()`` in a child process bounded by ``timeout`` seconds and ``memory`` more bytes
    (default :data:`TIMEOUT` and :data:`MEMORY_BUDGET`)."""
    timeout = TIMEOUT if timeout is None else timeout
    memory = MEMORY_BUDGET if memory is None else memory
    if not hasattr(os, "fork"):  # pragma: no cover - not on Linux/macOS: unbounded
        return work()
    limit = _mapped_bytes() + memory
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: compute, send, leave without running the parent's cleanup
        try:
            os.close(read_end)
            # a native engine aborting on a failed allocation is an expected end here, not a crash
            # to dump a traceback for (pytest turns faulthandler on)
            faulthandler.disable()
            if limit > memory:
                resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
            cpu = int(timeout) + 1
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
            try:
                payload = pickle.dumps((True, work()))
            except MemoryError:
                payload = pickle.dumps((False, LimitExceeded("it ran out of memory")))
            except Exception as exc:  # the caller's own errors travel back to it
                try:
                    payload = pickle.dumps((False, exc))
                except Exception:
                    payload = pickle.dumps((False, RuntimeError(repr(exc))))
            with os.fdopen(write_end, "wb") as fh:
                fh.write(payload)
        finally:
            os._exit(0)
    os.close(write_end)
    data = bytearray()
    deadline = time.monotonic() + timeout
    try:
        with os.fdopen(read_end, "rb", buffering=0) as fh:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise LimitExceeded(f"it did not finish within {timeout:.0f}s")
                ready, _, _ = select.select([fh], [], [], left)
                if not ready:
                    continue
                chunk = fh.read(1 << 20)
                if not chunk:
                    break
                data += chunk
    finally:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.waitpid(pid, 0)
    if not data:
        raise LimitExceeded("it ran out of memory or CPU time")
    ok, value = pickle.loads(bytes(data))
    if not ok:
        raise value
    result: T = value
    return result
