"""Checks every skcross cross-modal estimator must pass.

:func:`check_estimator` runs them all; each check is a plain function
``check(name, estimator)`` that raises ``AssertionError`` on failure, so test
suites can parametrize over them (see ``tests/test_common.py``).
"""

import io
import pickle

import joblib
import numpy as np
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import (
    check_do_not_raise_errors_in_init_or_set_params,
    check_estimator_cloneable,
    check_estimator_repr,
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_param_validation,
    check_parameters_default_constructible,
    check_set_params,
)

from .._paired import PairedData, paired
from ..datasets import make_cross_modal

__all__ = ["check_estimator", "check_preprocessing_transformer", "yield_checks"]


def _data(n_samples=60, random_state=0, **kwargs):
    return make_cross_modal(
        n_samples, n_classes=3, n_features_image=12, n_features_text=8, random_state=random_state, **kwargs
    )


def _seeded(estimator):
    """An unfitted copy with ``random_state=0`` when the estimator has one."""
    est = clone(estimator)
    if "random_state" in est.get_params():
        est.set_params(random_state=0)
    return est


def _fitted(estimator, **kwargs):
    X_img, X_txt, y = _data(**kwargs)
    return clone(estimator).fit(X_img, X_txt, y), (X_img, X_txt, y)


def check_params_do_not_shadow_methods(name, estimator):
    """A constructor parameter named like a method would replace it on the instance."""
    clash = {p for p in estimator.get_params(deep=False) if callable(getattr(type(estimator), p, None))}
    assert not clash, f"{name} parameters {sorted(clash)} shadow methods of the same name"


def check_fit_returns_self(name, estimator):
    X_img, X_txt, y = _data()
    est = clone(estimator)
    assert est.fit(X_img, X_txt, y) is est, f"{name}.fit must return self"


def check_fit_forms_equivalent(name, estimator):
    """``fit(X_img, X_txt, y)`` and ``fit(paired(X_img, X_txt), y)`` agree."""
    X_img, X_txt, y = _data()
    a = clone(estimator).fit(X_img, X_txt, y)
    b = clone(estimator).fit(paired(X_img, X_txt), y)
    np.testing.assert_allclose(a.transform_image(X_img), b.transform_image(X_img), err_msg=name)
    np.testing.assert_allclose(a.transform_text(X_txt), b.transform_text(X_txt), err_msg=name)


def check_embedding_shapes(name, estimator):
    """Both modalities land in the same space, one row per input row."""
    est, (X_img, X_txt, _) = _fitted(estimator)
    Z_img, Z_txt = est.transform_image(X_img[:7]), est.transform_text(X_txt[:5])
    assert Z_img.ndim == 2 and Z_img.shape[0] == 7, f"{name}: image embedding shape {Z_img.shape}"
    assert Z_txt.ndim == 2 and Z_txt.shape[0] == 5, f"{name}: text embedding shape {Z_txt.shape}"
    assert Z_img.shape[1] == Z_txt.shape[1], f"{name}: embedding widths differ"
    assert np.isfinite(Z_img).all() and np.isfinite(Z_txt).all(), f"{name}: non-finite embeddings"
    assert est.similarity(X_img[:7], X_txt[:5]).shape == (7, 5)
    assert est.n_features_image_in_ == X_img.shape[1]
    assert est.n_features_text_in_ == X_txt.shape[1]


def check_transform_paired(name, estimator):
    """``transform(PairedData)`` returns paired embeddings, equal to the per-modality ones."""
    est, (X_img, X_txt, _) = _fitted(estimator)
    Z = est.transform(paired(X_img, X_txt))
    assert isinstance(Z, PairedData), f"{name}.transform must return a PairedData"
    np.testing.assert_allclose(Z.image, est.transform_image(X_img))
    np.testing.assert_allclose(Z.text, est.transform_text(X_txt))


def check_paired_slicing_roundtrip(name, estimator):
    """Fitting on a slice of a PairedData equals fitting on the same rows of each matrix."""
    X_img, X_txt, y = _data()
    rows = np.random.RandomState(1).permutation(len(y))[:45]
    a = clone(estimator).fit(paired(X_img, X_txt)[rows], y[rows])
    b = clone(estimator).fit(X_img[rows], X_txt[rows], y[rows])
    np.testing.assert_allclose(a.transform_image(X_img), b.transform_image(X_img), err_msg=name)


