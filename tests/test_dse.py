"""DSE: its three losses, the center update, class-matched unpaired batches and the image encoder."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("skorch")

from skorch.callbacks import EarlyStopping, LRScheduler  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from torch import nn  # noqa: E402

from conftest import shared_datasets_dir  # noqa: E402
from skcross import paired  # noqa: E402
from skcross.datasets import load_dataset, make_cross_modal  # noqa: E402
from skcross.deep import DSE, ClassMatchedDataset  # noqa: E402
from skcross.deep._dse import DSELoss  # noqa: E402
from skcross.linear import CCA  # noqa: E402
from skcross.metrics import cross_modal_map, get_scorer, mean_average_precision  # noqa: E402


def small_dse(**kwargs):
    params = dict(n_components=32, max_epochs=15, callbacks=[], verbose=0, random_state=0)
    return DSE(**{**params, **kwargs})


@pytest.fixture(scope="module")
def data():
    X_img, X_txt, y = make_cross_modal(450, n_classes=4, random_state=0)
    return (X_img[:300], X_txt[:300], y[:300]), (X_img[300:], X_txt[300:], y[300:])


def _log_softmax_nll(logits, labels):
    logits = logits - logits.max(1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    return -log_p[np.arange(len(labels)), labels].mean()


@pytest.mark.parametrize("kind", ["softmax", "center", "dist_softmax"])
def test_losses_by_hand(kind):
    torch.manual_seed(0)
    loss = DSELoss(kind, n_components=3, n_classes=4, lam=0.3, center_alpha=0.5).eval()
    if kind == "center":
        loss.centers.copy_(torch.randn(4, 3))
    z_img, z_txt, labels = torch.randn(6, 3), torch.randn(6, 3), torch.tensor([0, 1, 3, 3, 2, 0])
    value = loss((z_img, z_txt), labels).item()
    y = labels.numpy()

    def one(z):
        z = z.numpy()
        if kind == "dist_softmax":
            c = loss.centers.detach().numpy()
            d = ((z[:, None, :] - c[None]) ** 2).sum(-1)
            return _log_softmax_nll(-d, y) + 0.3 * d[np.arange(6), y].mean()
        W, b = loss.classifier.weight.detach().numpy(), loss.classifier.bias.detach().numpy()
        nll = _log_softmax_nll(z @ W.T + b, y)
        if kind == "softmax":
            return nll
        return nll + 0.3 * ((z - loss.centers.numpy()[y]) ** 2).sum(1).mean()

    assert value == pytest.approx(0.5 * one(z_img) + 0.5 * one(z_txt), rel=1e-5)


def test_center_update_rule():
    loss = DSELoss("center", n_components=2, n_classes=3, lam=0.01, center_alpha=0.5)
    loss.centers.copy_(torch.tensor([[0.0, 0.0], [1.0, 1.0], [5.0, 5.0]]))
    z_img = torch.tensor([[2.0, 0.0], [4.0, 2.0]])
    z_txt = torch.tensor([[0.0, 2.0], [6.0, 0.0]])
    labels = torch.tensor([0, 1])
    loss.eval()((z_img, z_txt), labels)  # evaluation never moves the centers
    np.testing.assert_array_equal(loss.centers.numpy(), [[0, 0], [1, 1], [5, 5]])
    loss.train()((z_img, z_txt), labels)
    # class 0: mean of (2,0) and (0,2) = (1,1), c <- c - 0.5 (c - mean) = (0.5, 0.5);
    # class 1: mean of (4,2) and (6,0) = (5,1) -> (3, 1); class 2 is not in the batch: unchanged
    np.testing.assert_allclose(loss.centers.numpy(), [[0.5, 0.5], [3.0, 1.0], [5.0, 5.0]])
    assert not loss.centers.requires_grad and "centers" not in dict(loss.named_parameters())


def test_patiences_are_the_papers_steps_never_fewer_epochs():
    dse = DSE()
    for steps_per_epoch, plateau, stopping in [(68, 10, 15), (13, 53, 79), (200, 10, 15)]:
        callbacks = dict(dse._default_callbacks(steps_per_epoch))
        assert callbacks["lr_plateau"].kwargs["patience"] == plateau
        assert callbacks["early_stopping"].patience == stopping


@pytest.mark.parametrize("loss", ["center", "dist_softmax"])
def test_class_means_center_init(loss, data):
    """center_init="class_means" starts each center at its class's mean untrained embedding (both modalities)."""
    (X_img, X_txt, y), _ = data
    model = small_dse(loss=loss, center_init="class_means", batch_size=300, max_epochs=1)
    model._start_training()
    codes_img, codes_txt = model._class_codes(y)
    dataset = ClassMatchedDataset(X_img.astype(np.float32), X_txt.astype(np.float32), codes_img, codes_txt, 0)
    module = model._build_module(X_img.shape[1], X_txt.shape[1], dataset.codes)
    criterion = model._build_criterion()
    model._prepare_criterion(module, criterion, dataset)
    module.train()
    with torch.no_grad():  # one batch per modality: the training-mode pass sees the same BatchNorm statistics
        Z = torch.cat([module.embed_image(torch.as_tensor(X_img, dtype=torch.float32)),
                       module.embed_text(torch.as_tensor(X_txt, dtype=torch.float32))]).numpy()
    labels = np.concatenate([codes_img, codes_txt])
    expected = np.stack([Z[labels == c].mean(0) for c in range(len(model.classes_))])
    np.testing.assert_allclose(criterion.centers.detach().numpy(), expected, rtol=1e-4, atol=1e-5)


