"""Estimators whose fit never returns normally: what the benchmark's child processes must survive.

Importable by name (``tests/`` is on ``sys.path``), so a child process can rebuild them.
"""

import os
import signal
import time

from skcross.linear import CCA


class SegfaultingCCA(CCA):
    """A fit that kills its own process with SIGSEGV, as a crashing C extension does."""

    def fit(self, X, y=None):
        os.kill(os.getpid(), signal.SIGSEGV)
        time.sleep(60)  # pragma: no cover - the signal ends the process first


class SleepingCCA(CCA):
    """A fit that runs for ten minutes: past any time limit a test sets."""

    def fit(self, X, y=None):
        time.sleep(600)
        return super().fit(X, y)  # pragma: no cover