def check_score_in_unit_interval(name, estimator):
    est, (X_img, X_txt, y) = _fitted(estimator)
    for labels in (y, None):
        score = est.score(X_img, X_txt, labels)
        assert 0.0 <= score <= 1.0, f"{name}.score returned {score}"
    assert est.score(paired(X_img, X_txt), y) == est.score(X_img, X_txt, y)


def check_not_fitted(name, estimator):
    X_img, X_txt, y = _data()
    for method, args in [
        ("transform_image", (X_img,)),
        ("transform_text", (X_txt,)),
        ("transform", (paired(X_img, X_txt),)),
        ("similarity", (X_img, X_txt)),
        ("score", (X_img, X_txt, y)),
    ]:
        try:
            getattr(clone(estimator), method)(*args)
        except NotFittedError:
            continue
        raise AssertionError(f"{name}.{method} before fit must raise NotFittedError")


def check_invalid_data(name, estimator):
    """Bad inputs fail with a ValueError/TypeError naming the argument."""
    X_img, X_txt, y = _data()
    nan_img = X_img.copy()
    nan_img[0, 0] = np.nan
    inf_txt = X_txt.copy()
    inf_txt[1, 1] = np.inf
    nan_y = y.astype(float)
    nan_y[2] = np.nan
    cases = [
        ((nan_img, X_txt, y), "X_img"),
        ((X_img, inf_txt, y), "X_txt"),
        ((X_img[:0], X_txt[:0], y[:0]), "X_img"),
        ((X_img, X_txt[:, :0], y), "X_txt"),
        ((X_img[:, 0], X_txt, y), "X_img"),
        ((X_img[:, :, None], X_txt, y), "X_img"),
        ((X_img, X_txt.astype(str).astype(object) + "x", y), "X_txt"),
        ((X_img, paired(X_img, X_txt), y), "X_txt"),
        ((X_img, X_txt, y[:-1]), "y has"),
        ((X_img, X_txt, nan_y), "y contains NaN"),
        ((X_img, X_txt, np.full((len(y), 3), 2)), "y is 2-D"),
        ((X_img, X_txt, y[:, None, None]), "y must be"),
        ((X_img, X_txt[:-1], y), "rows"),
    ]
    for args, word in cases:
        try:
            clone(estimator).fit(*args)
        except (ValueError, TypeError) as exc:
            assert word in str(exc), f"{name}: error {exc!r} does not mention {word!r}"
            continue
        raise AssertionError(f"{name}.fit accepted invalid data (expected an error about {word})")
    est = clone(estimator).fit(X_img, X_txt, y)
    for method, X, word in [
        ("transform_image", X_img[:, :-1], "X_img"),
        ("transform_text", X_txt[:, :-1], "X_txt"),
        ("transform_image", nan_img, "X_img"),
        ("transform_text", inf_txt, "X_txt"),
        ("transform_image", X_img[0], "X_img"),
        ("transform_text", X_txt[:0], "X_txt"),
        ("transform_image", X_txt, "X_img"),
    ]:
        try:
            getattr(est, method)(X)
        except ValueError as exc:
            assert word in str(exc), f"{name}: error {exc!r} does not mention {word!r}"
            continue
        raise AssertionError(f"{name}.{method} accepted invalid data")


def check_pickle_roundtrip(name, estimator):
    """pickle and joblib round trips give identical embeddings and similarities."""
    est, (X_img, X_txt, _) = _fitted(estimator)
    buffer = io.BytesIO()
    joblib.dump(est, buffer)
    buffer.seek(0)
    for how, restored in [("pickle", pickle.loads(pickle.dumps(est))), ("joblib", joblib.load(buffer))]:
        message = f"{name}: {how} round trip changed the outputs"
        np.testing.assert_array_equal(restored.transform_image(X_img), est.transform_image(X_img), err_msg=message)
        np.testing.assert_array_equal(restored.transform_text(X_txt), est.transform_text(X_txt), err_msg=message)
        np.testing.assert_array_equal(
            restored.similarity(X_img[:9], X_txt[:7]), est.similarity(X_img[:9], X_txt[:7]), err_msg=message
        )


