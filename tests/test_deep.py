"""The skorch engine, DSCMR and DCCA."""

import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("skorch")

from skorch.callbacks import EarlyStopping  # noqa: E402
from _deep_faults import AtBatch, poison  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402

from skcross import paired  # noqa: E402
from skcross.datasets import make_cross_modal  # noqa: E402
from skcross.deep import DCCA, DSCMR, UNCSM, resolve_device  # noqa: E402
from skcross.deep._dscmr import DSCMRLoss  # noqa: E402
from skcross.linear import CCA  # noqa: E402
from skcross.metrics import cross_modal_map, get_scorer, mean_average_precision  # noqa: E402

def small_dscmr(**kwargs):
    params = dict(hidden_size=32, n_components=16, max_epochs=3, lr=1e-3, verbose=0, random_state=0)
    return DSCMR(**{**params, **kwargs})


@pytest.fixture(scope="module")
def data():
    return make_cross_modal(240, n_classes=4, random_state=0)


def test_device_auto():
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert small_dscmr(max_epochs=1).fit(*make_cross_modal(40, random_state=0)).device_ == resolve_device("auto")


def test_dscmr_loss_terms_by_hand():
    torch.manual_seed(0)
    u, v = torch.randn(5, 3), torch.randn(5, 3)
    labels = torch.eye(2)[torch.tensor([0, 1, 0, 1, 1])]
    p_img, p_txt = torch.randn(5, 2), torch.randn(5, 2)
    loss = DSCMRLoss(lam=0.5, eta=0.25)((u, v, p_img, p_txt), labels)
    j1 = sum(np.mean([np.linalg.norm((p - labels)[i].numpy()) for i in range(5)]) for p in (p_img, p_txt))
    S = (labels @ labels.T > 0).float().numpy()

    def nll(a, b):
        g = np.array([[0.5 * np.dot(x, y) / np.linalg.norm(x) / np.linalg.norm(y) for y in b.numpy()] for x in a.numpy()])
        return np.mean(np.log1p(np.exp(g)) - S * g)

    j2 = nll(u, u) + nll(u, v) + nll(v, v)
    j3 = np.mean(np.linalg.norm((u - v).numpy(), axis=1))
    assert loss.item() == pytest.approx(j1 + 0.5 * j2 + 0.25 * j3, rel=1e-5)


def test_dscmr_shares_last_layer_and_classifier(data):
    X_img, X_txt, y = data
    model = small_dscmr().fit(X_img, X_txt, y)
    module = model.net_.module_
    image_layer, shared_layer = module.image_tower
    text_layer, text_shared_layer = module.text_tower
    assert text_shared_layer is shared_layer
    assert not {id(p) for p in image_layer.parameters()} & {id(p) for p in text_layer.parameters()}
    # Both modalities go through the one shared layer: zeroing it zeroes both embeddings.
    with torch.no_grad():
        shared_layer.weight.zero_()
        shared_layer.bias.zero_()
    assert np.all(model.transform_image(X_img) == 0) and np.all(model.transform_text(X_txt) == 0)
    u, v, p_img, p_txt = module(torch.ones(1, X_img.shape[1]), torch.ones(1, X_txt.shape[1]))
    assert torch.equal(p_img, p_txt)  # one classifier on (equal) embeddings
    assert model.net_.optimizer_.defaults["betas"] == (0.5, 0.999)


def test_dscmr_learns_on_synthetic_data(data):
    X_img, X_txt, y = data
    model = small_dscmr(max_epochs=30, hidden_size=64, n_components=32).fit(X_img[:160], X_txt[:160], y[:160])
    dscmr = cross_modal_map(model, X_img[160:], X_txt[160:], y[160:])["mean"]
    cca = cross_modal_map(CCA(3).fit(X_img[:160], X_txt[:160]), X_img[160:], X_txt[160:], y[160:])["mean"]
    assert dscmr > cca
    losses = model.net_.history[:, "train_loss"]
    assert losses[-1] < losses[0]


def test_dcca_maximises_correlation(data):
    X_img, X_txt, _ = data
    model = DCCA(n_components=3, layer_sizes=(32,), max_epochs=20, batch_size=120, verbose=0, random_state=0)
    model.fit(X_img, X_txt)
    losses = model.net_.history[:, "train_loss"]
    assert losses[-1] < losses[0] and -losses[-1] <= 3 + 1e-6  # total correlation of 3 outputs <= 3
    assert np.all(model.cca_.canonical_correlations_ <= 1 + 1e-8)


