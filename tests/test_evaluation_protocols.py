"""Evaluation beyond the field's habits: class-balanced mAP, significance between methods, paper-ready tables."""

import json

import numpy as np
import pytest
from scipy import stats

from skcross import paired
from skcross.benchmark import load_results, main, run_benchmark, save_results, to_json, to_latex, to_markdown
from skcross.datasets import load_wikipedia, make_cross_modal
from skcross.linear import CCA
from skcross.metrics import (
    average_over_classes,
    average_precision_per_query,
    bootstrap_interval,
    compare_to_best,
    cross_modal_map,
    get_scorer,
    holm_adjust,
    mean_average_precision,
    paired_test,
    precision_at_k,
)


def _ranked_relevance(S, y_q, y_db):
    order = np.argsort(-S, axis=1, kind="stable")
    return np.asarray(y_db)[order] == np.asarray(y_q)[:, None]


# --------------------------------------------------------------------- class-balanced
@pytest.mark.parametrize("seed", range(4))
def test_class_balanced_map_and_precision_equal_a_direct_computation(seed):
    rng = np.random.default_rng(seed)
    S = rng.integers(0, 5, size=(60, 90)).astype(float)  # many ties
    y_q, y_db = rng.choice(4, 60, p=[0.6, 0.2, 0.15, 0.05]), rng.integers(0, 4, 90)
    rel = _ranked_relevance(S, y_q, y_db)
    ap = np.array([np.mean(np.cumsum(r)[r] / (np.flatnonzero(r) + 1)) if r.any() else 0.0 for r in rel])
    expected = np.mean([ap[y_q == c].mean() for c in np.unique(y_q)])
    assert mean_average_precision(S, y_q, y_db, average="classes") == pytest.approx(expected, abs=1e-12)
    p10 = rel[:, :10].mean(axis=1)
    assert precision_at_k(S, y_q, y_db, k=10, average="classes") == pytest.approx(
        np.mean([p10[y_q == c].mean() for c in np.unique(y_q)]), abs=1e-12)
    ap20 = average_precision_per_query(S, y_q, y_db, k=20)
    assert mean_average_precision(S, y_q, y_db, k=20, average="classes") == pytest.approx(
        average_over_classes(ap20, y_q), abs=1e-12)


def test_class_balanced_map_multilabel_averages_each_label_over_its_queries():
    values = np.array([1.0, 0.5, 0.0])
    y = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0]])  # label 2 carried by no query: left out
    assert average_over_classes(values, y) == pytest.approx(((1.0 + 0.5) / 2 + (0.5 + 0.0) / 2) / 2)


def test_class_balanced_map_cannot_be_inflated_by_the_class_prior():
    """On Wikipedia the query-independent ranking beats CCA by mAP (0.252) but is lower class-balanced."""
    from skcross.metrics import class_prior_similarity

    data = load_wikipedia()
    prior = class_prior_similarity(data.y_train, data.y_test, len(data.y_test))
    plain = mean_average_precision(prior, data.y_test, data.y_test)
    balanced = mean_average_precision(prior, data.y_test, data.y_test, average="classes")
    assert round(plain, 4) == 0.2524 and round(balanced, 4) == 0.1903


def test_balanced_scorers_and_errors():
    X_img, X_txt, y = make_cross_modal(240, n_classes=4, random_state=0)
    est = CCA(3).fit(X_img[:160], X_txt[:160])
    X, yt = paired(X_img[160:], X_txt[160:]), y[160:]
    expected = cross_modal_map(est, X_img[160:], X_txt[160:], yt, average="classes")
    assert get_scorer("balanced_map")(est, X, yt) == pytest.approx(expected["mean"])
    assert get_scorer("balanced_map_t2i")(est, X, yt) == pytest.approx(expected["t2i"])
    S = est.similarity(X_img[160:], X_txt[160:])
    assert get_scorer("balanced_precision@5_i2t")(est, X, yt) == pytest.approx(
        precision_at_k(S, yt, yt, k=5, average="classes"))
    assert get_scorer("precision@5_t2i")(est, X, yt) == pytest.approx(precision_at_k(S.T, yt, yt, k=5))
    with pytest.raises(ValueError, match="average must be 'queries'"):
        mean_average_precision(S, yt, yt, average="macro")
    with pytest.raises(ValueError, match="average='classes' needs labels"):
        mean_average_precision(S, average="classes")
    for bad in ("balanced_recall@1", "precision", "balanced_map_x"):
        with pytest.raises(ValueError, match="not a valid scoring"):
            get_scorer(bad)


# --------------------------------------------------------------------- significance
def test_paired_randomization_test_matches_an_exact_enumeration():
    """On 10 queries every one of the 2**10 sign flips can be enumerated: the Monte Carlo p-value agrees."""
    rng = np.random.default_rng(1)
    a, b = rng.random(10), rng.random(10)
    d = a - b
    signs = np.array(np.meshgrid(*[[1, -1]] * 10)).reshape(10, -1).T
    exact = np.mean(np.abs((signs * d).mean(axis=1)) >= abs(d.mean()) - 1e-12)
    assert paired_test(a, b, n_resamples=20_000, random_state=0) == pytest.approx(exact, abs=0.02)
    assert paired_test(a, a) == 1.0
    assert paired_test(a, b, test="wilcoxon") == pytest.approx(stats.wilcoxon(a, b).pvalue)


def test_holm_adjust_matches_its_definition():
    p = np.array([0.01, 0.04, 0.03, 0.005, 0.5])
    order = np.argsort(p)
    expected = np.empty(5)
    running = 0.0
    for i, j in enumerate(order):
        running = max(running, min(1.0, (5 - i) * p[j]))
        expected[j] = running
    np.testing.assert_allclose(holm_adjust(p), expected)


def test_bootstrap_interval_covers_the_mean_and_narrows_with_more_queries():
    rng = np.random.default_rng(0)
    small, large = rng.random(50), rng.random(5000)
    lo_s, hi_s = bootstrap_interval(small, random_state=0)
    lo_l, hi_l = bootstrap_interval(large, random_state=0)
    assert lo_s < small.mean() < hi_s and lo_l < large.mean() < hi_l
    assert hi_l - lo_l < (hi_s - lo_s) / 5


def test_compare_to_best_marks_ties_and_errors():
    rng = np.random.default_rng(0)
    base = rng.random(400)
    rows = {r.method: r for r in compare_to_best({"A": base + 0.05, "A'": base + 0.05 + rng.normal(0, 0.2, 400),
                                                   "B": base})}
    assert rows["A"].best and rows["A'"].tied_with_best and not rows["B"].tied_with_best
    assert rows["B"].p_adjusted >= rows["B"].p_value
    with pytest.raises(ValueError, match="same queries"):
        compare_to_best({"A": base, "B": base[:10]})
    with pytest.raises(ValueError, match="scores_a and scores_b must score the same queries"):
        paired_test(base, base[:5])
    with pytest.raises(ValueError, match="test must be one of"):
        paired_test(base, base + 1, test="t")


# --------------------------------------------------------------------- tables from saved runs
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


def test_latex_escapes_method_and_dataset_names(saved_run):
    result, _ = saved_run
    renamed = type(result)(runs=[{**r, "method": r["method"]} for r in result.runs], curves={},
                           protocol={**result.protocol, "dataset": "my_data & 50%"}, per_query_ap={})
    assert "my\\_data \\& 50\\%" in to_latex(renamed)


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
