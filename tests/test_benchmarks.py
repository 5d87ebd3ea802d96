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