def check_float32_preserved(name, estimator):
    """Estimators declaring ``_preserves_float32`` keep float32 input in float32.

    The others return float64; either way the embeddings are floating point
    and the input's precision never changes the ranking much.
    """
    X_img, X_txt, y = _data()
    X_img32, X_txt32 = X_img.astype(np.float32), X_txt.astype(np.float32)
    est = clone(estimator).fit(X_img32, X_txt32, y)
    Z_img, Z_txt = est.transform_image(X_img32), est.transform_text(X_txt32)
    expected = np.float32 if estimator._preserves_float32 else np.float64
    assert Z_img.dtype == expected and Z_txt.dtype == expected, (
        f"{name}: float32 input gave {Z_img.dtype}/{Z_txt.dtype} embeddings, expected {np.dtype(expected)}"
    )
    Z64 = est.transform_image(X_img32.astype(np.float64))
    assert Z64.dtype == np.float64, f"{name}: float64 input gave {Z64.dtype} embeddings"
    np.testing.assert_allclose(Z_img, Z64, rtol=1e-3, atol=1e-3 * np.abs(Z64).max(), err_msg=name)


def check_failed_fit_is_atomic(name, estimator):
    """A fit that raises leaves the estimator exactly as it was (unfitted, or the previous fit)."""
    X_img, X_txt, y = _data()
    bad = X_txt.copy()
    bad[3, 2] = np.nan
    est = clone(estimator)
    try:
        est.fit(X_img, bad, y)
    except ValueError:
        pass
    else:
        raise AssertionError(f"{name}.fit accepted NaN in X_txt")
    assert not [k for k in vars(est) if k.endswith("_") and not k.startswith("__")], (
        f"{name}: a failed fit left fitted attributes {sorted(vars(est))}"
    )
    try:
        est.transform_image(X_img)
    except NotFittedError:
        pass
    else:
        raise AssertionError(f"{name}: transform after a failed first fit must raise NotFittedError")
    est.fit(X_img, X_txt, y)
    before = est.transform_image(X_img)
    try:
        est.fit(X_img[:, :-1], X_txt[:10], y[:10])
    except (ValueError, TypeError):
        pass
    assert est.n_features_image_in_ == X_img.shape[1], f"{name}: a failed refit changed the fitted state"
    np.testing.assert_array_equal(est.transform_image(X_img), before, err_msg=f"{name}: a failed refit changed the model")


def check_fit_does_not_mutate_params(name, estimator):
    """``fit`` leaves every constructor parameter as it was (the same objects, the same values)."""
    X_img, X_txt, y = _data()
    est = clone(estimator)
    before = est.get_params(deep=False)
    hashes = {key: joblib.hash(value) for key, value in before.items()}
    est.fit(X_img, X_txt, y)
    after = est.get_params(deep=False)
    for key, value in before.items():
        assert after[key] is value, f"{name}.fit replaced the parameter {key!r}"
        assert joblib.hash(after[key]) == hashes[key], f"{name}.fit modified the parameter {key!r} in place"


def check_sparse_input(name, estimator):
    """A sparse modality is used like its dense equivalent, or refused with a message saying so."""
    X_img, X_txt, y = _data()
    sparse_txt = sp.csr_matrix(np.where(np.abs(X_txt) > 0.5, X_txt, 0.0))
    dense_txt = sparse_txt.toarray()
    if not estimator._accepts_sparse:
        try:
            clone(estimator).fit(X_img, sparse_txt, y)
        except TypeError as exc:
            assert "sparse" in str(exc).lower(), f"{name}: refusing sparse input must say so, got {exc!r}"
            return
        raise AssertionError(f"{name} declares _accepts_sparse=False but fitted on a sparse X_txt")
    est = _seeded(estimator)
    a = clone(est).fit(X_img, sparse_txt, y)
    b = clone(est).fit(X_img, dense_txt, y)
    np.testing.assert_allclose(
        a.transform_text(sparse_txt), b.transform_text(dense_txt), rtol=1e-4, atol=1e-6,
        err_msg=f"{name}: sparse and dense text features give different embeddings",
    )


def check_readonly_and_fortran_input(name, estimator):
    """Read-only (e.g. memory-mapped) and Fortran-ordered inputs work and give the usual embeddings."""
    X_img, X_txt, y = _data()
    est = _seeded(estimator)
    reference = clone(est).fit(X_img, X_txt, y).transform_image(X_img)
    readonly = [np.array(M) for M in (X_img, X_txt, y)]
    for M in readonly:
        M.setflags(write=False)
    fitted = clone(est).fit(*readonly)
    np.testing.assert_allclose(fitted.transform_image(readonly[0]), reference, rtol=1e-6, atol=1e-8,
                               err_msg=f"{name}: read-only input changed the result")
    fortran = clone(est).fit(np.asfortranarray(X_img), np.asfortranarray(X_txt), y)
    np.testing.assert_allclose(fortran.transform_image(np.asfortranarray(X_img)), reference, rtol=1e-6, atol=1e-8,
                               err_msg=f"{name}: Fortran-ordered input changed the result")


