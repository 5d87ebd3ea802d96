"""Instance-level retrieval: several captions per image, relevant = the same image."""

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, GroupKFold

from skcross import paired
from skcross.benchmark import run_benchmark, save_results, to_latex, to_markdown
from skcross.benchmark._cli import synthetic_captions
from skcross.datasets import make_cross_modal
from skcross.linear import CCA
from skcross.metrics import (
    cross_modal_instance_scores,
    first_relevant_rank,
    get_scorer,
    instance_retrieval_scores,
    mean_average_precision,
    unique_images,
)
from skcross.retrieval import CrossModalIndex


def _reference(S, groups, ks=(1, 5, 10)):
    """Written here from the definitions (VSE++ / FiCo-ITR): ranks by a stable sort, one loop per query."""
    n_img, n_txt = S.shape
    out = {}
    ranks_i2t = []
    for i in range(n_img):
        order = np.argsort(-S[i], kind="stable")
        ranks_i2t.append(min(int(np.flatnonzero(order == j)[0]) for j in np.flatnonzero(groups == i)) + 1)
    ranks_t2i = []
    for j in range(n_txt):
        order = np.argsort(-S[:, j], kind="stable")
        ranks_t2i.append(int(np.flatnonzero(order == groups[j])[0]) + 1)
    for d, ranks in (("i2t", np.array(ranks_i2t)), ("t2i", np.array(ranks_t2i))):
        out[d] = {**{f"R@{k}": np.mean(ranks <= k) for k in ks}, "medr": np.floor(np.median(ranks)),
                  "meanr": ranks.mean()}
    # mAP with every caption of the image relevant
    aps = []
    for i in range(n_img):
        rel = groups[np.argsort(-S[i], kind="stable")] == i
        aps.append(np.mean(np.cumsum(rel)[rel] / (np.flatnonzero(rel) + 1)))
    out["i2t"]["map"] = np.mean(aps)
    return out


@pytest.mark.parametrize("seed", range(6))
def test_instance_scores_equal_a_direct_implementation_with_ties_and_uneven_captions(seed):
    rng = np.random.default_rng(seed)
    n_img = 30
    counts = rng.integers(1, 8, n_img)  # 1 to 7 captions per image
    groups = rng.permutation(np.repeat(np.arange(n_img), counts))  # captions in any order
    S = rng.integers(0, 6, size=(n_img, len(groups))).astype(float)  # many ties
    ours, expected = instance_retrieval_scores(S, groups), _reference(S, groups)
    for d in ("i2t", "t2i"):
        for key in ("R@1", "R@5", "R@10", "medr", "meanr"):
            assert ours[d][key] == pytest.approx(expected[d][key], abs=1e-12), (d, key)
    assert ours["i2t"]["map"] == pytest.approx(expected["i2t"]["map"], abs=1e-12)
    assert ours["rsum"] == pytest.approx(sum(expected[d][f"R@{k}"] for d in ("i2t", "t2i") for k in (1, 5, 10)))


def test_five_captions_count_every_caption_as_relevant():
    """The pitfall of counting only the first of five captions: here it gives R@1 = 0, the right answer 1."""
    n_img = 4
    groups = np.repeat(np.arange(n_img), 5)
    S = np.full((n_img, 20), -1.0)
    for i in range(n_img):
        S[i, 5 * i + 4] = 1.0  # each image's *last* caption is its best match
        S[i, 5 * i] = -0.5  # its first caption ranks behind the other images' best captions
    scores = instance_retrieval_scores(S, groups)
    assert scores["i2t"]["R@1"] == 1.0
    only_first = np.where(np.arange(20) % 5 == 0, groups, -1)  # the wrong convention: one caption relevant
    first_caption_only = first_relevant_rank(S, np.arange(n_img), only_first)
    assert np.all(first_caption_only == 2)  # R@1 would be 0


