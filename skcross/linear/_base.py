"""Shared machinery of the closed-form two-view methods (CCA, PLS, KCCA)."""

import warnings
from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator

from ..base import CrossModalMixin
from ..utils._sklearn_compat import Interval


class _Standardiser:
    """Per-feature centring (and optional scaling) fitted on training data."""

    def __init__(self, X, scale):
        self.mean = X.mean(axis=0)
        std = X.std(axis=0, ddof=1) if scale and X.shape[0] > 1 else np.ones(X.shape[1])
        self.scale = np.where(std > 0, std, 1.0)

    def __call__(self, X):
        # in the input's precision: float32 data is not copied to float64
        return (X - self.mean.astype(X.dtype, copy=False)) / self.scale.astype(X.dtype, copy=False)


N_COMPONENTS_CONSTRAINT = [Interval(Integral, 1, None, closed="left"), None]


def _resolve_n_components(n_components, rank, limit):
    """The number of components to fit: ``n_components`` within ``rank``.

    None means the largest valid value (scikit-learn's
    ``LinearDiscriminantAnalysis`` convention). An integer above ``rank`` is
    clipped to it with a ``UserWarning`` saying why (``limit`` describes what
    bounds the rank), so a default never fails on a small or low-rank
    problem; a rank of 0 is an error.
    """
    if rank < 1:
        raise ValueError(f"The problem has rank 0 ({limit}): there is no direction to fit; check that X_img and X_txt "
                         "vary across the pairs and that y has at least 2 classes.")
    if n_components is None:
        return int(rank)
    if n_components > rank:
        warnings.warn(
            f"n_components={n_components} exceeds {limit} ({rank}); fitting {rank} components. "
            "Set n_components=None to always use the largest valid value.",
            UserWarning,
            stacklevel=3,
        )
        return int(rank)
    return int(n_components)


def _dense(X, dtype=np.float64):
    """A dense array; ``dtype=None`` keeps the (validated, float32 or float64) input's precision."""
    X = X.toarray() if sp.issparse(X) else X
    return np.asarray(X) if dtype is None else np.asarray(X, dtype=dtype)


def _thin_svd(X):
    """Thin SVD of a centred matrix, dropping numerically-zero directions."""
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    keep = s > s[0] * max(X.shape) * np.finfo(np.float64).eps if s.size and s[0] > 0 else np.zeros(s.shape, bool)
    return U[:, keep], s[keep], Vt[keep].T


class _Projection(CrossModalMixin, BaseEstimator):
    """Linear projections of (mapped, standardised) features, one per modality.

    Subclasses fit ``image_weights_`` and ``text_weights_`` on the output of
    :meth:`_standardise_training`; the transforms are shared. Fitting works
    in float64 (the eigen- and singular-value solvers need it); transforms
    keep float32 input in float32 (``_preserves_float32``).
    """

    _preserves_float32 = True

    def _image_features(self, X_img):
        return _dense(X_img, dtype=None)

    def _text_features(self, X_txt):
        return _dense(X_txt, dtype=None)

    def _standardise_training(self, X_img, X_txt, scale):
        """Fit the per-modality standardisers; return the standardised float64 features."""
        X_img, X_txt = np.asarray(X_img, dtype=np.float64), np.asarray(X_txt, dtype=np.float64)
        self._image_standardiser = _Standardiser(X_img, scale)
        self._text_standardiser = _Standardiser(X_txt, scale)
        return self._image_standardiser(X_img), self._text_standardiser(X_txt)

    def _transform_image(self, X_img):
        features = self._image_standardiser(self._image_features(X_img))
        return features @ self.image_weights_.astype(features.dtype, copy=False)

    def _transform_text(self, X_txt):
        features = self._text_standardiser(self._text_features(X_txt))
        return features @ self.text_weights_.astype(features.dtype, copy=False)


