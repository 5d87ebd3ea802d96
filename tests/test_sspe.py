"""SSPE: the graphs, the sampler, memory linear in n, the objective and retrieval quality."""

import tracemalloc

import numpy as np
import pytest
import sklearn
from sklearn.exceptions import NotFittedError
from sklearn.neighbors import NearestNeighbors

pytest.importorskip("skorch", reason="the deep extra (torch, skorch) is not installed")

import torch  # noqa: E402

from skcross.datasets import make_cross_modal  # noqa: E402
from skcross.deep import SSPE  # noqa: E402
from skcross.deep._sspe import (  # noqa: E402
    FeatureGraph,
    SemanticGraph,
    SSPELoss,
    sample_round,
)
from skcross.deep._callbacks import StepDecayPerBatches  # noqa: E402
from skcross.linear import CCA, MLCCA  # noqa: E402
from skcross.metrics import cross_modal_map  # noqa: E402

from conftest import shared_datasets_dir  # noqa: E402

from skcross.datasets import load_dataset  # noqa: E402


@pytest.fixture(scope="module")
def multilabel():
    return make_cross_modal(900, n_classes=8, multilabel=True, n_labels=3, random_state=0)


# --------------------------------------------------------------------------- the semantic graph
def test_semantic_neighbours_are_drawn_in_proportion_to_the_cosine_weight():
    Y = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1], [1, 0, 0]], dtype=np.uint8)
    graph = SemanticGraph(Y, Y)
    rng = np.random.default_rng(0)
    anchors = np.zeros(40_000, dtype=np.int64)  # item 0, labels {0}
    for target in (0, 1):
        drawn, found = graph.sample_neighbours(anchors, 0, target, 3, rng)
        assert found.all()
        cosine = (Y @ Y[0]) / np.linalg.norm(Y, axis=1) / np.linalg.norm(Y[0])
        if target == 0:
            cosine[0] = 0  # an item is not its own neighbour in its own modality
        expected = cosine / cosine.sum()
        frequency = np.bincount(drawn.ravel(), minlength=len(Y)) / drawn.size
        np.testing.assert_allclose(frequency, expected, atol=0.01)
        assert frequency[3] == 0 and frequency[2] == 0  # no shared label, no edge


def test_rbf_weights_and_items_without_neighbours():
    Y_img = np.array([[1, 0], [1, 1], [0, 1]], dtype=np.uint8)
    Y_txt = np.array([[1, 0], [1, 0]], dtype=np.uint8)
    graph = SemanticGraph(Y_img, Y_txt, similarity="rbf", sigma=2.0)
    W = graph.weights(np.arange(len(graph.sets)))
    sets = graph.sets
    expected = np.exp(-((sets[:, None] - sets[None]) ** 2).sum(-1) / 2.0) * (sets @ sets.T > 0)
    np.testing.assert_allclose(W, expected, rtol=1e-6)
    # image 2 (label 1 only) has no text sharing a label: no neighbour, masked out
    _, found = graph.sample_neighbours(np.array([0, 2]), 0, 1, 4, np.random.default_rng(0))
    assert found.tolist() == [True, False]


def test_cosine_sampler_matches_the_weights_on_random_multilabel_sets():
    """Exact weight-proportional draws (the anchor excluded) for anchors with several labels, both modalities."""
    rng = np.random.default_rng(3)
    Y_img = (rng.random((40, 5)) < 0.35).astype(np.uint8)
    Y_txt = (rng.random((30, 5)) < 0.35).astype(np.uint8)
    graph = SemanticGraph(Y_img, Y_txt)
    for anchor in np.flatnonzero(Y_img.sum(1) >= 2)[:3]:
        for target, Y in ((0, Y_img), (1, Y_txt)):
            norms = np.linalg.norm(Y, axis=1) * np.linalg.norm(Y_img[anchor])
            weights = np.divide(Y @ Y_img[anchor], norms, out=np.zeros(len(Y)), where=norms > 0)
            if target == 0:
                weights[anchor] = 0
            drawn, found = graph.sample_neighbours(np.full(20_000, anchor), 0, target, 4, rng)
            assert found.all()
            frequency = np.bincount(drawn.ravel(), minlength=len(Y)) / drawn.size
            np.testing.assert_allclose(frequency, weights / weights.sum(), atol=0.01)