def test_first_relevant_rank_and_errors():
    assert first_relevant_rank([[0.5, 0.5, 0.9]], [1], [1, 1, 0]).tolist() == [2.0]  # tie: database order
    assert np.isinf(first_relevant_rank([[0.1, 0.2]], [5], [1, 2])[0])
    with pytest.raises(ValueError, match="not among the image rows"):
        instance_retrieval_scores(np.zeros((2, 3)), [0, 1, 7])
    with pytest.raises(ValueError, match="1 image\\(s\\) have no text"):
        instance_retrieval_scores(np.zeros((3, 3)), [0, 1, 1])
    with pytest.raises(ValueError, match="ks must be positive integers"):
        instance_retrieval_scores(np.zeros((2, 2)), [0, 1], ks=(0,))
    with pytest.raises(ValueError, match="groups must hold integer or string image ids"):
        unique_images([0.5, 1.5])


def test_make_cross_modal_five_captions_per_image():
    X_img, X_txt, y, groups = make_cross_modal(60, n_texts_per_image=5, return_groups=True, random_state=0)
    assert X_img.shape == (300, 64) and X_txt.shape == (300, 32) and y.shape == (300,)
    assert np.array_equal(groups, np.repeat(np.arange(60), 5))
    for g in range(60):  # an image's rows and labels are repeated, its captions differ
        rows = groups == g
        assert (X_img[rows] == X_img[rows][0]).all() and len(set(y[rows].tolist())) == 1
        assert len(np.unique(X_txt[rows], axis=0)) == 5
    # the default output is unchanged by the new options
    a, b = make_cross_modal(50, random_state=3), make_cross_modal(50, return_groups=True, random_state=3)
    assert all(np.array_equal(u, v) for u, v in zip(a, b)) and np.array_equal(b[3], np.arange(50))
    with pytest.raises(ValueError, match="Pass return_groups=True"):
        make_cross_modal(50, n_texts_per_image=5)


def _assert_scores_equal(a, b):
    assert a["rsum"] == pytest.approx(b["rsum"])
    for d in ("i2t", "t2i"):
        assert a[d] == pytest.approx(b[d])


@pytest.fixture(scope="module")
def captions():
    X_img, X_txt, y, groups = make_cross_modal(200, n_texts_per_image=5, return_groups=True, random_state=1)
    train = groups < 150
    model = CCA(8).fit(X_img[train], X_txt[train])
    return model, X_img[~train], X_txt[~train], y[~train], groups[~train]


def test_estimator_scores_equal_the_matrix_scores_and_scale_blockwise(captions, monkeypatch):
    model, X_img, X_txt, _, groups = captions
    rows, ids = unique_images(groups)
    S = model.similarity(X_img[rows], X_txt)
    expected = instance_retrieval_scores(S, groups, ids)
    _assert_scores_equal(cross_modal_instance_scores(model, X_img, X_txt, groups), expected)
    # one row per image with image_ids gives the same
    _assert_scores_equal(cross_modal_instance_scores(model, X_img[rows], X_txt, groups, image_ids=ids), expected)
    # similarities made block by block (tiny blocks) give the same numbers
    from skcross.metrics import _ranking

    monkeypatch.setattr(_ranking, "fits_in_one_block", lambda n: False)
    monkeypatch.setattr(_ranking, "rows_per_block", lambda bytes_per_row: 2)
    _assert_scores_equal(cross_modal_instance_scores(model, X_img, X_txt, groups, n_jobs=2), expected)
    # the instance mAP is the label mAP with image ids as labels
    assert expected["t2i"]["map"] == pytest.approx(mean_average_precision(S.T, groups, ids))
    with pytest.raises(ValueError, match="one row per pair"):
        cross_modal_instance_scores(model, X_img[rows], X_txt, groups)