class _LinearTwoView(_Projection):
    """Closed-form linear projections of both modalities into a shared space.

    Both modalities are centred (and scaled when ``scale=True``) and reduced
    to their thin SVDs ``X = U diag(s) V^T``. The cross-modal problem then
    reduces to the SVD of a small core matrix
    ``diag(f(s_img)) U_img^T U_txt diag(f(s_txt)) / (n - 1)``, where the
    subclass chooses the per-direction factor ``f`` (whitening for CCA, the
    identity for PLS) and the matching back-projection ``g``. Working in the
    samples' span keeps the cost at ``O(n d min(n, d))`` and stays exact and
    stable when features outnumber samples.
    """

    _parameter_constraints = {
        "n_components": N_COMPONENTS_CONSTRAINT,
        "scale": ["boolean"],
    }
    # what the core SVD's singular values are: canonical correlations for CCA, plain for PLS
    _spectrum_attribute = "singular_values_"

    def _factors(self, s, n_samples, n_features):
        """Return ``(f, g)``: core factor and back-projection factor per direction."""
        raise NotImplementedError

    def _standardises(self):
        """Whether features are scaled to unit variance (the ``scale`` parameter)."""
        return self.scale

    def _fit_features(self, X_img, X_txt):
        """Fit whatever maps the raw inputs to the features the method works on."""

    def _fit(self, X_img, X_txt, y):
        n = X_img.shape[0]
        if n < 2:
            raise ValueError(f"{type(self).__name__} needs at least 2 pairs, got n_samples={n}.")
        self._fit_features(X_img, X_txt)
        X_img, X_txt = self._image_features(X_img), self._text_features(X_txt)
        X_img, X_txt = self._standardise_training(X_img, X_txt, self._standardises())
        U_i, s_i, V_i = _thin_svd(X_img)
        U_t, s_t, V_t = _thin_svd(X_txt)
        for argument, s in (("X_img", s_i), ("X_txt", s_t)):
            if not len(s):
                raise ValueError(f"{type(self).__name__}: the features of {argument} have rank 0 after centring: they "
                                 f"are the same for all {n} pairs, so there is no direction to fit; check {argument}.")
        k = _resolve_n_components(
            self.n_components,
            min(len(s_i), len(s_t)),
            f"the rank of the problem: the centred image and text features have ranks {len(s_i)} "
            f"and {len(s_t)}, at most min(n_samples - 1, n_features)",
        )
        f_i, g_i = self._factors(s_i, n, X_img.shape[1])
        f_t, g_t = self._factors(s_t, n, X_txt.shape[1])
        core = (f_i[:, None] * (U_i.T @ U_t) * f_t[None, :]) / (n - 1)
        P, sigma, Qt = np.linalg.svd(core, full_matrices=False)
        A = V_i @ (g_i[:, None] * P[:, :k])
        B = V_t @ (g_t[:, None] * Qt[:k].T)
        signs = _component_signs(A)
        self.image_weights_ = A * signs
        self.text_weights_ = B * signs
        setattr(self, self._spectrum_attribute, sigma[:k])
        self.n_components_ = k

class _CanonicalCorrelations:
    """``singular_values_``, the old name of ``canonical_correlations_``, kept as a deprecated alias."""

    _spectrum_attribute = "canonical_correlations_"

    @property
    def singular_values_(self):
        warnings.warn(
            "singular_values_ holds the canonical correlations and was renamed canonical_correlations_; "
            "the old name will be removed in skcross 0.3.",
            FutureWarning,
            stacklevel=2,
        )
        return self.canonical_correlations_


def _whitening_basis(C, ridge=0.0):
    """``V diag(lambda)^(-1/2)`` of ``C + ridge I`` for a symmetric positive semi-definite ``C``.

    Numerically-zero directions are dropped, so ``W^T (C + ridge I) W = I``
    holds on the span that remains. Serves CCA's whitening and KCCA's
    kernel feature map.
    """
    eigenvalues, eigenvectors = np.linalg.eigh((C + C.T) / 2)
    eigenvalues = np.maximum(eigenvalues, 0) + ridge
    keep = eigenvalues > eigenvalues.max() * len(C) * np.finfo(np.float64).eps
    return eigenvectors[:, keep] / np.sqrt(eigenvalues[keep])


def _cca_from_covariances(C_xx, C_yy, C_xy, reg, n_components):
    """Canonical directions from (weighted) covariance matrices, with a relative ridge.

    The ridge added to each auto-covariance is ``reg`` times its mean
    diagonal. ``n_components`` is resolved against the rank of the
    whitened cross-covariance (see ``_resolve_n_components``). Returns
    ``(A, B, correlations)`` with deterministic signs.
    """
    W_x = _whitening_basis(C_xx, reg * np.trace(C_xx) / len(C_xx))
    W_y = _whitening_basis(C_yy, reg * np.trace(C_yy) / len(C_yy))
    P, sigma, Qt = np.linalg.svd(W_x.T @ C_xy @ W_y, full_matrices=False)
    rank = int(np.sum(sigma > sigma[0] * max(C_xy.shape) * np.finfo(np.float64).eps)) if sigma.size else 0
    n_components = _resolve_n_components(
        n_components, rank, "the rank of the cross-covariance (at most the number of labels, minus 1 for single-label y)"
    )
    A = W_x @ P[:, :n_components]
    B = W_y @ Qt[:n_components].T
    signs = _component_signs(A)
    return A * signs, B * signs, sigma[:n_components]


def _component_signs(A):
    """Signs making the largest-magnitude weight of each column positive."""
    signs = np.sign(A[np.abs(A).argmax(axis=0), np.arange(A.shape[1])])
    signs[signs == 0] = 1
    return signs
