"""The documentation builds with warnings as errors, and its runnable examples run."""

import re
import subprocess
import sys

import pytest

from conftest import REPO_ROOT

DOC = REPO_ROOT / "doc"


def code_blocks(page):
    """The ``.. code-block:: python`` blocks of an rst page, dedented."""
    text = (DOC / page).read_text()
    blocks = []
    for match in re.finditer(r"\.\. code-block:: python\n\n((?:(?: {4}.*)?\n)+)", text):
        lines = match.group(1).splitlines()
        blocks.append("\n".join(line[4:] for line in lines))
    return blocks


def test_docs_build_without_warnings(tmp_path):
    pytest.importorskip("sphinx")
    pytest.importorskip("numpydoc")
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", str(DOC), str(tmp_path / "html")],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-5000:]
    for page in ("getting_started", "benchmarks", "methods/dscmr", "methods/ssmal", "methods/sspe", "api"):
        assert (tmp_path / "html" / f"{page}.html").exists()
    benchmarks = (tmp_path / "html" / "benchmarks.html").read_text()
    assert "DSCMR" in benchmarks and "pr_i2t.png" in benchmarks


@pytest.mark.parametrize("page", ["getting_started.rst", "methods/ssmal.rst", "methods/baselines.rst"])
def test_page_examples_run(page, capsys):
    blocks = code_blocks(page)
    assert blocks, f"{page} has no python example"
    for block in blocks:
        exec(compile(block, f"{page} example", "exec"), {"__name__": "__doc_example__"})
    assert "'mean'" in capsys.readouterr().out  # each example prints a cross_modal_map result


def test_every_seed_method_has_a_page():
    for page in ("sspe", "dse", "dscmr", "uncsm", "ssmal", "baselines", "contrastive"):
        text = (DOC / "methods" / f"{page}.rst").read_text()
        assert ".. code-block:: python" in text and "benchmark" in text.lower()
        assert f"methods/{page}" in (DOC / "index.rst").read_text()


def test_user_guide_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the retrieval example saves an index
    blocks = code_blocks("user_guide.rst")
    assert blocks
    for block in blocks:
        exec(compile(block, "user_guide example", "exec"), {"__name__": "__doc_example__"})
    assert (tmp_path / "texts.joblib").exists()
