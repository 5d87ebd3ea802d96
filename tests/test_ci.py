"""CI must run exactly the test command that README.rst gives."""

from conftest import REPO_ROOT


def test_ci_runs_the_readme_test_command():
    ci_lines = [
        line.strip()
        for line in (REPO_ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.startswith("#") and not line.startswith(("set ", "cd "))
    ]
    assert len(ci_lines) == 1, ci_lines
    readme = (REPO_ROOT / "README.rst").read_text()
    assert f"    {ci_lines[0]}\n" in readme
    assert "pytest" in ci_lines[0] and "tools/install.sh" in ci_lines[0] and "lint-imports" in ci_lines[0]


def test_the_import_contract_is_the_designs_layering():
    """setup.cfg's contract (checked by lint-imports in CI) holds the layers of DESIGN.md, top to bottom."""
    setup = (REPO_ROOT / "setup.cfg").read_text()
    layers = setup.split("[importlinter:contract:layers]")[1].split("layers =")[1].split("\n\n")[0].split()
    order = [name for name in layers if name.startswith("skcross.")]
    assert order == ["skcross.benchmark", "skcross.retrieval", "skcross.plotting", "skcross.deep", "skcross.linear",
                     "skcross.reference", "skcross.preprocessing", "skcross.pipeline", "skcross.feature_extraction",
                     "skcross.base",
                     "skcross.metrics", "skcross.utils", "skcross.datasets", "skcross._paired"]
    assert "ignore_imports" not in setup  # no exception dodges the contract


def test_install_script_pins_torch_and_builds_scikit_learn_extra():
    script = (REPO_ROOT / "tools" / "install.sh").read_text()
    # torch and torchvision as one pair (timm needs torchvision, which loads only beside its own torch)
    assert "SKCROSS_TORCH_VERSION:-2.14.1" in script and "SKCROSS_TORCHVISION_VERSION:-0.29.1" in script
    assert '"torch==${TORCH_VERSION}" "torchvision==${TORCHVISION_VERSION}"' in script
    assert '--index-url "$SKCROSS_TORCH_INDEX_URL"' in script  # the CPU-only route
    assert "--no-binary scikit-learn-extra" in script and "C compiler" in script


def test_install_claims_are_true():
    """A version pin does not choose torch's CPU variant; README must not say it does (issue 15, item 11)."""
    readme = (REPO_ROOT / "README.rst").read_text()
    assert "can pull a multi-GB" not in readme
    assert "does *not* choose the CPU or CUDA variant" in readme
    assert "SKCROSS_TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu" in readme
    assert "C compiler" in readme


def test_scikit_learn_version_is_within_the_supported_range():
    """setup.cfg bounds scikit-learn to the tested releases; the private names skcross uses still exist."""
    import re

    import sklearn

    from skcross.utils import _sklearn_compat

    setup = (REPO_ROOT / "setup.cfg").read_text()
    low, high = re.search(r"scikit-learn>=([\d.]+),<([\d.]+)", setup).groups()
    version = tuple(int(part) for part in sklearn.__version__.split(".")[:2])
    assert tuple(map(int, low.split("."))) <= version < tuple(map(int, high.split(".")))
    for name in _sklearn_compat.__all__:
        assert callable(getattr(_sklearn_compat, name))
