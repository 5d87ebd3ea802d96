"""UNCSM: its losses, stages, metric pairs and the learned similarity used by every ranking."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("skorch")

from sklearn.model_selection import GridSearchCV  # noqa: E402

from skcross import paired  # noqa: E402
from skcross.base import cosine_similarity  # noqa: E402
from skcross.datasets import make_cross_modal  # noqa: E402
from skcross.deep import UNCSM  # noqa: E402
from skcross.deep._uncsm import ContrastiveLoss, DoubleTripletLoss, MetricNetwork, sample_metric_pairs  # noqa: E402
from skcross.metrics import cross_modal_map, get_scorer, mean_average_precision  # noqa: E402


def small_uncsm(**kwargs):
    params = dict(max_epochs=10, batch_size=50, lr=1e-2, n_metric_pairs=4000, verbose=0, random_state=0)
    return UNCSM(**{**params, **kwargs})


@pytest.fixture(scope="module")
def data():
    X_img, X_txt, y = make_cross_modal(400, n_classes=4, n_features_text=20, random_state=0)
    return (X_img[:250], X_txt[:250], y[:250]), (X_img[250:], X_txt[250:], y[250:])


@pytest.fixture(scope="module")
def fitted(data):
    return small_uncsm().fit(*data[0])


def test_contrastive_loss_by_hand():
    torch.manual_seed(0)
    f_i, f_t, labels = torch.randn(4, 3), torch.randn(4, 3), torch.tensor([0, 1, 0, 2])
    value = ContrastiveLoss(margin=1.5)((f_i, f_t), labels).item()
    d = np.linalg.norm(f_i.numpy()[:, None] - f_t.numpy()[None], axis=-1)
    same = labels.numpy()[:, None] == labels.numpy()[None]
    expected = 0.5 * (np.mean(d[same] ** 2) + np.mean(np.maximum(0, 1.5 - d[~same]) ** 2))
    assert value == pytest.approx(expected, rel=1e-5)


def test_double_triplet_loss_by_hand():
    torch.manual_seed(0)
    gi_img, gi_txt, gt_img, gt_txt = (torch.rand(5, 3) for _ in range(4))
    labels = torch.tensor([0, 1, 0, 1, 2])
    value = DoubleTripletLoss(alpha=0.5, beta=2.0)((None, None, (gi_img, gi_txt), (gt_img, gt_txt)), labels).item()
    y = labels.numpy()

    def term(anchors, others, margin):
        a, o = anchors.numpy(), others.numpy()
        losses = [
            max(0.0, np.sum((a[k] - o[p]) ** 2) - np.sum((a[k] - o[q]) ** 2) + margin)
            for k in range(5) for p in range(5) for q in range(5) if y[p] == y[k] and y[q] != y[k]
        ]
        return np.mean(losses)

    assert value == pytest.approx(term(gi_img, gi_txt, 0.5) + term(gt_txt, gt_img, 2.0), rel=1e-5)


def test_metric_pairs_are_balanced_and_correct():
    codes = np.repeat([0, 1, 2, 3], [5, 1, 30, 14])
    image, text, target = sample_metric_pairs(codes, 20_001, np.random.default_rng(0))
    assert target.sum() == 10_000 and len(target) == 20_001
    np.testing.assert_array_equal(codes[image] == codes[text], target == 1)
    # a dissimilar partner is uniform over the items of other classes
    anchors_of_1 = (codes[image] == 1) & (target == 0)
    partner_classes = np.bincount(codes[text[anchors_of_1]], minlength=4) / anchors_of_1.sum()
    np.testing.assert_allclose(partner_classes, [5 / 49, 0, 30 / 49, 14 / 49], atol=0.08)


def test_metric_network_split_first_layer_and_blocks():
    torch.manual_seed(0)
    net = MetricNetwork(6, width=8).eval()
    Z_i, Z_t = torch.randn(7, 6), torch.randn(5, 6)
    with torch.no_grad():
        full = net.similarity_log_odds(Z_i, Z_t)
        blocked = net.similarity_log_odds(Z_i, Z_t, block_pairs=6)  # one image row at a time
        one = net(Z_i[3:4], Z_t[2:3])[0]
    np.testing.assert_allclose(blocked.numpy(), full.numpy(), rtol=1e-6)
    assert full[3, 2].item() == pytest.approx((one[1] - one[0]).item(), rel=1e-5)
    first = torch.nn.Linear(12, 8)  # the same function as one layer on the concatenation
    with torch.no_grad():
        first.weight.copy_(torch.cat([net.first_image.weight, net.first_text.weight], 1))
        first.bias.copy_(net.first_image.bias)
        np.testing.assert_allclose(
            net.rest(first(torch.cat([Z_i[3:4], Z_t[2:3]], 1))).numpy(), one[None].numpy(), rtol=1e-5
        )


def test_stages_run_in_order_with_their_histories(fitted):
    assert list(fitted.stage_nets_) == ["features", "pretrain", "finetune", "metric"]
    assert fitted.stage_epochs_ == {"features": 10, "pretrain": 10, "finetune": 10, "metric": 3}
    assert fitted.n_epochs_ == 33
    assert fitted.net_ is fitted.stage_nets_["finetune"] and fitted.metric_net_ is fitted.stage_nets_["metric"]
    for net in fitted.stage_nets_.values():
        assert np.isfinite(net.history[:, "train_loss"]).all()
    features = fitted.stage_nets_["features"].module_.image_tower
    assert all(not p.requires_grad for p in features.parameters())  # frozen after its stage
    assert fitted.transform_image(np.zeros((3, fitted.n_features_image_in_))).shape == (3, 256)


def test_ablations_skip_their_stages(data):
    train, _ = data
    no_pretrain = small_uncsm(max_epochs=2, pretrain=False, similarity_metric="cosine").fit(*train)
    assert list(no_pretrain.stage_nets_) == ["features", "finetune"] and no_pretrain.metric_net_ is None
    raw = small_uncsm(max_epochs=2, feature_network=False, n_metric_pairs=200).fit(*train)  # widths 24 and 20
    assert list(raw.stage_nets_) == ["pretrain", "finetune", "metric"]
    assert raw.transform_text(train[1][:2]).shape == (2, 256)


def test_learned_similarity_ranks_everything(fitted, data):
    _, (T_img, T_txt, t) = data
    S = fitted.similarity(T_img, T_txt)
    Z_i, Z_t = fitted.transform_image(T_img), fitted.transform_text(T_txt)
    cosine = cosine_similarity(Z_i, Z_t)
    assert not np.allclose(np.argsort(-S, axis=1), np.argsort(-cosine, axis=1))  # a different ranking
    scores = cross_modal_map(fitted, T_img, T_txt, t)
    assert scores["i2t"] == pytest.approx(mean_average_precision(S, t, t))
    assert scores["t2i"] == pytest.approx(mean_average_precision(S.T, t, t))
    assert scores["i2t"] != pytest.approx(mean_average_precision(cosine, t, t))
    assert get_scorer("map_i2t")(fitted, paired(T_img, T_txt), t) == pytest.approx(scores["i2t"])
    chance = mean_average_precision(np.random.RandomState(0).rand(len(t), len(t)), t, t)
    assert scores["mean"] > chance + 0.2, (scores, chance)


def test_grid_search_ranks_by_the_learned_similarity(data):
    train, _ = data
    search = GridSearchCV(
        small_uncsm(max_epochs=2, n_metric_pairs=500),
        {"similarity_metric": ["network", "cosine"]},
        scoring=get_scorer("map"),
        cv=2,
    ).fit(paired(*train[:2]), train[2])
    scores = search.cv_results_["mean_test_score"]
    assert len(scores) == 2 and scores[0] != scores[1]


def test_stage_params_are_validated(data):
    train, _ = data
    with pytest.raises(ValueError, match="unknown stages"):
        small_uncsm(stage_params={"metrics": {}}).fit(*train)
    with pytest.raises(ValueError, match="unknown keys"):
        small_uncsm(stage_params={"metric": {"epochs": 2}}).fit(*train)
    model = small_uncsm(max_epochs=2, stage_params={"metric": {"max_epochs": 1}, "pretrain": {"max_epochs": 4}})
    assert model.fit(*train).stage_epochs_ == {"features": 2, "pretrain": 4, "finetune": 2, "metric": 1}


def test_inputs_are_standardised_with_training_statistics(data, fitted):
    """Each modality is standardised by statistics of the training rows, in fit and in every embedding path."""
    (X_img, X_txt, _), (X_img_test, _, _) = data
    np.testing.assert_allclose(fitted.image_scaler_.mean_, X_img.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fitted.text_scaler_.scale_, X_txt.std(0), rtol=1e-4)
    by_hand = fitted._embed(((X_img_test - fitted.image_scaler_.mean_) / fitted.image_scaler_.scale_).astype(np.float32),
                            "embed_image")
    np.testing.assert_allclose(fitted.transform_image(X_img_test), by_hand, rtol=1e-5, atol=1e-5)
    # a constant column keeps scale 1 (no division by zero); standardize=False keeps the raw features
    constant = X_img.copy()
    constant[:, 0] = 3.0
    model = small_uncsm(max_epochs=1, similarity_metric="cosine").fit(constant, X_txt, data[0][2])
    assert model.image_scaler_.scale_[0] == 1.0 and np.isfinite(model.transform_image(constant)).all()
    raw = small_uncsm(max_epochs=1, similarity_metric="cosine", standardize=False).fit(X_img, X_txt, data[0][2])
    assert not hasattr(raw, "image_scaler_")


def test_stage_losses_declare_their_collapsed_values():
    from skcross.deep._uncsm import SoftmaxLoss, _CrossEntropy

    assert ContrastiveLoss(2.0).collapsed_loss(None) == 1.0  # margin^2 / 4
    assert DoubleTripletLoss(1.0, 0.5).collapsed_loss(None) == 1.5  # alpha + beta
    assert _CrossEntropy().collapsed_loss(np.array([0, 1, 0, 1])) == pytest.approx(np.log(2))
    assert SoftmaxLoss().collapsed_loss(np.array([0, 0, 0, 1])) == pytest.approx(-(0.75 * np.log(0.75) + 0.25 * np.log(0.25)))
    # the constant solution of the contrastive loss: every distance margin / 2
    f = torch.zeros(4, 3)
    g = torch.zeros(4, 3)
    g[:, 0] = 1.0  # distance 1 everywhere, margin 2
    assert ContrastiveLoss(2.0)((f, g), torch.tensor([0, 1, 0, 1])).item() == pytest.approx(1.0)
