"""A benchmark run that loses nothing: each fit kept as it finishes, resume, crashes and time limits in child processes."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import REPO_ROOT
from skcross.benchmark import METHODS, Method, load_results, main, run_benchmark, to_markdown
from skcross.benchmark._isolation import ChildProcess
from skcross.datasets import load_wikipedia

COSTS = {"fit_s", "inference_s", "peak_mib", "peak_gpu_mib"}  # measured anew by every run
# two cheap fits, then DCCA (a few seconds even with --quick): a run can be stopped while DCCA fits
COMMAND = ["--quick", "--quiet", "--no-plots", "--methods", "CCA,SM,DCCA"]


@pytest.fixture(scope="module")
def wikipedia():
    return load_wikipedia()


def _command(output, *extra):
    return [sys.executable, "-m", "skcross.benchmark", *COMMAND, "--output", str(output), *extra]


def _default_sigint():
    """In the command's process before it starts: Ctrl-C's default, whatever the test runner inherited.

    A shell starts background jobs with SIGINT ignored, and Python then keeps
    ignoring it: a suite run in the background would test nothing.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(output, *extra):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen(_command(output, *extra), cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint)


def _wait_for_fits(output, names, process, limit=240):
    """Wait until the fits of ``names`` are on disk (the run goes on with the next one)."""
    deadline = time.monotonic() + limit
    while not all((output / "fits" / f"{name}-seed0.npz").exists() for name in names):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the fits did not appear"
        time.sleep(0.05)


def _without_costs(directory):
    """The run's outputs with what every run measures anew (times, memory, date, command) left out."""
    with open(directory / "runs.csv") as f:
        runs = [{key: value for key, value in row.items() if key not in COSTS} for row in csv.DictReader(f)]
    with open(directory / "summary.csv") as f:
        summary = [{key: value for key, value in row.items() if key.removesuffix("_std") not in COSTS}
                   for row in csv.DictReader(f)]
    document = json.loads((directory / "results.json").read_text())
    for key in ("date", "command", "argv", "wall_s"):
        document["protocol"].pop(key)
    for row in document["summary"]:
        for key in list(row):
            if key.removesuffix("_std") in COSTS:
                del row[key]
    with np.load(directory / "per_query_ap.npz") as saved:
        per_query = {key: saved[key] for key in saved.files}
    return {"runs": runs, "summary": summary, "results.json": document, "per_query": per_query,
            "curves": (directory / "curves.json").read_text()}


def _assert_same(one, other):
    assert one["runs"] == other["runs"]
    assert one["summary"] == other["summary"]
    assert one["results.json"] == other["results.json"]
    assert one["curves"] == other["curves"]
    assert one["per_query"].keys() == other["per_query"].keys()
    for key, ap in one["per_query"].items():
        np.testing.assert_array_equal(ap, other["per_query"][key])


