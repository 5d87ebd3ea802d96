"""The benchmark's reports from a saved run: markdown and LaTeX tables, significance marks, JSON, re-rendering."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from skcross.benchmark import load_results, main, run_benchmark, save_results, to_json, to_latex, to_markdown
from skcross.datasets import load_wikipedia
from skcross.metrics import average_over_classes


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    data = load_wikipedia()
    result = run_benchmark(data, methods=["CCA", "SM", "SCM"], progress=False)
    directory = tmp_path_factory.mktemp("run")
    save_results(result, directory, plots=False)
    return result, directory


def test_tables_show_class_balanced_mAP_and_significance_marks(saved_run):
    result, _ = saved_run
    run = next(r for r in result.runs if r["method"] == "SM")
    ap = result.per_query_ap[("SM", 0, "i2t")]
    assert run["balanced_map_i2t"] == pytest.approx(average_over_classes(ap, result.test_labels))
    markdown = to_markdown(result)
    # SM has the best mAP i2t; SCM is 0.0024 behind, not significantly; CCA is significantly below
    assert "| SM | labels | normalised correlation | 0.2782 ▲ |" in markdown
    assert "| SCM | labels | normalised correlation | 0.2758 † |" in markdown
    assert "| CCA | pairs | cosine | 0.2417 ≤ prior |" in markdown
    assert "| class prior (query-independent) | training labels | - | 0.2524 | 0.2524 | 0.2524 | 0.1903 | 0.1903 |" \
        in markdown
    assert "Significance, image query -> text database" in markdown


def test_latex_table_is_booktabs_with_bold_best_and_underlined_second(saved_run):
    result, _ = saved_run
    latex = to_latex(result, label="tab:wiki")
    assert latex.startswith("\\begin{table}") and "\\toprule" in latex and "\\bottomrule" in latex
    assert "\\label{tab:wiki}" in latex
    rows = {line.split(" & ")[0]: line.split(" & ") for line in latex.splitlines() if " & " in line}
    assert rows["SM"][1] == "\\textbf{0.2782}"  # best mAP i2t
    assert rows["SCM"][1] == "\\underline{0.2758}$^\\dagger$"  # second, and not significantly below
    assert rows["SCM"][2] == "\\textbf{0.2262}"  # best mAP t2i
    assert rows["CCA"][1] == "0.2417"
    assert latex.count("\\begin{tabular}{lccccc}") == 1
    assert all(line.endswith("\\\\") for line in latex.splitlines() if " & " in line)


def test_latex_escapes_method_and_dataset_names(saved_run, monkeypatch):
    from skcross.benchmark import METHODS

    result, _ = saved_run
    monkeypatch.setitem(METHODS, "S_M & 50%", METHODS["SM"])  # the tables look each method up by name
    renamed = type(result)(runs=[{**r, "method": "S_M & 50%" if r["method"] == "SM" else r["method"]}
                                 for r in result.runs], curves={},
                           protocol={**result.protocol, "dataset": "my_data & 50%"}, per_query_ap={})
    latex = to_latex(renamed)
    assert "my\\_data \\& 50\\%" in latex
    assert "S\\_M \\& 50\\%" in latex and "S_M & 50%" not in latex


def test_json_and_render_from_saved_results_without_refitting(saved_run, tmp_path, monkeypatch, capsys):
    result, directory = saved_run
    document = json.loads((directory / "results.json").read_text())
    assert document == json.loads(to_json(result))
    best = [row for row in document["significance"]["i2t"] if row["best"]]
    assert [row["method"] for row in best] == ["SM"] and best[0]["p_value"] is None
    loaded = load_results(directory)
    np.testing.assert_array_equal(loaded.test_labels, result.test_labels)
    assert to_markdown(loaded) == to_markdown(result) and to_latex(loaded) == to_latex(result)

    def no_fit(*args, **kwargs):
        raise AssertionError("--render must not fit")

    monkeypatch.setattr("skcross.benchmark._run.run_benchmark", no_fit)
    (directory / "results.tex").unlink()
    assert main(["--render", str(directory), "--no-plots"]) == 0
    assert (directory / "results.tex").read_text() == to_latex(result)
    with pytest.raises(SystemExit):
        main(["--render", str(tmp_path)])
    assert "no saved benchmark there" in capsys.readouterr().err


RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
SAVED = sorted(path.name for path in RESULTS.glob("*") if (path / "protocol.json").exists())


@pytest.mark.parametrize("folder", SAVED)
def test_render_reproduces_every_committed_results_folder(folder, tmp_path):
    """Each committed run's tables, JSON and CSVs come back identical from its saved files (dates aside)."""
    shutil.copytree(RESULTS / folder, tmp_path / folder)
    assert main(["--render", str(tmp_path / folder), "--no-plots"]) == 0
    for name in ("results.md", "results.rst", "results.tex", "results.json", "summary.csv", "runs.csv",
                 "protocol.json", "curves.json"):
        if (RESULTS / folder / name).exists():
            committed, rendered = ((directory / folder / name).read_text().splitlines()
                                   for directory in (RESULTS, tmp_path))
            assert [line for line in rendered if "date" not in line.lower()] == \
                [line for line in committed if "date" not in line.lower()], name
