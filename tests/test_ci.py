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
    assert "pytest" in ci_lines[0] and "tools/install.sh" in ci_lines[0]


def test_install_script_pins_torch_and_builds_scikit_learn_extra():
    script = (REPO_ROOT / "tools" / "install.sh").read_text()
    assert "torch==2.13.0" in script
    assert "--no-binary scikit-learn-extra" in script