def test_dcca_on_one_pair_names_n_samples():
    with pytest.raises(ValueError, match=r"DCCA needs at least 2 pairs to correlate, got n_samples=1"):
        DCCA(n_components=2, max_epochs=1, verbose=0).fit(np.ones((1, 4)), np.ones((1, 3)))


def test_non_finite_loss_stops_training(data):
    X_img, X_txt, y = data
    with pytest.raises(FloatingPointError, match="epoch"):
        small_dscmr(lr=1e12, optimizer="sgd", max_epochs=5).fit(X_img * 1e6, X_txt, y)


def test_validation_fraction_and_early_stopping(data):
    X_img, X_txt, y = data
    model = small_dscmr(
        max_epochs=200, validation_fraction=0.25, callbacks=[EarlyStopping(patience=2, threshold=10.0)]
    ).fit(X_img, X_txt, y)
    assert model.n_epochs_ < 200
    assert "valid_loss" in model.net_.history[-1]
    no_split = small_dscmr(max_epochs=1).fit(X_img, X_txt, y)
    assert "valid_loss" not in no_split.net_.history[-1]


def test_verbose_levels_bar_table_silent(data, capsys):
    """verbose=1 (the default): one compact bar on stderr, no epoch table; 2: skorch's table; 0: nothing."""
    model = small_dscmr(max_epochs=3, verbose=1).fit(*data)
    out, err = capsys.readouterr()
    # tqdm redraws at most every 0.1 s, so a fast fit may show only the bar's first state: check the bar, not its frames
    assert out == "" and "DSCMR" in err and "/3 [" in err and "epoch" in err
    assert not hasattr(dict(model.net_.callbacks_)["progress_bar"], "bar_")  # closed when training ended
    small_dscmr(max_epochs=2, verbose=2).fit(*data)
    out, err = capsys.readouterr()
    assert "train_loss" in out and "epoch" in out and "DSCMR" not in err
    small_dscmr(max_epochs=2, verbose=0).fit(*data)
    assert capsys.readouterr() == ("", "")
    assert DSCMR().verbose == 1


def test_stages_have_their_own_bar(capsys):
    from skcross.deep import UNCSM
    from skcross.utils._testing import FAST_PARAMS

    X_img, X_txt, y = make_cross_modal(60, n_classes=3, random_state=0)
    UNCSM(**{**FAST_PARAMS["UNCSM"], "verbose": 1}).fit(X_img, X_txt, y)
    err = capsys.readouterr().err
    for stage in ("features", "pre-training", "fine-tuning", "metric network"):
        assert f"UNCSM ({stage})" in err


def test_save_and_load_params_round_trip(data, tmp_path):
    X_img, X_txt, y = data
    a = small_dscmr().fit(X_img, X_txt, y)
    a.net_.save_params(f_params=tmp_path / "params.pt")
    b = small_dscmr(random_state=1).fit(X_img, X_txt, y)
    assert not np.allclose(a.transform_image(X_img), b.transform_image(X_img))
    b.net_.load_params(f_params=tmp_path / "params.pt")
    np.testing.assert_allclose(a.transform_image(X_img), b.transform_image(X_img), rtol=1e-6)
    restored = pickle.loads(pickle.dumps(a))
    np.testing.assert_allclose(restored.transform_text(X_txt), a.transform_text(X_txt), rtol=1e-6)


def test_grid_search_over_lam_and_lr(data):
    X_img, X_txt, y = data
    search = GridSearchCV(
        small_dscmr(max_epochs=2), {"lam": [1e-3, 1e-1], "lr": [1e-4, 1e-3]}, scoring=get_scorer("map"), cv=2
    ).fit(paired(X_img, X_txt), y)
    assert set(search.best_params_) == {"lam", "lr"}
    assert len(search.cv_results_["params"]) == 4


# --------------------------------------------------------------------------- faults, every deep method
def _deep_estimators():
    from test_common import FAST_PARAMS

    from skcross.deep import DeepCrossModalMixin
    from skcross.utils import all_estimators

    return [
        cls(**{**FAST_PARAMS[name], "max_epochs": 4, "batch_size": 30})
        for name, cls in all_estimators()
        if issubclass(cls, DeepCrossModalMixin)
    ]


DEEP = pytest.mark.parametrize("estimator", _deep_estimators(), ids=lambda e: type(e).__name__)


def _interrupt(net):
    raise KeyboardInterrupt


def _out_of_memory(net):
    raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")


@DEEP
def test_nan_guard_covers_every_deep_method(estimator, data):
    model = clone(estimator).set_params(callbacks=[AtBatch(3, poison)])
    with pytest.raises(FloatingPointError, match="epoch"):
        model.fit(*data)
    with pytest.raises(NotFittedError):  # no NaN model is left behind
        model.transform_image(data[0])


