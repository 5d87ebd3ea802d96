"""The deep engine's CPU thread policy (skcross.utils._threads): what it reads and what it sets.

No test here times anything; benchmarks/bench_threads.py measures the speed.
"""

import multiprocessing
import time

import numpy as np
import pytest

from skcross.utils import _threads
from skcross.utils._threads import ThreadPolicy, busy_cpus_of_others, fit_threads, usable_cpus


def test_usable_cpus_is_the_affinity_capped_by_the_cgroup_quota(monkeypatch):
    import os

    assert 1 <= usable_cpus() <= len(os.sched_getaffinity(0))
    monkeypatch.setattr(_threads, "_cgroup_cpu_quota", lambda: 1.5)
    assert usable_cpus() == min(2, len(os.sched_getaffinity(0)))
    monkeypatch.setattr(_threads, "_cgroup_cpu_quota", lambda: 0.2)
    assert usable_cpus() == 1


def test_fit_threads_takes_the_cpus_others_leave_free_within_the_limit(monkeypatch):
    monkeypatch.setattr(_threads, "usable_cpus", lambda: 4)
    assert fit_threads(4, 0.0) == 4
    assert fit_threads(2, 0.0) == 2  # a limit in force (OMP_NUM_THREADS, threadpoolctl, joblib) is kept
    assert fit_threads(4, 1.0) == 3
    assert fit_threads(4, 1.6) == 2
    assert fit_threads(4, 7.0) == 1  # never fewer than one


def test_this_process_running_threads_are_not_counted_as_others(monkeypatch):
    monkeypatch.setattr(_threads, "_own_running_threads", lambda: 10_000)
    assert busy_cpus_of_others() == 0.0
    assert _threads._own_running_threads is not None and 1 <= usable_cpus()


def _spin(stop):
    while not stop.is_set():
        pass


def test_the_policy_leaves_a_cpu_to_a_busy_neighbour_and_restores_torch_threads():
    torch = pytest.importorskip("torch")
    if usable_cpus() < 2:
        pytest.skip("one usable CPU: there is nothing to leave")
    found = torch.get_num_threads()
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    neighbour = context.Process(target=_spin, args=(stop,), daemon=True)
    neighbour.start()
    try:
        time.sleep(1.0)
        assert busy_cpus_of_others() >= 1  # the neighbour's thread wants a CPU
        policy = ThreadPolicy()
        threads = policy.start()
        assert threads <= usable_cpus() - 1 and torch.get_num_threads() == threads
        assert policy.history == [(0.0, threads)]
    finally:
        stop.set()
        neighbour.join(5)
    policy.stop()
    assert torch.get_num_threads() == found


def test_a_fit_records_its_threads_and_restores_torchs(monkeypatch, small_data):
    torch = pytest.importorskip("torch")
    pytest.importorskip("skorch")
    from skcross.deep import DSCMR

    X_img, X_txt, y = small_data
    found = torch.get_num_threads()
    params = {"hidden_size": 16, "n_components": 8, "max_epochs": 3, "verbose": 0, "random_state": 0}
    model = DSCMR(**params).fit(X_img, X_txt, y)
    assert model.fit_threads_[0][0] == 0.0 and all(1 <= t <= usable_cpus() for _, t in model.fit_threads_)
    assert torch.get_num_threads() == found
    monkeypatch.setenv("SKCROSS_TORCH_THREADS", "1")
    one = DSCMR(**params).fit(X_img, X_txt, y)
    assert one.fit_threads_ == [(0.0, 1)] and torch.get_num_threads() == found
    if usable_cpus() >= 2:
        monkeypatch.setenv("SKCROSS_TORCH_THREADS", "2")
        two = DSCMR(**params).fit(X_img, X_txt, y)
        # these layer sizes give the same numbers on 1 and 2 threads (measured: bench_threads' mAP column)
        np.testing.assert_array_equal(one.transform_image(X_img), two.transform_image(X_img))
    monkeypatch.setenv("SKCROSS_TORCH_THREADS", "two")
    with pytest.raises(ValueError, match="SKCROSS_TORCH_THREADS must be 'auto' or a positive integer, got 'two'"):
        DSCMR(**params).fit(X_img, X_txt, y)


def test_reading_the_cpu_limits_leaves_no_file_open():
    import gc
    import warnings

    from skcross.utils._threads import ThreadPolicy, usable_cpus

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)  # an unclosed file warns when it is collected
        for _ in range(3):
            usable_cpus()
            policy = ThreadPolicy()
            policy.start()
            policy.stop()
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