def check_transform_in_row_batches(name, estimator):
    """Embedding in row batches (``batch_size=``) gives the embeddings of one pass: every item on its own."""
    X_img, X_txt, y = _data()
    est = clone(_seeded(estimator)).fit(X_img, X_txt, y)
    for method, X in (("transform_image", X_img), ("transform_text", X_txt)):
        whole = getattr(est, method)(X)
        np.testing.assert_allclose(getattr(est, method)(X, batch_size=7), whole, rtol=1e-5, atol=1e-6,
                                   err_msg=f"{name}.{method} depends on the other rows of its batch")
    # a float32 network gives batch-shape-dependent rounding (~1e-7, BLAS kernels); whitened into a cosine it can
    # reach a few 1e-6 (DCCA's: 6.7e-6 here, numpy 2.4 / torch 2.13 CPU), far below any dependence on other rows
    atol = 2e-5 if getattr(est, "_preserves_float32", False) else 1e-6
    np.testing.assert_allclose(est.similarity(X_img, X_txt, batch_size=5), est.similarity(X_img, X_txt),
                               rtol=1e-5, atol=atol, err_msg=f"{name}.similarity changed with batch_size")
    try:
        est.transform_image(X_img, batch_size=0)
    except ValueError as error:
        assert "batch_size" in str(error), f"{name}: unclear error for batch_size=0: {error}"
    else:
        raise AssertionError(f"{name}.transform_image accepted batch_size=0")


def check_deterministic(name, estimator):
    """Two fits with the same parameters (and ``random_state``) give the same embeddings."""
    X_img, X_txt, y = _data()
    est = _seeded(estimator)
    a = clone(est).fit(X_img, X_txt, y).transform_image(X_img)
    b = clone(est).fit(X_img, X_txt, y).transform_image(X_img)
    np.testing.assert_array_equal(a, b, err_msg=f"{name} is not deterministic")


def check_does_not_modify_input(name, estimator):
    X_img, X_txt, y = _data()
    copies = X_img.copy(), X_txt.copy(), y.copy()
    est = clone(estimator).fit(X_img, X_txt, y)
    est.transform_image(X_img)
    est.transform_text(X_txt)
    for before, after in zip(copies, (X_img, X_txt, y)):
        np.testing.assert_array_equal(before, after, err_msg=f"{name} modified its input")


def check_multilabel_y(name, estimator):
    """Multi-label indicators are fitted and scored, or refused with a clear message."""
    X_img, X_txt, Y = _data(multilabel=True)
    if not estimator._allows_multilabel:
        try:
            clone(estimator).fit(X_img, X_txt, Y)
        except ValueError as exc:
            assert "single-label" in str(exc), f"{name}: unclear error {exc!r}"
            return
        raise AssertionError(f"{name} declares no multi-label support but accepted a 2-D y")
    est = clone(estimator).fit(X_img, X_txt, Y)
    assert 0.0 <= est.score(X_img, X_txt, Y) <= 1.0


def check_supervision(name, estimator):
    """Supervised methods refuse y=None; unsupervised ones ignore y."""
    X_img, X_txt, y = _data()
    if estimator._requires_labels:
        try:
            clone(estimator).fit(X_img, X_txt)
        except ValueError as exc:
            assert "y is required" in str(exc), f"{name}: unclear error {exc!r}"
            return
        raise AssertionError(f"{name} is supervised but fitted without y")
    a = clone(estimator).fit(X_img, X_txt).transform_image(X_img)
    b = clone(estimator).fit(X_img, X_txt, y).transform_image(X_img)
    np.testing.assert_allclose(a, b, err_msg=f"{name} is unsupervised but its fit depends on y")


_SKLEARN_CHECKS = (
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_estimator_cloneable,
    check_estimator_repr,
    check_get_params_invariance,
    check_set_params,
    check_param_validation,
    check_do_not_raise_errors_in_init_or_set_params,
)