def test_instance_scorers_read_groups_from_paired_data(captions):
    model, X_img, X_txt, _, groups = captions
    scores = cross_modal_instance_scores(model, X_img, X_txt, groups)
    X = paired(X_img, X_txt, groups=groups)
    assert get_scorer("instance_recall@5_i2t")(model, X) == scores["i2t"]["R@5"]
    assert get_scorer("instance_recall@10")(model, X) == pytest.approx((scores["i2t"]["R@10"] + scores["t2i"]["R@10"]) / 2)
    assert get_scorer("neg_instance_medr_t2i")(model, X) == -scores["t2i"]["medr"]
    assert get_scorer("instance_rsum")(model, X) == pytest.approx(scores["rsum"])
    assert get_scorer("instance_map")(model, X) == pytest.approx((scores["i2t"]["map"] + scores["t2i"]["map"]) / 2)
    assert np.array_equal(X[[0, 7]].groups, groups[[0, 7]])  # rows keep their groups
    with pytest.raises(TypeError, match="groups=groups"):
        get_scorer("instance_rsum")(model, paired(X_img, X_txt))
    for bad in ("instance_recall", "instance_rsum_i2t", "instance_map@5"):
        with pytest.raises(ValueError, match="not a valid scoring"):
            get_scorer(bad)


def test_grid_search_keeps_an_image_s_captions_in_one_fold():
    X_img, X_txt, y, groups = make_cross_modal(120, n_texts_per_image=5, return_groups=True, random_state=0)
    X = paired(X_img, X_txt, groups=groups)
    seen = []

    def scorer(estimator, X_fold, y_fold=None):
        seen.append(X_fold.groups)
        return get_scorer("instance_rsum")(estimator, X_fold)

    search = GridSearchCV(CCA(), {"n_components": [2, 8]}, scoring=scorer, cv=GroupKFold(3)).fit(X, groups=groups)
    assert search.best_params_ == {"n_components": 8}
    for fold_groups in seen:
        for g in np.unique(fold_groups):  # every caption of a test image is in the test fold
            assert np.count_nonzero(fold_groups == g) == 5


def test_index_recall_equals_the_metric_in_both_directions(captions):
    model, X_img, X_txt, _, groups = captions
    scores = cross_modal_instance_scores(model, X_img, X_txt, groups)
    rows, ids = unique_images(groups)
    texts = CrossModalIndex(model).add(X_txt, modality="text", ids=[f"cap{i}" for i in range(len(groups))],
                                       groups=groups)
    assert texts.recall_at_k(X_img[rows], ids) == {key: scores["i2t"][key] for key in ("R@1", "R@5", "R@10")}
    images = CrossModalIndex(model).add(X_img[rows], modality="image", ids=ids)  # an image's group is its id
    assert images.recall_at_k(X_txt, groups, ks=(1, 5)) == {key: scores["t2i"][key] for key in ("R@1", "R@5")}
    with pytest.raises(ValueError, match="pass groups= for these rows too"):
        texts.add(X_txt[:2], modality="text", ids=["x", "y"])
    with pytest.raises(ValueError, match="no item in the index"):
        images.recall_at_k(X_txt[:1], [10_000])


def test_benchmark_runs_instance_level_on_five_captions(tmp_path):
    data = synthetic_captions(n_images=120, n_test_images=40)
    result = run_benchmark(data, methods=["CCA", "PLS", "SM"], seeds=(0,), progress=False)
    assert result.protocol["relevance"].startswith("instance") and result.test_labels is None
    run = next(r for r in result.runs if r["method"] == "CCA")
    test = data.groups_test
    assert len(result.per_query_ap[("CCA", 0, "i2t")]) == len(np.unique(test))
    assert len(result.per_query_ap[("CCA", 0, "t2i")]) == len(test)
    assert run["map_i2t"] == pytest.approx(result.per_query_ap[("CCA", 0, "i2t")].mean())
    assert 0 <= run["r@1_i2t"] <= run["r@5_i2t"] <= run["r@10_i2t"] <= 1
    markdown = to_markdown(result)
    assert "| method | supervision | similarity | R@1 i2t |" in markdown and "random ranking" in markdown
    assert "\\multicolumn{3}{c}{image $\\rightarrow$ text}" in to_latex(result)
    save_results(result, tmp_path, plots=True)
    assert not list(tmp_path.glob("*.png"))  # no class curves for instance relevance
    quick = run_benchmark(data, methods=["CCA"], quick=True, progress=False)
    assert "whole images" in quick.protocol["quick"]["test pairs"]
