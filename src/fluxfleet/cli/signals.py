"""SIGINT and SIGTERM: end every running tool (whole process groups), then unwind normally.

Unwinding runs every ``with`` block on the way out, which removes the scratch folders (kustomize
and helm roots, revision checkouts). Killing the tools first matters: a build pool waits for its
running builds when it closes, and a build may run for minutes.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

from fluxfleet import proc


class Terminated(BaseException):
    """SIGTERM arrived (exit 143). A BaseException, so no ``except Exception`` swallows it."""


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    proc.end_children()
    raise KeyboardInterrupt


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    proc.end_children()
    raise Terminated


@contextlib.contextmanager
def handled() -> Iterator[None]:
    """Install the handlers for one run (main thread only) and restore the previous ones after."""
    proc.allow_children()
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGINT, _on_sigint)
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