def test_a_killed_run_resumes_without_refitting_and_equals_an_uninterrupted_one(tmp_path):
    killed = tmp_path / "killed"
    process = _start(killed)
    _wait_for_fits(killed, ["CCA", "SM"], process)
    os.kill(process.pid, signal.SIGKILL)  # while DCCA fits in the child, which dies with its parent
    process.communicate()
    kept = {path.name: (path.stat().st_mtime_ns, path.read_bytes()) for path in (killed / "fits").glob("*.npz")}
    assert {"CCA-seed0.npz", "SM-seed0.npz", "reference.npz"} <= set(kept)
    assert not list((killed / "fits").glob(".*tmp"))  # no half-written file

    # what the folder shows before the resume: the finished fits, marked incomplete
    assert main(["--render", str(killed), "--no-plots"]) == 0
    text = (killed / "results.md").read_text()
    assert "INCOMPLETE RUN: 2 of 3 fits finished; not yet fitted: DCCA (seed 0)" in text
    assert "| CCA |" in text and "| SM |" in text and "| DCCA |" not in text

    resumed = subprocess.run(_command(killed), cwd=REPO_ROOT, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert "3 fits (2 read from" in resumed.stdout and "not refitted" in resumed.stdout
    for name, (mtime, content) in kept.items():  # the finished fits were read, not fitted again
        if name != "reference.npz":
            assert (killed / "fits" / name).stat().st_mtime_ns == mtime
            assert (killed / "fits" / name).read_bytes() == content
    assert "INCOMPLETE" not in (killed / "results.md").read_text()

    whole = tmp_path / "whole"
    assert subprocess.run(_command(whole), cwd=REPO_ROOT, capture_output=True).returncode == 0
    _assert_same(_without_costs(killed), _without_costs(whole))


def test_ctrl_c_keeps_the_finished_fits_and_says_how_to_resume(tmp_path):
    output = tmp_path / "run"
    process = _start(output)
    _wait_for_fits(output, ["CCA", "SM"], process)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert f"2 of 3 fits are kept in {output / 'fits'}" in stderr
    assert f"Resume with: python -m skcross.benchmark --resume {output}" in stderr
    assert "INCOMPLETE RUN: 2 of 3 fits finished" in (output / "results.md").read_text()
    resumed = subprocess.run([sys.executable, "-m", "skcross.benchmark", "--resume", str(output)], cwd=REPO_ROOT,
                             capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert "3 fits (2 read from" in resumed.stdout
    assert [run["method"] for run in load_results(output).runs] == ["CCA", "SM", "DCCA"]


@pytest.fixture
def crashing_methods(monkeypatch):
    """Two methods whose fits never return: one kills its process with SIGSEGV, one sleeps ten minutes."""
    for name, cls in (("Segfault", "SegfaultingCCA"), ("Sleeper", "SleepingCCA")):
        monkeypatch.setitem(METHODS, name, Method(name, f"_crashing_estimators:{cls}", "test", "pairs", "cosine"))


def test_a_segfault_and_a_time_limit_fail_their_rows_only(wikipedia, crashing_methods, tmp_path, capsys):
    methods = "CCA,Segfault,Sleeper,SM"
    status = main(["--quick", "--quiet", "--no-plots", "--methods", methods, "--fit-timeout", "20",
                   "--output", str(tmp_path / "run")])
    out = capsys.readouterr().out
    assert status == 1  # a method failed: said by the exit status, the run finished
    rows = {run["method"]: run for run in load_results(tmp_path / "run").runs}
    assert rows["Segfault"]["error"].startswith("killed by signal 11 (SIGSEGV) after ")
    assert rows["Sleeper"]["error"] == "stopped at the time limit of 20 s"
    assert "| Segfault | pairs | cosine | failed: killed by signal 11 (SIGSEGV) after" in out
    assert "| Sleeper | pairs | cosine | failed: stopped at the time limit of 20 s |" in out
    # the other rows are complete, and equal to fits in this process, bit for bit
    alone = run_benchmark(wikipedia, methods=["CCA", "SM"], quick=True, progress=False, in_process=True)
    for run in alone.runs:
        for key, value in run.items():
            if key not in COSTS:
                assert rows[run["method"]][key] == value, (run["method"], key)


def test_resuming_refuses_other_settings_and_fresh_starts_over(wikipedia, tmp_path):
    run_benchmark(wikipedia, methods=["CCA"], quick=True, progress=False, output=tmp_path)
    with pytest.raises(ValueError, match=r"holds 1 fits made with other settings \(seeds: \[0\] there, \[1\] now\)"):
        run_benchmark(wikipedia, methods=["CCA"], seeds=[1], quick=True, progress=False, output=tmp_path)
    with pytest.raises(ValueError, match=r"quick: True there, False now.*--fresh on the command line"):
        run_benchmark(wikipedia, methods=["CCA"], progress=False, output=tmp_path)
    other = wikipedia.copy()
    other["X_img_test"] = wikipedia["X_img_test"] + 1
    with pytest.raises(ValueError, match="dataset_sha256: '[0-9a-f]{64}' there"):
        run_benchmark(other, methods=["CCA"], quick=True, progress=False, output=tmp_path)
    again = run_benchmark(wikipedia, methods=["CCA", "PLS"], quick=True, progress=False, output=tmp_path,
                          in_process=True)  # another method list is no conflict: CCA is read, PLS fitted
    assert again.reused == [("CCA", 0)]
    fresh = run_benchmark(wikipedia, methods=["CCA"], seeds=[1], quick=True, progress=False, output=tmp_path,
                          fresh=True)
    assert fresh.reused == [] and [path.name for path in (tmp_path / "fits").glob("*-seed*")] == ["CCA-seed1.npz"]
    assert "Fits: every fit in the benchmark's process." in to_markdown(fresh)


def test_the_command_refuses_a_time_limit_without_child_processes(capsys):
    with pytest.raises(SystemExit):
        main(["--quick", "--in-process", "--fit-timeout", "5"])
    assert "--fit-timeout 5: needs child processes; drop --in-process" in capsys.readouterr().err
    with pytest.raises(ValueError, match="fit_timeout needs each fit in a child process"):
        run_benchmark(load_wikipedia(), methods=["CCA"], in_process=True, fit_timeout=5)
    with pytest.raises(ValueError, match="fit_timeout must be a positive number of seconds or None, got -1"):
        run_benchmark(load_wikipedia(), methods=["CCA"], fit_timeout=-1)
    with pytest.raises(ValueError, match="fresh=True discards the fits kept in output, but output is None"):
        run_benchmark(load_wikipedia(), methods=["CCA"], fresh=True)


def test_resume_reruns_the_saved_command_on_the_folder_without_fresh(tmp_path):
    from skcross.benchmark._cli import _resumed_argv

    command = "python -m skcross.benchmark --quick --fresh --output elsewhere --methods CCA,SM"
    (tmp_path / "protocol.json").write_text(json.dumps(
        {"command": command, "argv": ["--quick", "--fresh", "--output", "elsewhere", "--methods", "CCA,SM"]}))
    assert _resumed_argv(tmp_path) == ["--quick", "--methods", "CCA,SM", "--output", str(tmp_path)]
    # the arguments are saved as a list, not read back from the command's text: a folder without them is refused
    (tmp_path / "protocol.json").write_text(json.dumps({"command": command}))
    with pytest.raises(SystemExit):
        _resumed_argv(str(tmp_path))


def _double(shared, value):
    return shared * value


def test_child_process_calls_survive_a_dead_child():
    child = ChildProcess(3)
    try:
        assert child.call(_double, 2) == (6, None)
        child._process.kill()  # the child dies between two calls: the next call says so and a new one starts
        child._process.join()
        value, why = child.call(_double, 2)
        assert value is None and why.startswith("killed by signal 9 (SIGKILL) (the out-of-memory killer, or kill -9)")
        assert child.call(_double, 5) == (15, None)
        value, why = child.call(_double, None)
        assert value is None and why == "TypeError: unsupported operand type(s) for *: 'int' and 'NoneType'"
    finally:
        child.close()