@DEEP
def test_keyboard_interrupt_leaves_a_usable_model(estimator, data):
    X_img, X_txt, y = data
    model = clone(estimator).set_params(callbacks=[AtBatch(12, _interrupt)])  # 240 pairs / 30 = 8 batches per epoch
    if "stage_params" in model.get_params():  # UNCSM's metric stage: 200 pairs / 30 = 7 batches per epoch
        model.set_params(stage_params={"metric": {"batch_size": 30}})
    model.fit(X_img, X_txt, y)  # as in skorch: training stops, the weights reached so far are kept
    # a multi-stage method (UNCSM) ends the interrupted stage and goes on with the next
    for epochs in getattr(model, "stage_epochs_", {"": model.n_epochs_}).values():
        assert epochs == 2 < estimator.max_epochs
    Z = model.transform_image(X_img)
    assert Z.shape[0] == len(X_img) and np.isfinite(Z).all()
    S = model.similarity(X_img, X_txt)
    assert model.score(X_img, X_txt, y) == pytest.approx(
        (mean_average_precision(S, y, y) + mean_average_precision(S.T, y, y)) / 2)


@DEEP
def test_out_of_memory_says_which_batch_size_to_lower(estimator, data):
    model = clone(estimator).set_params(callbacks=[AtBatch(2, _out_of_memory)])
    with pytest.raises(MemoryError, match="lower batch_size .e.g. batch_size=15"):
        model.fit(*data)
    with pytest.raises(NotFittedError):
        model.transform_image(data[0])


@DEEP
def test_save_params_load_params_every_deep_method(estimator, data, tmp_path):
    X_img, X_txt, y = data
    a = clone(estimator).set_params(random_state=0).fit(X_img, X_txt, y)
    a.net_.save_params(f_params=tmp_path / "params.pt")
    b = clone(estimator).set_params(random_state=1).fit(X_img, X_txt, y)
    b.net_.load_params(f_params=tmp_path / "params.pt")
    np.testing.assert_array_equal(a.net_.module_.embed_image(torch.as_tensor(X_img[:5], dtype=torch.float32)).detach(),
                                  b.net_.module_.embed_image(torch.as_tensor(X_img[:5], dtype=torch.float32)).detach())


@pytest.mark.skipif(torch.cuda.is_available(), reason="simulates a CPU-only machine")
def test_model_marked_cuda_is_mapped_to_cpu_on_a_cpu_only_machine(data):
    """skorch maps a net pickled on CUDA to the CPU when CUDA is absent (the real test runs on a GPU)."""
    X_img, X_txt, y = data
    model = small_dscmr().fit(X_img, X_txt, y)
    expected = model.transform_image(X_img)
    model.net_.device = "cuda"
    with pytest.warns(UserWarning, match="CUDA"):
        restored = pickle.loads(pickle.dumps(model))
    assert str(restored.net_.device) == "cpu"
    np.testing.assert_array_equal(restored.transform_image(X_img), expected)


# --------------------------------------------------------------------------- the collapse guard
@DEEP
def test_collapsed_image_modality_warns_naming_modality_and_stage(estimator, data):
    from sklearn.exceptions import ConvergenceWarning

    X_img, X_txt, y = data
    constant = np.repeat(X_img[:1], len(X_img), axis=0)  # every image the same: nothing to embed
    model = clone(estimator).set_params(max_epochs=2)
    with pytest.warns(ConvergenceWarning, match=r"the image embeddings of the training rows have collapsed") as record:
        if type(model).__name__ == "DCCA":  # its final linear CCA then refuses, clearly, after the warning
            with pytest.raises(ValueError, match="rank 0"):
                model.fit(constant, X_txt, y)
        else:
            model.fit(constant, X_txt, y)
    message = next(str(w.message) for w in record if "image embeddings" in str(w.message))
    assert message.startswith(f"{type(model).__name__} (") and "the training image rows are identical" in message
    assert not any("text embeddings" in str(w.message) for w in record)  # the text side is not blamed


def test_collapsed_loss_value_warns():
    """A stage whose loss ends at the value of a model that ignores its input warns, even if the spread looks fine."""
    from sklearn.exceptions import ConvergenceWarning
    from skcross.deep import UNCSM

    X_img, X_txt, y = make_cross_modal(120, n_classes=3, random_state=0)
    # a zero learning rate for fine-tuning: the sigmoid branches stay near their start, the loss near alpha + beta
    model = UNCSM(max_epochs=1, batch_size=40, n_metric_pairs=200, similarity_metric="cosine", pretrain=False,
                  feature_network=False, alpha=5.0, beta=5.0, stage_params={"finetune": {"lr": 1e-12}},
                  verbose=0, random_state=0)
    with pytest.warns(ConvergenceWarning, match=r"UNCSM \(fine-tuning\): the training loss ended at .* learned nothing"):
        model.fit(X_img, X_txt, y)


