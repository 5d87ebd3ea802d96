"""The benchmark command (``python -m skcross.benchmark``) and the bundled Wikipedia data."""

import csv
import hashlib
import subprocess
import sys

import numpy as np
import pytest
from sklearn.model_selection import ParameterGrid

from conftest import REPO_ROOT, shared_datasets_dir
from skcross.benchmark import (
    METHODS,
    available_methods,
    load_results,
    main,
    run_benchmark,
    summarize,
    to_markdown,
    to_rst,
)
from skcross.benchmark._run import peak_memory
from skcross.datasets import DATASETS, load_dataset, load_wikipedia, make_cross_modal
from skcross.linear import CCA, SM
from skcross.metrics import cross_modal_map, get_scorer, mean_average_precision, precision_at_k


@pytest.fixture(scope="module")
def wikipedia():
    return load_wikipedia()


def test_bundled_wikipedia_is_the_registered_file(wikipedia):
    from skcross.datasets._base import _BUNDLED

    stem = DATASETS["wikipedia"]["stem"]
    for ext in ("npz", "json"):
        digest = hashlib.sha256((_BUNDLED / f"{stem}.{ext}").read_bytes()).hexdigest()
        assert digest == DATASETS["wikipedia"]["sha256"][ext]
    assert (wikipedia.X_img_train.shape, wikipedia.X_txt_test.shape) == ((2173, 128), (693, 10))
    assert "Rasiwasia" in wikipedia.metadata["paper"] and wikipedia.metadata["source"]
    X = load_wikipedia(return_X_y=True)
    np.testing.assert_array_equal(X[2], wikipedia.y_train)


def test_bundled_wikipedia_is_package_data():
    setup = (REPO_ROOT / "setup.cfg").read_text()
    assert "skcross.datasets = data/*.npz, data/*.json" in setup
    assert "skcross-benchmark = skcross.benchmark:main" in setup


def test_bundled_equals_shared_copy(wikipedia):
    path = shared_datasets_dir() / "wikipedia_sift128_lda10.npz"
    if not path.exists():
        pytest.skip(f"shared features not found in {path.parent}")
    shared = load_dataset(path)
    np.testing.assert_array_equal(shared.X_img_test, wikipedia.X_img_test)


def test_scores_are_the_metrics_of_the_fitted_method(wikipedia):
    result = run_benchmark(wikipedia, methods=["CCA", "SM"], progress=False)
    runs = {run["method"]: run for run in result.runs}
    d = wikipedia
    for name, model in (("CCA", CCA().fit(d.X_img_train, d.X_txt_train)),
                        ("SM", SM().fit(d.X_img_train, d.X_txt_train, d.y_train))):
        expected = cross_modal_map(model, d.X_img_test, d.X_txt_test, d.y_test)
        assert runs[name]["map_i2t"] == pytest.approx(expected["i2t"])
        assert runs[name]["map_t2i"] == pytest.approx(expected["t2i"])
        S = model.similarity(d.X_img_test, d.X_txt_test)
        assert runs[name]["map@50_t2i"] == pytest.approx(mean_average_precision(S.T, d.y_test, d.y_test, k=50))
        assert runs[name]["p@10_i2t"] == pytest.approx(precision_at_k(S, d.y_test, d.y_test, k=10))
        assert runs[name]["fit_s"] > 0 and runs[name]["peak_mib"] > 0
    assert result.protocol["chance_map"] == pytest.approx(0.1183, abs=1e-4)
    table = to_markdown(result)
    assert "papers' default settings" in table and "| CCA | pairs | cosine | 0.2417 ≤ prior | 0.1967 ≤ prior |" in table


def test_select_cv_searches_the_training_split_only(wikipedia):
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    from skcross import paired

    result = run_benchmark(wikipedia, methods=["CCA"], select="cv", seeds=[3], progress=False)
    d = wikipedia
    search = GridSearchCV(CCA(), METHODS["CCA"].grid, scoring=get_scorer("map"),
                          cv=StratifiedKFold(3, shuffle=True, random_state=3))
    search.fit(paired(d.X_img_train, d.X_txt_train), d.y_train)
    (run,) = result.runs
    assert run["selected"] == search.best_params_
    expected = cross_modal_map(search.best_estimator_, d.X_img_test, d.X_txt_test, d.y_test)
    assert run["map_mean"] == pytest.approx(expected["mean"])
    assert "GridSearchCV, 3-fold on the training split" in result.protocol["selection"]
    assert "selected" in to_markdown(result)