def test_semantic_parameters_are_shared_and_trained_as_specified(data):
    train, _ = data
    ds = small_dse(loss="dist_softmax", max_epochs=2).fit(*train)
    assert "centers" in dict(ds.net_.criterion_.named_parameters())  # learned by gradient
    assert ds.net_.criterion_.centers.shape == (4, 32)
    groups = ds.net_.optimizer_.param_groups
    centers_group = [g for g in groups if any(p is ds.net_.criterion_.centers for p in g["params"])]
    assert centers_group[0]["weight_decay"] == 0.0 and groups[-1]["weight_decay"] == 1e-3
    cs = small_dse(loss="center", max_epochs=2).fit(*train)
    assert not np.allclose(cs.net_.criterion_.centers.numpy(), 0)  # moved by the update rule
    assert {"classifier.weight", "classifier.bias"} <= set(dict(cs.net_.criterion_.named_parameters()))


def test_class_matched_dataset():
    codes_img, codes_txt = np.array([0, 1, 1, 2, 0]), np.array([2, 1, 0, 1])
    X_img, X_txt = np.arange(5.0)[:, None], np.arange(4.0)[:, None]
    ds = ClassMatchedDataset(X_img, X_txt, codes_img, codes_txt, seed=0)
    assert len(ds) == 5  # the larger modality is enumerated once per epoch
    for k in range(5):
        X, code = ds[k]
        assert X["image"][0] == k and codes_txt[int(X["text"][0])] == codes_img[k] == code
    assert {int(ds[1][0]["text"][0]) for _ in range(30)} == {1, 3}  # partners drawn afresh, within the class
    same_seed = ClassMatchedDataset(X_img, X_txt, codes_img, codes_txt, seed=0)
    fresh = ClassMatchedDataset(X_img, X_txt, codes_img, codes_txt, seed=0)
    assert [same_seed[1][0]["text"][0] for _ in range(10)] == [fresh[1][0]["text"][0] for _ in range(10)]
    flipped = ClassMatchedDataset(X_txt[:3], X_img, codes_txt[:3], codes_img, seed=0)
    assert len(flipped) == 5  # more texts than images: the texts are enumerated
    for k in range(5):
        X, code = flipped[k]
        assert X["text"][0] == k and codes_txt[int(X["image"][0])] == code


def test_unpaired_training_with_different_sizes(data):
    (X_img, X_txt, y), (T_img, T_txt, t) = data
    model = small_dse().fit(X_img[:180], X_txt[180:], (y[:180], y[180:]))  # no pair in common
    scores = cross_modal_map(model, T_img, T_txt, t)
    chance = mean_average_precision(np.random.RandomState(0).rand(150, 150), t, t)
    assert scores["i2t"] > chance + 0.2 and scores["t2i"] > chance + 0.2, (scores, chance)
    with pytest.raises(ValueError, match=r"classes \[3\] occur in y_img only"):
        small_dse().fit(X_img, X_txt[y != 3], (y, y[y != 3]))
    with pytest.raises(ValueError, match="unpaired data needs y=\\(y_img, y_txt\\)"):
        small_dse().fit(X_img[:100], X_txt, y)


def test_learns_on_synthetic_data_and_beats_cca(data):
    (X_img, X_txt, y), test = data
    cca = cross_modal_map(CCA(3).fit(X_img, X_txt), *test)["mean"]
    for loss in ("softmax", "center", "dist_softmax"):
        score = cross_modal_map(small_dse(loss=loss).fit(X_img, X_txt, y), *test)["mean"]
        assert score > cca, (loss, score, cca)


def test_euclidean_metric_ranks_by_distance(data):
    (X_img, X_txt, y), _ = data
    model = small_dse(max_epochs=2, metric="euclidean").fit(X_img, X_txt, y)
    Z_i, Z_t = model.transform_image(X_img[:5]), model.transform_text(X_txt[:4])
    expected = -np.sqrt(((Z_i[:, None] - Z_t[None]) ** 2).sum(-1))
    np.testing.assert_allclose(model.similarity(X_img[:5], X_txt[:4]), expected, rtol=1e-4, atol=1e-4)