def test_a_single_pair_is_refused_clearly():
    X_img, X_txt, y = make_cross_modal(10, random_state=0)
    with pytest.raises(ValueError, match="SSPE needs at least 2 image rows"):
        SSPE(verbose=0).fit(X_img[:1], X_txt[:1], y[:1])


def test_items_without_labels_have_no_semantic_neighbour_and_no_warning():
    import warnings

    Y = np.array([[0, 0], [1, 0], [1, 0], [0, 0]], dtype=np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning from a division by a zero-label norm
        for similarity in ("cosine", "rbf"):
            graph = SemanticGraph(Y, Y, similarity=similarity)
            _, found = graph.sample_neighbours(np.arange(4), 0, 1, 3, np.random.default_rng(0))
            assert found.tolist() == [False, True, True, False]
        empty = SemanticGraph(np.zeros((3, 2), np.uint8), np.zeros((3, 2), np.uint8))
        assert not empty.sample_neighbours(np.arange(3), 0, 1, 2, np.random.default_rng(0))[1].any()


def test_singleton_label_set_has_no_same_modality_neighbour():
    Y = np.array([[1, 0], [0, 1], [0, 1]], dtype=np.uint8)
    graph = SemanticGraph(Y, Y)
    drawn, found = graph.sample_neighbours(np.array([0, 1]), 0, 0, 5, np.random.default_rng(0))
    assert found.tolist() == [False, True] and set(drawn[1]) == {2}


# --------------------------------------------------------------------------- the feature graphs
def test_feature_graph_links_neighbours_and_reverse_neighbours():
    X = np.random.default_rng(0).standard_normal((60, 5))
    graph = FeatureGraph(X, 4)
    knn = NearestNeighbors(n_neighbors=5).fit(X).kneighbors(X, return_distance=False)[:, 1:]
    expected = np.zeros((60, 60), dtype=bool)
    expected[np.repeat(np.arange(60), 4), knn.ravel()] = True
    expected |= expected.T  # reverse neighbours count: a plain kneighbors query is not enough
    np.testing.assert_array_equal(graph.adjacency.toarray(), expected)
    assert expected.sum(1).max() > 4  # some item is somebody else's neighbour without choosing it
    rng = np.random.default_rng(1)
    anchors = np.arange(60)
    assert expected[anchors[:, None], graph.sample_neighbours(anchors, 8, rng)].all()
    others = rng.integers(60, size=(60, 30))
    np.testing.assert_array_equal(graph.linked(anchors, others), expected[anchors[:, None], others] | (others == anchors[:, None]))


def test_sampled_round_respects_the_graphs(multilabel):
    X_img, X_txt, Y = multilabel
    semantic = SemanticGraph(Y, Y)
    features = (FeatureGraph(X_img, 8), FeatureGraph(X_txt, 8))
    anchors = (np.arange(len(Y)), np.random.default_rng(0).permutation(len(Y)))
    own, other, masks = sample_round(semantic, features, anchors, (2, 6, 8), np.random.default_rng(1))
    for source in (0, 1):
        a = anchors[source]
        assert (own[source][:, 0] == a).all() and own[source].shape == (len(Y), 21) and other[source].shape == (len(Y), 12)
        shares = lambda rows: (Y[a][:, None] * Y[rows]).sum(-1) > 0  # noqa: E731
        same_pos, same_neg = own[source][:, 1:3], own[source][:, 3:5]
        feature_pos, feature_neg = own[source][:, 5:13], own[source][:, 13:21]
        mask = masks[source].astype(bool)
        assert shares(same_pos).all() and (same_pos != a[:, None]).all()
        assert shares(other[source][:, :6]).all()
        assert not shares(same_neg)[mask[:, :2]].any() and not shares(other[source][:, 6:])[mask[:, 2:8]].any()
        adjacency = features[source].adjacency.toarray()
        assert adjacency[a[:, None], feature_pos].all()
        assert not adjacency[a[:, None], feature_neg][mask[:, 8:]].any() and (feature_neg != a[:, None]).all()
        assert mask.mean() > 0.99


# --------------------------------------------------------------------------- nothing is n x n
def test_graph_building_and_sampling_never_hold_an_n_by_n_array():
    """At n = 50,000 an n x n float64 matrix is 20 GB; the peak of the whole pipeline stays far below."""
    n = 50_000
    X_img, X_txt, Y = make_cross_modal(
        n, n_classes=12, n_features_image=16, n_features_text=8, multilabel=True, n_labels=3, random_state=0
    )
    X_img, X_txt = X_img.astype(np.float32), X_txt.astype(np.float32)
    tracemalloc.start()
    with sklearn.config_context(working_memory=64):  # exact kNN in 64 MiB blocks
        semantic = SemanticGraph(Y, Y)
        features = (FeatureGraph(X_img, 8), FeatureGraph(X_txt, 8))
        rng = np.random.default_rng(0)
        sample_round(semantic, features, (rng.permutation(n), rng.permutation(n)), (2, 6, 8), rng)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 400 * 2**20, f"peak {peak / 2**20:.0f} MiB"  # n x n float64: 19,073 MiB; int8: 2,384 MiB


# --------------------------------------------------------------------------- the objective and the schedule
def test_loss_matches_the_formula():
    torch.manual_seed(0)
    k1, k2, kf, B, d, L = 1, 2, 2, 3, 4, 5
    groups, targets = [], torch.rand(B, 2, L)
    for _ in range(2):
        groups.append((torch.randn(B, 1 + 2 * k1 + 2 * kf, d), torch.randn(B, 2 * k2, d), torch.ones(B, k1 + k2 + kf), torch.randn(B, L)))
    loss = SSPELoss((k1, k2, kf), alpha1=0.3, alpha2=0.7)(groups, targets)
    expected = 0.0
    for g, (own, other, _, rec) in enumerate(groups):
        for b in range(B):
            a = own[b, 0]
            logsig = torch.nn.functional.logsigmoid
            semantic = -sum(logsig(a @ own[b, 1 + i]) + logsig(-a @ own[b, 1 + k1 + i]) for i in range(k1))
            semantic -= sum(logsig(a @ other[b, i]) + logsig(-a @ other[b, k2 + i]) for i in range(k2))
            feature = -sum(logsig(a @ own[b, 1 + 2 * k1 + i]) + logsig(-a @ own[b, 1 + 2 * k1 + kf + i]) for i in range(kf))
            expected += semantic + 0.3 * ((rec[b] - targets[b, g]) ** 2).sum() + 0.7 * feature
    assert loss.item() == pytest.approx(expected.item() / (2 * B), rel=1e-5)


def test_learning_rate_decays_every_n_batches_across_rounds(multilabel):
    X_img, X_txt, Y = multilabel
    decay = StepDecayPerBatches(every=7, gamma=0.5)
    model = SSPE(n_rounds=3, n_batches_per_round=10, callbacks=[("decay", decay)], random_state=0).fit(X_img, X_txt, Y)
    assert model.n_batches_ == 30 and model.n_epochs_ == 3
    lr = model.net_.optimizer_.param_groups[0]["lr"]
    assert lr == pytest.approx(0.01 * 0.5 ** (30 // 7))  # the count runs on over the rounds


def test_default_settings_are_the_papers():
    model = SSPE()
    assert (model.n_components, model.hidden_sizes, model.alpha1, model.alpha2) == (32, (64,), 0.1, 0.1)
    assert (model.n_neighbors, model.n_semantic_same, model.n_semantic_other, model.n_feature_samples) == (8, 2, 6, 8)
    assert (model.n_rounds, model.batch_size, model.lr, model.optimizer, model.weight_decay) == (5, 5, 0.01, "sgd", 1e-3)
    assert model._default_optimizer_params() == {"momentum": 0.9}
    (name, decay), = model._default_callbacks(1)
    assert (decay.every, decay.gamma) == (2000, 0.95)
    # the paper's 10,000 iterations: 5 rounds of at least 2,000 batches of 5 anchors, or one pass when longer
    assert model.n_batches_per_round == "auto"
    assert model._anchors_per_round(400) == 10_000 and model._anchors_per_round(50_000) == 50_000
    assert SSPE(n_batches_per_round=None)._anchors_per_round(400) == 400
    assert SSPE(n_rounds=2, max_epochs=2)._anchors_per_round(400) == 2500 * 5


# --------------------------------------------------------------------------- fitting
def test_unpaired_and_single_label_fits(multilabel):
    X_img, X_txt, Y = multilabel
    model = SSPE(n_rounds=2, n_batches_per_round=None, random_state=0).fit(X_img[:500], X_txt[200:900], (Y[:500], Y[200:900]))
    assert model.transform_text(X_txt[:3]).shape == (3, 32) and model.n_labels_ == Y.shape[1]
    y = np.array(["a", "b", "c"])[np.arange(300) % 3]
    single = SSPE(n_rounds=1, n_batches_per_round=None, label_similarity="rbf", random_state=0).fit(X_img[:300], X_txt[:300], y)
    assert single.classes_.tolist() == ["a", "b", "c"] and single.n_labels_ == 3
    with pytest.raises(ValueError, match="both be 1-D class labels or both 2-D"):
        SSPE().fit(X_img[:300], X_txt[:200], (y, Y[:200]))


def test_diverging_training_reports_and_leaves_no_model(multilabel):
    X_img, X_txt, Y = multilabel
    model = SSPE(alpha2=0.0, n_rounds=1, lr=1e3, random_state=0)  # alpha2 = 0 and a huge step: diverges
    with pytest.raises(FloatingPointError, match="epoch 1; lower the learning rate"):
        model.fit(X_img, X_txt, Y)
    with pytest.raises(NotFittedError):
        model.transform_image(X_img)


def test_sspe_beats_cca_and_mlcca_on_multilabel_data(multilabel):
    X_img, X_txt, Y = multilabel
    tr, te = slice(0, 600), slice(600, None)
    scores = {
        name: cross_modal_map(est.fit(X_img[tr], X_txt[tr], Y[tr]), X_img[te], X_txt[te], Y[te])
        for name, est in [("cca", CCA()), ("mlcca", MLCCA()), ("sspe", SSPE(n_batches_per_round=None, random_state=0))]
    }
    for direction in ("i2t", "t2i"):
        assert scores["sspe"][direction] > max(scores["cca"][direction], scores["mlcca"][direction]), scores


def test_sspe_defaults_on_cub_reach_the_papers_budget_and_beat_mlcca():
    """The paper's 10,000 updates (the default) on CUB-10: 0.51 with one pass per round (400 updates)."""
    path = shared_datasets_dir()
    if not (path / "cub10_googlenet1024_doc2vec300.npz").exists():
        pytest.skip(f"real benchmark features not found in {path} (set SKCROSS_SHARED_DATASETS)")
    d = load_dataset("cub10", data_home=path, download_if_missing=False)
    sspe = SSPE(verbose=0, random_state=0).fit(d.X_img_train, d.X_txt_train, d.y_train)
    assert sspe.n_batches_ == 10_000
    ours = cross_modal_map(sspe, d.X_img_test, d.X_txt_test, d.y_test)
    mlcca = cross_modal_map(MLCCA().fit(d.X_img_train, d.X_txt_train, d.y_train), d.X_img_test, d.X_txt_test, d.y_test)
    assert ours["mean"] >= 0.65 and ours["i2t"] > mlcca["i2t"] and ours["t2i"] > mlcca["t2i"], (ours, mlcca)
