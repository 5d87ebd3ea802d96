"""Shared machinery of the closed-form linear two-view methods (CCA, PLS)."""

from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval

from ..base import CrossModalMixin


class _Standardiser:
    """Per-feature centring (and optional scaling) fitted on training data."""

    def __init__(self, X, scale):
        self.mean = X.mean(axis=0)
        std = X.std(axis=0, ddof=1) if scale and X.shape[0] > 1 else np.ones(X.shape[1])
        self.scale = np.where(std > 0, std, 1.0)

    def __call__(self, X):
        return (X - self.mean) / self.scale


def _dense(X):
    return np.asarray(X.toarray() if sp.issparse(X) else X, dtype=np.float64)


def _thin_svd(X):
    """Thin SVD of a centred matrix, dropping numerically-zero directions."""
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    keep = s > s[0] * max(X.shape) * np.finfo(np.float64).eps if s.size and s[0] > 0 else np.zeros(s.shape, bool)
    return U[:, keep], s[keep], Vt[keep].T


class _LinearTwoView(CrossModalMixin, BaseEstimator):
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
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "scale": ["boolean"],
    }

    def _factors(self, s, n_samples, n_features):
        """Return ``(f, g)``: core factor and back-projection factor per direction."""
        raise NotImplementedError

    def _fit(self, X_img, X_txt, y):
        X_img, X_txt = _dense(X_img), _dense(X_txt)
        n = X_img.shape[0]
        if n < 2:
            raise ValueError(f"{type(self).__name__} needs at least 2 pairs, got {n}.")
        self._image_standardiser = _Standardiser(X_img, self.scale)
        self._text_standardiser = _Standardiser(X_txt, self.scale)
        U_i, s_i, V_i = _thin_svd(self._image_standardiser(X_img))
        U_t, s_t, V_t = _thin_svd(self._text_standardiser(X_txt))
        rank = min(len(s_i), len(s_t))
        if self.n_components > rank:
            raise ValueError(
                f"n_components={self.n_components} exceeds the rank of the problem ({rank}): "
                f"the centred image and text features have ranks {len(s_i)} and {len(s_t)} "
                f"(at most min(n_samples - 1, n_features))."
            )
        f_i, g_i = self._factors(s_i, n, X_img.shape[1])
        f_t, g_t = self._factors(s_t, n, X_txt.shape[1])
        core = (f_i[:, None] * (U_i.T @ U_t) * f_t[None, :]) / (n - 1)
        P, sigma, Qt = np.linalg.svd(core, full_matrices=False)
        k = self.n_components
        A = V_i @ (g_i[:, None] * P[:, :k])
        B = V_t @ (g_t[:, None] * Qt[:k].T)
        # Deterministic signs: the largest image weight of each component is positive.
        signs = np.sign(A[np.abs(A).argmax(axis=0), np.arange(k)])
        signs[signs == 0] = 1
        self.image_weights_ = A * signs
        self.text_weights_ = B * signs
        self.singular_values_ = sigma[:k]

    def _transform_image(self, X_img):
        return self._image_standardiser(_dense(X_img)) @ self.image_weights_

    def _transform_text(self, X_txt):
        return self._text_standardiser(_dense(X_txt)) @ self.text_weights_