def test_seeds_give_mean_and_std(wikipedia):
    result = run_benchmark(wikipedia, methods=["KCCA"], seeds=[0, 1], quick=True, progress=False)
    (row,) = summarize(result)
    values = [run["map_mean"] for run in result.runs]
    assert row["seeds"] == 2 and row["map_mean"] == pytest.approx(np.mean(values))
    assert row["map_mean_std"] == pytest.approx(np.std(values)) and row["map_mean_std"] > 0
    assert " ± " in to_markdown(result)
    once = run_benchmark(wikipedia, methods=["CCA"], seeds=[0, 1, 2], progress=False)
    assert [run["seed"] for run in once.runs] == [0]  # no random_state: the same model for every seed


def test_a_failing_method_is_reported_and_the_others_kept(wikipedia, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("broken on purpose")

    monkeypatch.setattr(SM, "fit", broken)
    with pytest.warns(RuntimeWarning, match="SM \\(seed 0\\) failed: RuntimeError: broken on purpose"):
        # in process: the patched fit exists in this interpreter only
        result = run_benchmark(wikipedia, methods=["SM", "CCA"], progress=False, in_process=True)
    assert [("error" in run) for run in result.runs] == [True, False]
    assert "failed: RuntimeError: broken on purpose" in to_markdown(result)


def test_class_prior_row_flags_and_per_query_ap(wikipedia, tmp_path):
    """The query-independent ranking beside random: 0.252 on Wikipedia, above CCA, which is flagged."""
    result = run_benchmark(wikipedia, methods=["CCA", "SM"], progress=False)
    prior = result.protocol["class_prior_map"]
    y_train, y_test = wikipedia.y_train, wikipedia.y_test
    # by hand: every query ranks the database by training class frequency, ties in database order
    frequency = np.bincount(y_train) / len(y_train)
    order = np.argsort(-frequency[y_test], kind="stable")
    ap = []
    for label in y_test:
        relevant = y_test[order] == label
        hits = np.cumsum(relevant)
        ap.append(np.mean(hits[relevant] / (np.flatnonzero(relevant) + 1)))
    assert prior["i2t"]["map"] == pytest.approx(np.mean(ap)) == pytest.approx(prior["t2i"]["map"])
    assert round(prior["i2t"]["map"], 3) == 0.252  # TARGETS.md's class-prior row
    markdown = to_markdown(result)
    assert "| class prior (query-independent) | training labels | - | 0.2524 | 0.2524 |" in markdown
    assert "| CCA | pairs | cosine | 0.2417 ≤ prior | 0.1967 ≤ prior |" in markdown  # CCA does not beat it
    assert "| SM | labels | normalised correlation | 0.2782 ▲ | 0.2115 ▲ ≤ prior |" in markdown
    for (name, seed, direction), values in result.per_query_ap.items():
        run = next(r for r in result.runs if r["method"] == name and r["seed"] == seed)
        assert values.shape == (len(y_test),) and values.mean() == pytest.approx(run[f"map_{direction}"])
    from skcross.benchmark import save_results

    save_results(result, tmp_path, plots=False)
    loaded = load_results(tmp_path)
    assert loaded.per_query_ap.keys() == result.per_query_ap.keys()
    np.testing.assert_array_equal(loaded.per_query_ap[("SM", 0, "t2i")], result.per_query_ap[("SM", 0, "t2i")])
    assert to_markdown(loaded) == markdown


def test_multilabel_class_prior_scores_the_share_of_training_items_sharing_a_label():
    from skcross.metrics import class_prior_similarity

    Y_train = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 1], [0, 1, 0]])
    Y_db = np.array([[1, 0, 0], [0, 0, 1], [0, 1, 1], [0, 0, 0]])
    S = class_prior_similarity(Y_train, Y_db, 2)
    np.testing.assert_allclose(S, [[0.5, 0.25, 0.75, 0.0]] * 2)


def test_relevant_share_is_the_random_rankings_precision():
    from skcross.metrics import random_precision

    def relevant_share(y):
        return random_precision(y, y)

    y = np.array([0, 0, 0, 1])  # queries of class 0 find 3 of 4 relevant, the class-1 query 1 of 4
    assert relevant_share(y) == pytest.approx((3 * 0.75 + 0.25) / 4)
    Y = np.array([[1, 0], [0, 1], [1, 1]])
    assert relevant_share(Y) == pytest.approx(np.mean([(Y @ row > 0).mean() for row in Y]))
    S = np.random.default_rng(0).random((400, 400))  # the expected precision of a random ranking at any rank
    y = np.random.default_rng(1).integers(0, 5, 400)
    assert precision_at_k(S, y, y, k=200) == pytest.approx(relevant_share(y), abs=0.01)


