"""Ctrl-C that always stops a training run.

Python raises ``KeyboardInterrupt`` wherever the main thread happens to be when SIGINT arrives.
Two places lose it: an exception raised inside ``__del__`` or a weakref callback is printed as
"Exception ignored" and dropped (the run goes on), and some library code catches every exception
and raises another one (mmengine's ``Config.pretty_text``, called while saving a checkpoint,
turns it into a ``SyntaxError`` that prints the whole config). :func:`ctrl_c_stops` records each
SIGINT, so the training loops can raise the lost interrupt at the next iteration
(:func:`check_interrupt`) and the tool can tell an error caused by Ctrl-C from a real one
(:func:`interrupt_pending`).
"""
import signal
import threading
from contextlib import contextmanager
from typing import Iterator

__all__ = ['check_interrupt', 'ctrl_c_stops', 'interrupt_pending']

_pending = False


def _on_sigint(signum, frame) -> None:
    global _pending
    _pending = True
    raise KeyboardInterrupt


def interrupt_pending() -> bool:
    """Whether SIGINT came inside :func:`ctrl_c_stops`."""
    return _pending


def check_interrupt() -> None:
    """Raise ``KeyboardInterrupt`` if SIGINT came inside :func:`ctrl_c_stops`: a loop calls this
    between iterations, so that an interrupt some code swallowed still stops the run."""
    if _pending:
        raise KeyboardInterrupt


@contextmanager
def ctrl_c_stops() -> Iterator[None]:
    """Within the block, SIGINT raises ``KeyboardInterrupt`` as usual and is also recorded for
    :func:`check_interrupt` and :func:`interrupt_pending`. Outside the main thread, or where
    another SIGINT handler than Python's default is installed, the block changes nothing."""
    global _pending
    install = threading.current_thread() is threading.main_thread() and \
        signal.getsignal(signal.SIGINT) is signal.default_int_handler
    if install:
        signal.signal(signal.SIGINT, _on_sigint)
    _pending = False
    try:
        yield
    finally:
        if install:
            signal.signal(signal.SIGINT, signal.default_int_handler)
