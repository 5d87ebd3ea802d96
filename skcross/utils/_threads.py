"""How many intra-op threads a torch fit uses on the CPU.

torch's OpenMP threads spin while they wait for each other. When another process
holds one of the cores, a spinning thread waits for a thread that is not scheduled
and a 2-thread fit runs about twice as slowly as a 1-thread one (issue 34's table).
So a fit takes as many threads as there are cores nobody else keeps busy: within
the CPUs this process may use (affinity, cgroup quota) and within any limit already
set (``OMP_NUM_THREADS``, ``threadpoolctl``, joblib's worker limits,
``torch.set_num_threads``), all of which torch's current thread count reflects.
Other processes' load is the number of their threads that want a CPU at the
moment (``/proc/loadavg``'s running count minus this process's running
threads), not an average over the past, so a fit does not inherit a load that
has gone; without ``/proc`` it counts as none.
"""

import math
import os
import time

import numpy as np

__all__ = ["usable_cpus", "busy_cpus_of_others", "fit_threads", "ThreadPolicy"]

_REVISE_EVERY = 0.5  # s between two readings of the load during a fit


def _read(path):
    """A small file's text, the file closed again (a bare open().read() leaves it to the garbage collector)."""
    with open(path) as f:
        return f.read()


def _cgroup_cpu_quota():
    """CPUs allowed by the cgroup's quota (v2 ``cpu.max`` or v1 ``cfs_quota_us``), or None when unlimited."""
    try:
        quota, period = _read("/sys/fs/cgroup/cpu.max").split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota = int(_read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"))
        period = int(_read("/sys/fs/cgroup/cpu/cpu.cfs_period_us"))
        return quota / period if quota > 0 and period > 0 else None
    except (OSError, ValueError):
        return None


def usable_cpus():
    """CPUs this process may run on: its affinity mask, capped by the cgroup's CPU quota.

    Returns
    -------
    n_cpus : int
        At least 1.

    Examples
    --------
    >>> from skcross.utils._threads import usable_cpus
    >>> usable_cpus() >= 1
    True
    """
    try:
        n_cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        n_cpus = os.cpu_count() or 1
    quota = _cgroup_cpu_quota()
    if quota is not None:
        n_cpus = min(n_cpus, max(1, math.ceil(quota)))
    return max(1, n_cpus)


def _own_running_threads():
    """Threads of this process in the running state (R), from /proc/self/task; None without /proc."""
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return None
    running = 0
    for task in tasks:
        try:
            with open(f"/proc/self/task/{task}/stat") as stat:
                running += stat.read().rsplit(")", 1)[1].split()[0] == "R"
        except (OSError, IndexError):
            continue  # the thread ended meanwhile
    return running


def busy_cpus_of_others(samples=5, interval=0.002):
    """Threads of other processes that want a CPU now: the machine's runnable count minus ours (median of samples).

    Read from ``/proc/loadavg``'s running-entities field and this process's
    thread states, a few milliseconds apart; 0 where ``/proc`` is missing.
    """
    counts = []
    for i in range(samples):
        try:
            with open("/proc/loadavg") as loadavg:
                runnable = int(loadavg.read().split()[3].split("/")[0])
        except (OSError, ValueError, IndexError):
            return 0.0
        own = _own_running_threads()
        if own is None:
            return 0.0
        counts.append(max(0, runnable - own))
        if i + 1 < samples:
            time.sleep(interval)
    return float(np.median(counts))


def fit_threads(ceiling, others):
    """Threads for a fit: the usable CPUs that others leave free, within ``ceiling``, at least 1.

    Parameters
    ----------
    ceiling : int
        The limit already in force (torch's current intra-op thread count).
    others : float
        CPUs other processes keep busy (:func:`busy_cpus_of_others`).

    Returns
    -------
    n_threads : int

    Examples
    --------
    >>> from skcross.utils._threads import fit_threads
    >>> fit_threads(2, 0.02) >= 1, fit_threads(1, 0.0)
    (True, 1)
    """
    free = usable_cpus() - others
    return max(1, min(int(ceiling), int(math.floor(free + 0.5))))


class ThreadPolicy:
    """Sets torch's intra-op threads for a fit and revises them as other processes come and go.

    ``start()`` reads the limit in force and the load, sets the threads and
    returns them; ``revise()`` (called between epochs) re-reads the load once
    at least 0.5 s have passed since the last reading and changes the threads
    when the free CPUs changed; ``stop()`` restores the thread count found at
    ``start()``. ``history`` keeps ``(seconds into the fit, threads)`` for each
    setting. With ``fixed=N`` the threads are N for the whole fit, whatever
    the load (``SKCROSS_TORCH_THREADS=N``). As a context manager it starts on
    entry and stops on exit (``with ThreadPolicy() as policy: ...``).
    """

    def __init__(self, fixed=None):
        self.fixed = fixed
        self.history = []

    @classmethod
    def from_environment(cls):
        """The policy ``SKCROSS_TORCH_THREADS`` asks for: ``auto`` (the default) adapts, ``N`` fixes N threads."""
        fixed = os.environ.get("SKCROSS_TORCH_THREADS", "auto")
        if fixed != "auto" and (not fixed.isdigit() or int(fixed) < 1):
            raise ValueError(f"SKCROSS_TORCH_THREADS must be 'auto' or a positive integer, got {fixed!r}.")
        return cls(None if fixed == "auto" else int(fixed))

    def _set(self, threads, at):
        """Set ``threads`` decided ``at`` seconds into the fit (the time of the decision, not of torch's resize)."""
        import torch

        if threads != getattr(self, "threads", None):
            torch.set_num_threads(threads)
            self.threads = threads
            self.history.append((at, threads))

    def start(self):
        import torch

        self._found = torch.get_num_threads()
        threads = self.fixed or fit_threads(self._found, busy_cpus_of_others())
        self._began = self._read_at = time.monotonic()
        self._set(threads, 0.0)
        return self.threads

    def revise(self):
        if self.fixed is None and time.monotonic() - self._read_at >= _REVISE_EVERY:
            self._read_at = time.monotonic()
            self._set(fit_threads(self._found, busy_cpus_of_others()), round(self._read_at - self._began, 3))
        return self.threads

    def stop(self):
        import torch

        torch.set_num_threads(self._found)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