_PROJECT_CHECKS = (
    check_params_do_not_shadow_methods,
    check_fit_returns_self,
    check_fit_forms_equivalent,
    check_embedding_shapes,
    check_transform_paired,
    check_paired_slicing_roundtrip,
    check_score_in_unit_interval,
    check_not_fitted,
    check_invalid_data,
    check_pickle_roundtrip,
    check_float32_preserved,
    check_failed_fit_is_atomic,
    check_fit_does_not_mutate_params,
    check_sparse_input,
    check_readonly_and_fortran_input,
    check_transform_in_row_batches,
    check_deterministic,
    check_does_not_modify_input,
    check_multilabel_y,
    check_supervision,
)


def yield_checks():
    """Yield every check function: scikit-learn's that fit the contract, then skcross's.

    scikit-learn's other checks call ``fit(X, y)`` with one matrix, which a
    two-modality estimator cannot take; the ones kept here exercise
    construction, parameters, cloning, representation and parameter
    validation.

    Yields
    ------
    check : callable
        ``check(name, estimator)``.
    """
    yield from _SKLEARN_CHECKS
    yield from _PROJECT_CHECKS


def _assert_same_output(a, b, message):
    if isinstance(a, PairedData):
        _assert_same_output(a.image, b.image, message)
        _assert_same_output(a.text, b.text, message)
    else:
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=message)


def check_preprocessing_transformer(transformer, X, X_invalid):
    """The contract of a skcross preprocessing step (``ModalityTransformer``, ``SIFEmbedding``).

    Their input is not one numeric matrix (a ``PairedData``, raw sentences),
    so scikit-learn's fitting checks cannot feed them; this runs
    scikit-learn's construction checks and the project's fitting checks on
    data of the right kind.

    Parameters
    ----------
    transformer : estimator instance
        The unfitted transformer.
    X : object
        Valid training data for it.
    X_invalid : object
        Data its ``fit`` must refuse with a ``ValueError`` or ``TypeError``.

    Examples
    --------
    >>> from sklearn.decomposition import PCA
    >>> from skcross import paired
    >>> from skcross.datasets import make_cross_modal
    >>> from skcross.preprocessing import ModalityTransformer
    >>> from skcross.utils.estimator_checks import check_preprocessing_transformer
    >>> X_img, X_txt, _ = make_cross_modal(30, random_state=0)
    >>> check_preprocessing_transformer(ModalityTransformer(image=PCA(2)), paired(X_img, X_txt), X_img)
    """
    name = type(transformer).__name__
    for check in (check_no_attributes_set_in_init, check_estimator_cloneable, check_estimator_repr,
                  check_get_params_invariance, check_set_params, check_do_not_raise_errors_in_init_or_set_params):
        check(name, transformer)
    check_params_do_not_shadow_methods(name, transformer)
    try:
        clone(transformer).transform(X)
    except NotFittedError:
        pass
    else:
        raise AssertionError(f"{name}.transform before fit must raise NotFittedError")
    est = clone(transformer)
    params = est.get_params(deep=False)
    hashes = {key: joblib.hash(value) for key, value in params.items()}
    input_hash = joblib.hash(X)
    assert est.fit(X) is est, f"{name}.fit must return self"
    for key, value in est.get_params(deep=False).items():
        assert value is params[key] and joblib.hash(value) == hashes[key], f"{name}.fit changed the parameter {key!r}"
    assert joblib.hash(X) == input_hash, f"{name} modified its input"
    out = est.transform(X)
    _assert_same_output(clone(transformer).fit(X).transform(X), out, f"{name} is not deterministic")
    _assert_same_output(pickle.loads(pickle.dumps(est)).transform(X), out, f"{name}: pickle changed the output")
    failed = clone(transformer)
    try:
        failed.fit(X_invalid)
    except (ValueError, TypeError):
        pass
    else:
        raise AssertionError(f"{name}.fit accepted invalid data")
    assert not [k for k in vars(failed) if k.endswith("_") and not k.startswith("__")], (
        f"{name}: a failed fit left fitted attributes {sorted(vars(failed))}"
    )


def check_estimator(estimator):
    """Run every check on ``estimator``; raise ``AssertionError`` on the first failure.

    Parameters
    ----------
    estimator : estimator instance
        A skcross cross-modal estimator (a :class:`~skcross.base.CrossModalMixin`).

    Examples
    --------
    >>> from skcross.linear import CCA
    >>> from skcross.utils.estimator_checks import check_estimator
    >>> check_estimator(CCA(n_components=2))
    """
    name = type(estimator).__name__
    for check in yield_checks():
        check(name, estimator)