def test_paper_schedule_is_the_default_and_replaceable(data):
    (X_img, X_txt, y), _ = data
    model = DSE(n_components=16, max_epochs=200, verbose=0, random_state=0).fit(X_img, X_txt, y)
    callbacks = dict(model.net_.callbacks_)
    assert isinstance(callbacks["lr_plateau"], LRScheduler) and callbacks["lr_plateau"].monitor == "train_acc"
    # the paper's patiences (10, 15 epochs of 68 steps) counted in steps: 300 images / 32 = 10 steps per epoch
    assert callbacks["lr_plateau"].kwargs["patience"] == 68 and callbacks["early_stopping"].patience == 102
    assert model.n_epochs_ < 200  # training accuracy plateaus on this easy data: early stop
    assert "train_acc" in model.net_.history[-1]
    mine = EarlyStopping(monitor="train_acc", lower_is_better=False, patience=2)
    state = dict(vars(mine))
    replaced = small_dse(callbacks=[mine], max_epochs=200).fit(X_img, X_txt, y)
    assert replaced.n_epochs_ < model.n_epochs_ and "lr_plateau" not in dict(replaced.net_.callbacks_)
    assert vars(mine) == state  # the callback passed in is copied, never changed by fit
    assert small_dse(max_epochs=7).fit(X_img, X_txt, y).n_epochs_ == 7  # callbacks=[]: no schedule


def test_grid_search_over_loss_and_lam(data):
    (X_img, X_txt, y), _ = data
    search = GridSearchCV(
        small_dse(max_epochs=2),
        {"loss": ["center", "dist_softmax"], "lam": [1e-3, 1e-1]},
        scoring=get_scorer("map"),
        cv=2,
    ).fit(paired(X_img, X_txt), y)
    assert set(search.best_params_) == {"loss", "lam"} and len(search.cv_results_["params"]) == 4


class TinyCNN(nn.Module):
    def __init__(self, width=16):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, width)
        )

    def forward(self, x):
        return self.features(x)


def _tiny_images(y, random_state=0):
    """8x8 RGB images whose colour channel intensities encode the class, plus noise."""
    rng = np.random.RandomState(random_state)
    images = rng.normal(scale=0.5, size=(len(y), 3, 8, 8)).astype(np.float32)
    images[np.arange(len(y)), y % 3] += 1.0 + y[:, None, None] // 3
    return images


def test_image_encoder_trains_end_to_end_on_raw_images(data):
    (_, X_txt, y), (_, T_txt, t) = data
    images, test_images = _tiny_images(y), _tiny_images(t, random_state=1)
    encoder = TinyCNN(16)
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    model = small_dse(n_components=16, image_encoder=encoder, max_epochs=20).fit(images, X_txt, y)
    assert model.image_shape_in_ == (3, 8, 8) and model.n_features_image_in_ == 192
    assert model.transform_image(test_images).shape == (len(t), 16)
    trained = model.net_.module_.image_tower[0].state_dict()
    assert any(not torch.equal(trained[k], before[k]) for k in before)  # the copy was trained end to end
    assert all(torch.equal(encoder.state_dict()[k], before[k]) for k in before)  # the user's module was not
    scores = cross_modal_map(model, test_images, T_txt, t)
    chance = mean_average_precision(np.random.RandomState(0).rand(len(t), len(t)), t, t)
    assert scores["i2t"] > chance + 0.1 and scores["t2i"] > chance + 0.1, (scores, chance)
    with pytest.raises(ValueError, match="items of shape"):
        model.transform_image(test_images[:, :, :4])
    # class-mean centers come from the encoder's untrained embeddings of the raw images too
    means = small_dse(n_components=16, image_encoder=TinyCNN(16), center_init="class_means", max_epochs=1)
    assert np.isfinite(means.fit(images, X_txt, y).net_.criterion_.centers.detach().cpu().numpy()).all()
    with pytest.raises(ValueError, match="image_encoder outputs 16 features .* set n_components=16"):
        small_dse(n_components=32, image_encoder=TinyCNN(16)).fit(images, X_txt, y)
    with pytest.raises(ValueError, match="X_img must be a 2-D array"):
        small_dse().fit(images, X_txt, y)  # raw images need an image_encoder
    with pytest.raises(ValueError, match="X_img contains NaN"):
        bad = images.copy()
        bad[0, 0, 0, 0] = np.nan
        small_dse(n_components=16, image_encoder=TinyCNN(16)).fit(bad, X_txt, y)


# --------------------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def cub():
    path = shared_datasets_dir()
    if not (path / "cub10_googlenet1024_doc2vec300.npz").exists():
        pytest.skip(f"real benchmark features not found in {path} (set SKCROSS_SHARED_DATASETS)")
    return load_dataset("cub10", data_home=path, download_if_missing=False)


def test_cub_dse_ds_beats_cca_and_cosine_beats_euclidean(cub):
    d = cub
    model = DSE(verbose=0, random_state=0).fit(d.X_img_train, d.X_txt_train, d.y_train)
    ds = cross_modal_map(model, d.X_img_test, d.X_txt_test, d.y_test)
    cca = cross_modal_map(CCA(10).fit(d.X_img_train, d.X_txt_train), d.X_img_test, d.X_txt_test, d.y_test)
    assert ds["i2t"] > cca["i2t"] + 0.1 and ds["t2i"] > cca["t2i"] + 0.1, (ds, cca)
    assert ds["mean"] >= 0.55, ds  # 0.43 when the schedule's patiences were counted in epochs
    euclidean = cross_modal_map(model.set_params(metric="euclidean"), d.X_img_test, d.X_txt_test, d.y_test)
    assert ds["mean"] >= euclidean["mean"], (ds, euclidean)