def test_a_collapsed_fit_is_reported_in_the_table(wikipedia, monkeypatch):
    from sklearn.exceptions import ConvergenceWarning

    fit = CCA.fit

    def collapsing(self, *args, **kwargs):
        import warnings

        warnings.warn("CCA (training): the image embeddings have collapsed", ConvergenceWarning)
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(CCA, "fit", collapsing)
    with pytest.warns(ConvergenceWarning):  # still shown
        result = run_benchmark(wikipedia, methods=["CCA"], progress=False)
    assert result.runs[0]["warnings"] == "CCA (training): the image embeddings have collapsed"
    markdown = to_markdown(result)
    assert "| CCA (collapsed fit, see below) |" in markdown
    assert "Collapsed fit, CCA: 1 of 1 fits: CCA (training): the image embeddings have collapsed" in markdown


def test_arguments_are_validated(wikipedia, capsys):
    with pytest.raises(ValueError, match="methods must be names among"):
        run_benchmark(wikipedia, methods=["XYZ"])
    with pytest.raises(ValueError, match="select must be"):
        run_benchmark(wikipedia, methods=["CCA"], select="test")
    with pytest.raises(ValueError, match="seeds"):
        run_benchmark(wikipedia, methods=["CCA"], seeds=[])
    for seeds in ([1.5], [True], ["a"]):  # never rounded or read as a number
        with pytest.raises(ValueError, match="seeds must be integers"):
            run_benchmark(wikipedia, methods=["CCA"], seeds=seeds)
    for argv, message in ((["--methods", "CCA,XYZ"], "unknown"), (["--seeds", "a"], "--seeds"),
                          (["--cv", "1"], "--cv"), (["--dataset", "nowhere.npz"], "--dataset 'nowhere.npz'")):
        with pytest.raises(SystemExit):
            main(argv)
        assert message in capsys.readouterr().err


