"""Running each fit of a benchmark in a child process, so that a crash or a time limit costs one row, not the run.

One child serves the fits in turn: it is started once (Python's ``spawn``: a
fresh interpreter, no state shared with the parent), receives the run's data
once, and is replaced only when a fit kills it (a segfault, the kernel's
out-of-memory killer) or runs past the time limit. Its own thread policy and
peak memory are those of an in-process fit, measured inside it.
"""

import multiprocessing
import signal
import time
from multiprocessing.connection import wait

__all__ = ["ChildProcess", "InProcess"]


def _die_with_parent():
    """Ask Linux to kill this child when its parent dies (a kill -9 of the run must not leave it fitting)."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux: the child ends when its pipe closes
        pass


def _serve(connection):
    """The child's loop: receive the shared data once, then ``(function, args)`` calls until ``None``."""
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops this child
    shared = connection.recv()
    connection.send(("ready", None))
    while True:
        try:
            task = connection.recv()
        except EOFError:  # the parent is gone
            return
        except Exception as error:  # e.g. a class defined in the parent's __main__, which a fresh interpreter lacks
            connection.send(("error", f"the child process could not read the call: {type(error).__name__}: {error}"
                                      " (an estimator must be importable by name; or run the fits in process)"))
            continue
        if task is None:
            return
        function, args = task
        try:
            reply = ("ok", function(shared, *args))
        except Exception as error:  # the caller's row says what went wrong
            reply = ("error", f"{type(error).__name__}: {error}")  # as _run._fit_record words a failed fit
        connection.send(reply)


def _signal_text(code):
    try:
        name = signal.Signals(code).name
    except ValueError:
        return f"signal {code}"
    hint = " (the out-of-memory killer, or kill -9)" if code == signal.SIGKILL else ""
    return f"signal {code} ({name}){hint}"


class InProcess:
    """Calls in this process: the debugging path (``--in-process``), and a run of one fit."""

    def __init__(self, shared):
        self._shared = shared

    def call(self, function, *args, timeout=None):
        """``(function(shared, *args), None)``; an exception propagates."""
        return function(self._shared, *args), None

    def close(self):
        pass


class ChildProcess:
    """Calls in a child process that a crash or a time limit ends without ending the caller.

    Parameters
    ----------
    shared : object
        Picklable data sent to each child once, passed first to every call.
    """

    def __init__(self, shared):
        self._shared = shared
        self._process = self._connection = None

    def _start(self):
        context = multiprocessing.get_context("spawn")  # a fresh interpreter: no inherited threads or CUDA state
        self._connection, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child,), name="skcross-fit", daemon=True)
        self._process.start()
        child.close()
        try:
            self._connection.send(self._shared)
            self._connection.recv()  # "ready": the child's imports are not counted in the first call's time
        except (EOFError, OSError):
            self._process.join()
            raise RuntimeError(f"the child process for the fits exited on start ({_exit_text(self._process)})") from None

    def call(self, function, *args, timeout=None):
        """``(value, None)``, or ``(None, why)`` when the child died, timed out or the call raised.

        ``function`` must be importable by name (a module's function: the
        child is a fresh interpreter). ``why`` reads, e.g., ``"killed by
        signal 11 (SIGSEGV) after 412 s"`` or ``"stopped at the time limit of
        60 s"``; the next call starts a new child.
        """
        if self._process is None:
            self._start()
        start = time.monotonic()
        try:
            self._connection.send((function, args))
        except OSError:  # the child died between calls
            return None, self._lost(start)
        ready = wait([self._connection, self._process.sentinel], timeout)
        if self._connection in ready:
            try:
                status, value = self._connection.recv()
            except (EOFError, OSError):
                return None, self._lost(start)
            return (value, None) if status == "ok" else (None, value)
        if not ready:  # the time limit
            self.close(kill=True)
            return None, f"stopped at the time limit of {timeout:g} s"
        return None, self._lost(start)

    def _lost(self, start):
        self._process.join()
        text = f"{_exit_text(self._process)} after {time.monotonic() - start:.0f} s"
        self.close(kill=True)
        return text

    def close(self, kill=False):
        """End the child: ask it to finish (``kill=False``) or kill it at once."""
        if self._process is None:
            return
        if not kill and self._process.is_alive():
            try:
                self._connection.send(None)
            except OSError:
                pass
            self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._connection.close()
        self._process = self._connection = None


def _exit_text(process):
    code = process.exitcode
    return f"killed by {_signal_text(-code)}" if code is not None and code < 0 else f"exited with status {code}"