def test_trained_model_does_not_warn(data):
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        small_dscmr(max_epochs=5).fit(*data)


def _scaled_similarities(estimator, data, factor):
    X_img, X_txt, y = data
    model = clone(estimator).fit(X_img * factor, X_txt, y)
    return model.similarity(X_img[:40] * factor, X_txt[:40])


@pytest.mark.parametrize("name", ["SSPE", "UNCSM"])
def test_standardising_methods_rank_the_same_whatever_the_input_scale(name, data):
    """SSPE (centring, unit rows) and UNCSM (standardisation) see the same inputs at any scale."""
    estimator = next(e for e in _deep_estimators() if type(e).__name__ == name)
    reference = _scaled_similarities(estimator, data, 1.0)
    for factor in (0.01, 100.0):
        S = _scaled_similarities(estimator, data, factor)
        np.testing.assert_allclose(S, reference, rtol=1e-3, atol=1e-3 * np.abs(reference).max())


@pytest.mark.parametrize("name", ["DCCA", "DSCMR", "DSE"])
def test_scale_sensitive_methods_say_so(name):
    estimator = next(e for e in _deep_estimators() if type(e).__name__ == name)
    assert "scale-sensitive" in " ".join(type(estimator).__doc__.split())


# --------------------------------------------------------------------------- callbacks, RNG, error messages, partial_fit
def test_deep_fit_leaves_callbacks_and_the_global_torch_generator_alone(small_data):
    import torch
    from skorch.callbacks import EarlyStopping

    X_img, X_txt, y = small_data
    stopper = EarlyStopping(monitor="train_loss", patience=1, load_best=True)
    before = dict(vars(stopper))
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    DSCMR(max_epochs=3, callbacks=[stopper], verbose=0, random_state=None).fit(X_img, X_txt, y)
    assert torch.equal(torch.rand(3), expected)  # fit reseeded the global generator
    assert vars(stopper).keys() == before.keys()  # gained best_model_weights_ and counters


def test_deep_errors_say_what_to_set(small_data):
    import torch
    from skorch.callbacks import EarlyStopping

    X_img, X_txt, y = small_data
    model = DSCMR(max_epochs=2, callbacks=[EarlyStopping()], verbose=0)
    with pytest.raises(ValueError, match="set validation_fraction"):  # was KeyError: 'valid_loss'
        model.fit(X_img, X_txt, y)
    model.set_params(validation_fraction=0.2).fit(X_img, X_txt, y)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="device='cuda', but"):  # was a raw AssertionError
            DSCMR(max_epochs=1, device="cuda").fit(X_img, X_txt, y)
    with pytest.raises(ValueError, match="not a torch device"):
        DSCMR(max_epochs=1, device="gpu0").fit(X_img, X_txt, y)


def test_partial_fit_continues_training(small_data):
    X_img, X_txt, y = small_data
    model = DSCMR(max_epochs=2, verbose=0, random_state=0).fit(X_img, X_txt, y)
    Z = model.transform_image(X_img)
    assert model.partial_fit(X_img, X_txt, y) is model
    assert model.n_epochs_ == 4 and len(model.net_.history) == 4
    assert not np.allclose(model.transform_image(X_img), Z)
    with pytest.raises(ValueError, match="labels seen in fit"):
        model.partial_fit(X_img[y < 2], X_txt[y < 2], y[y < 2])
    assert model.n_epochs_ == 4  # the failed call changed nothing
    # partial_fit validates as fit does (one validation): the fit(X, y) habit, widths, labels
    with pytest.raises(ValueError, match="partial_fit\\(\\) got a 1-D second argument"):
        model.partial_fit(X_img, y)
    with pytest.raises(ValueError, match="X_txt has 3 features, but the estimator was fitted with"):
        model.partial_fit(X_img, X_txt[:, :3], y)
    with pytest.raises(ValueError, match="y is required: DSCMR is supervised"):
        model.partial_fit(X_img, X_txt)
    assert model.n_epochs_ == 4
    fresh = DSCMR(max_epochs=2, verbose=0, random_state=0).partial_fit(X_img, X_txt, y)
    assert fresh.n_epochs_ == 2
    assert not hasattr(UNCSM(), "partial_fit")  # four stages: no single network to continue