def test_peak_memory_sees_a_large_allocation():
    with peak_memory() as memory:
        block = np.ones(50 * 2**20 // 8)  # 50 MiB
        block[0] = 2
    del block
    with peak_memory() as small:
        pass
    assert memory["MiB"] - small["MiB"] > 40 or memory["how"] == "tracemalloc" and memory["MiB"] > 49


def test_quick_run_of_every_method(tmp_path, capsys):
    """The README's main command with --quick: every installed method, the tables and the plots."""
    pytest.importorskip("matplotlib")
    status = main(["--quick", "--quiet", "--output", str(tmp_path / "wikipedia")])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "QUICK RUN" in out and "training pairs: 600 of 2173" in out
    for name in available_methods():  # a collapsed quick fit says so after its name
        assert f"| {name} |" in out or f"| {name} (collapsed fit, see below) |" in out
    with open(tmp_path / "wikipedia" / "summary.csv") as f:
        rows = list(csv.DictReader(f))
    assert [row["method"] for row in rows] == available_methods()
    assert all(0 < float(row["map_mean"]) <= 1 for row in rows)
    for name in ("results.md", "results.rst", "runs.csv", "protocol.json", "curves.json", "pr_i2t.png",
                 "pr_t2i.png", "scope_i2t.png", "scope_t2i.png"):
        assert (tmp_path / "wikipedia" / name).stat().st_size > 0
    loaded = load_results(tmp_path / "wikipedia")  # tables render again from the saved files, identically
    assert to_markdown(loaded) == (tmp_path / "wikipedia" / "results.md").read_text()
    assert to_rst(loaded) == (tmp_path / "wikipedia" / "results.rst").read_text()
    # the comparison with the papers renders from the same files
    script = REPO_ROOT / "benchmarks" / "compare_to_papers.py"
    done = subprocess.run([sys.executable, str(script), "--results", str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    readme = (tmp_path / "README.md").read_text()
    assert "| wikipedia | SCM |" in readme and "Rasiwasia et al. 2010 | same features and split |" in readme
    assert "| wikipedia (1 seed) | DSCMR |" in (tmp_path / "method_rows" / "dscmr.rst").read_text().replace(
        "\n     - ", " | ").replace("   * - ", "| ")


def test_module_entry_point_runs(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "skcross.benchmark", "--methods", "CCA,PLS", "--quiet", "--no-plots",
         "--output", str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "| PLS | pairs | cosine |" in result.stdout and not list(tmp_path.glob("*.png"))


def test_every_method_of_the_plots_has_a_colour_of_its_own():
    pytest.importorskip("matplotlib")
    from skcross.benchmark import METHODS
    from skcross.benchmark._report import curve_styles

    styles = curve_styles(list(METHODS))
    assert len({style["color"] for style in styles.values()}) == len(METHODS) >= 14
    assert styles["DSE"]["linestyle"] == "-" and styles["DSE"]["label"] == "DSE *"
    assert styles["CCA"]["linestyle"] == "--" and styles["CCA"]["label"] == "CCA"


def test_readme_and_help_agree_on_what_quick_costs():
    import subprocess
    import sys

    from conftest import REPO_ROOT

    help_text = subprocess.run([sys.executable, "-m", "skcross.benchmark", "--help"], capture_output=True,
                               text=True, check=True).stdout
    readme = (REPO_ROOT / "README.rst").read_text()
    assert "about 20 s" in " ".join(help_text.split()) and "about 20\nseconds" in readme


def _caption_dataset(n_images=(60, 20, 20), per_image=3, seed=0):
    """Images once, captions by groups, no class labels, a dev split: Flickr8k's layout, made small."""
    from sklearn.utils import Bunch

    X_img, X_txt, _, groups = make_cross_modal(sum(n_images), n_texts_per_image=per_image, return_groups=True,
                                               random_state=seed)
    data, start = {}, 0
    for split, n in zip(("train", "dev", "test"), n_images):
        rows = (groups >= start) & (groups < start + n)
        data.update({f"X_img_{split}": X_img[rows], f"X_txt_{split}": X_txt[rows], f"groups_{split}": groups[rows] - start})
        start += n
    return Bunch(**data, name="captions")


def test_a_dataset_without_labels_lists_the_label_methods_and_selects_on_dev(tmp_path):
    data = _caption_dataset()
    result = run_benchmark(data, methods=["CCA", "SM", "Contrastive"], select="dev", quick=True, progress=False)
    rows = {row["method"]: row for row in summarize(result)}
    assert rows["SM"]["skipped"] == "needs class labels (this dataset has none)" and "rsum" not in rows["SM"]
    assert {"rsum", "r@1_i2t", "medr_t2i"} <= set(rows["CCA"]) and rows["CCA"]["rsum"] > 0
    # every setting of the grid was scored on the dev split, the best one kept
    run = next(run for run in result.runs if run["method"] == "CCA")
    assert len(run["dev_scores"]) == len(list(ParameterGrid(METHODS["CCA"].grid)))
    best = max(run["dev_scores"], key=run["dev_scores"].get)
    assert best == ", ".join(f"{k}={v:g}" for k, v in run["selected"].items())
    assert "scored on the dev split" in result.protocol["selection"]
    assert result.protocol["labels"].startswith("no class labels")
    markdown = to_markdown(result)
    assert "| SM | labels | normalised correlation | needs class labels (this dataset has none) |" in markdown
    with pytest.raises(ValueError, match="needs a development split"):
        run_benchmark(load_wikipedia(), methods=["CCA"], select="dev", progress=False)


def test_add_methods_fits_only_the_new_rows_and_keeps_the_others(tmp_path):
    import importlib.util

    import shutil

    main(["--quick", "--quiet", "--no-plots", "--methods", "CCA,SM", "--output", str(tmp_path / "wikipedia")])
    spec = importlib.util.spec_from_file_location("add_methods", REPO_ROOT / "benchmarks" / "add_methods.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(SystemExit, match="run its command again with the new methods added to --methods"):
        module.add_methods(tmp_path / "wikipedia", ["PLS"], quick=True)
    shutil.rmtree(tmp_path / "wikipedia" / "fits")  # a run saved before fits were kept, as the committed ones
    before = load_results(tmp_path / "wikipedia")
    with pytest.raises(SystemExit, match="another test split"):  # the full split is not the quick run's
        module.add_methods(tmp_path / "wikipedia", ["PLS"])
    module.add_methods(tmp_path / "wikipedia", ["PLS"], quick=True)
    after = load_results(tmp_path / "wikipedia")
    assert [run["method"] for run in after.runs] == ["CCA", "SM", "PLS"]
    assert after.runs[:2] == before.runs[:2]
    np.testing.assert_array_equal(after.per_query_ap[("CCA", 0, "i2t")], before.per_query_ap[("CCA", 0, "i2t")])
    assert after.protocol["added"][0]["methods"] == ["PLS"]
    assert "Rows added on" in (tmp_path / "wikipedia" / "results.md").read_text()
