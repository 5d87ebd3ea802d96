"""Smoke-run every benchmark script so that none goes stale."""

import os
import subprocess
import sys

import pytest

from conftest import REPO_ROOT, shared_datasets_dir

SCRIPTS = sorted((REPO_ROOT / "benchmarks").glob("bench_*.py"))


def test_benchmarks_are_found():
    assert {p.name for p in SCRIPTS} >= {"bench_metrics.py", "bench_synthetic.py", "bench_classical.py"}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_benchmark_smoke_run(script):
    env = {**os.environ, "SKCROSS_DATA": str(shared_datasets_dir())}
    result = subprocess.run(
        [sys.executable, str(script), "--smoke"], capture_output=True, text=True, env=env, timeout=600
    )
    assert result.returncode == 0, result.stderr
    assert "----" in result.stdout or result.stdout.startswith("skipped:"), result.stdout


def test_encoder_thread_table_smoke_run():
    env = {**os.environ, "SKCROSS_DATA": str(shared_datasets_dir())}
    result = subprocess.run([sys.executable, str(REPO_ROOT / "benchmarks" / "bench_threads.py"), "--encoders", "--smoke"],
                            capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "----" in result.stdout or "skipped" in result.stdout, result.stdout


def test_bench_gpu_imports_pure_python_wheels_and_refuses_others(tmp_path, monkeypatch):
    """How a bare GPU machine gets skorch: pure-Python wheels put on sys.path, nothing installed."""
    import importlib.util
    import zipfile

    spec = importlib.util.spec_from_file_location("bench_gpu", REPO_ROOT / "benchmarks" / "bench_gpu.py")
    bench_gpu = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench_gpu)
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    with zipfile.ZipFile(wheels / "tinypkg_for_test-1.0-py3-none-any.whl", "w") as wheel:
        wheel.writestr("tinypkg_for_test/__init__.py", "VALUE = 42\n")
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setenv("PYTHONPATH", "")
    monkeypatch.delitem(sys.modules, "tinypkg_for_test", raising=False)
    assert bench_gpu.bootstrap(wheels) == []  # numpy, scipy, sklearn, torch and skorch all importable here
    import tinypkg_for_test

    assert tinypkg_for_test.VALUE == 42
    assert str(wheels / "tinypkg_for_test-1.0-py3-none-any.whl") in os.environ["PYTHONPATH"]  # for subprocesses
    (wheels / "native-1.0-cp312-cp312-manylinux_2_17_x86_64.whl").write_bytes(b"")
    with pytest.raises(SystemExit, match="not a pure-Python wheel"):
        bench_gpu.bootstrap(wheels)
    with pytest.raises(SystemExit, match="is not a folder.*pip download"):
        bench_gpu.bootstrap(tmp_path / "missing")
    sys.modules.pop("tinypkg_for_test", None)
