"""Semantic structure matching with active learning (SSM-AL)."""

import time
import warnings
from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, clone
from sklearn.utils import check_random_state

from ..base import CrossModalMixin, check_modality, cosine_similarity
from ..utils._sklearn_compat import HasMethods, Interval, StrOptions

__all__ = ["SSMAL"]


def _stack(X, pool):
    if pool is None:
        return X
    return sp.vstack([X, pool], format="csr") if sp.issparse(X) or sp.issparse(pool) else np.vstack([X, pool])


def _cosine_to(X, references):
    """Cosine similarity of every row of ``X`` to every reference row: the eq. (10) representation."""
    S = cosine_similarity(X, references)
    return S.toarray() if sp.issparse(S) else np.asarray(S)


# scikit-learn-extra 0.3's KMedoids segfaulted on 30,000 items here (20,000: 4 s); the default clusters a subset above
_KMEDOIDS_MAX_ITEMS = 20_000


class SSMAL(CrossModalMixin, BaseEstimator):
    """Semantic structure matching with active learning (SSM-AL), unsupervised.

    Abstraction: one modality (``reference_modality``) is clustered with
    k-medoids, using every single-modal item available; the ``n_references``
    medoids are its reference points. Association: an ``oracle`` (by
    default, the pairing of the rows given to ``fit``; in practice a person)
    returns, for each medoid, the matching item of the other modality, so
    exactly ``n_references`` coupled pairs are used. Every item is then
    represented by its cosine similarities to its own modality's references
    (eq. 10), and images and texts are compared in that shared
    ``n_references``-d space with cosine (eq. 32) or Pearson (eq. 33)
    similarity. ``reference_modality="text"`` is SSM-ALT, ``"image"`` SSM-ALI.

    Parameters
    ----------
    n_references : int, default=50
        Number of reference points (clusters), which is also the number of
        coupled pairs the oracle is asked for.
    reference_modality : {"text", "image"}, default="text"
        The modality clustered (SSM-ALT or SSM-ALI).
    clusterer : estimator with ``fit`` and ``medoid_indices_``, default=None
        Clusterer of the reference modality (cloned). None uses
        scikit-learn-extra's ``KMedoids(n_references, metric="cosine",
        method=method, init="k-medoids++")``; above 20,000 items it clusters
        a seeded random subset of 20,000 of them and the medoids are mapped
        back to rows of the whole set (scikit-learn-extra 0.3's ``KMedoids``
        holds the full distance matrix and crashed the Python process with a
        segmentation fault on Flickr8k's 30,000 captions, while 20,000 took
        4 s).
    method : {"alternate", "pam"}, default="alternate"
        k-medoids algorithm of the default clusterer: "alternate" takes well
        under a second for thousands of items, "pam" (the original swap
        algorithm) minutes.
    oracle : callable, default=None
        ``oracle(indices) -> indices``, called once with the indices of all
        medoids (rows of the clustered modality, coupled rows first, then the
        unpaired pool) and returning the matching rows of the other modality
        (coupled rows first, then its pool). None: the rows given to ``fit``
        are coupled pairs, so a medoid's partner is its own row.
    metric : {"pearson", "cosine"}, default="pearson"
        Comparison of the representations: the Pearson correlation of the two
        reference-based vectors (eq. 32) or their cosine (eq. 33). The paper
        ranks with eq. 33, which it derives from eq. 32 by assuming that every
        representation has zero mean across its references; cosines to
        medoids are mostly positive, so that assumption fails on real
        features and the shortcut loses the centring that removes each
        item's overall similarity level. Pearson is therefore the default: it
        is better on every shared dataset at N = 10 and 50 coupled pairs (e.g.
        Wikipedia, N = 50: 0.176 vs 0.142 mean mAP; CUB, N = 10: 0.352 vs
        0.290). ``metric="cosine"`` reproduces the paper exactly.
    center : bool, default=False
        Centre each modality's features (with the mean of all its fit data)
        before computing cosines, as the paper's analysis assumes centred
        features.
    random_state : int, RandomState instance or None, default=None
        Seeds the default clusterer.

    Attributes
    ----------
    reference_indices_ : ndarray of shape (n_references,)
        Rows of the clustered modality chosen as references (medoids).
    partner_indices_ : ndarray of shape (n_references,)
        Rows of the other modality the oracle matched with them.
    n_queries_ : int
        Number of coupled pairs asked of the oracle (``n_references``).
    references_image_ : ndarray or sparse matrix of shape (n_references, n_features_image)
        Image reference points.
    references_text_ : ndarray or sparse matrix of shape (n_references, n_features_text)
        Text reference points.
    clusterer_ : estimator
        The fitted clusterer.
    clustering_time_ : float
        Seconds spent clustering.
    n_features_image_in_ : int
        Number of image features seen in ``fit``.
    n_features_text_in_ : int
        Number of text features seen in ``fit``.

    Notes
    -----
    ``fit(X_img, X_txt, X_img_unpaired=None, X_txt_unpaired=None)``: the
    unpaired pools are extra single-modal items; the clustered modality's
    pool takes part in the clustering, and both pools are valid oracle
    answers. With the default oracle a medoid must be a coupled row (one from
    the pool has no known partner, which raises an error: give an oracle).
    ``fit(X_img, X_txt)`` with different numbers of rows needs an oracle.
    Costs: representation ``O(d k n)``, similarity ``O(n m k)``, plus the
    clustering (``clustering_time_``).

    Examples
    --------
    >>> from skcross.datasets import make_cross_modal
    >>> from skcross.reference import SSMAL
    >>> X_img, X_txt, y = make_cross_modal(300, random_state=0)
    >>> model = SSMAL(n_references=20, random_state=0).fit(X_img, X_txt)
    >>> model.n_queries_, model.transform_image(X_img).shape
    (20, (300, 20))
    """

    _allows_unpaired = True
    _fit_params = ("X_img_unpaired", "X_txt_unpaired")
    _preserves_float32 = True

    _parameter_constraints = {
        "n_references": [Interval(Integral, 1, None, closed="left")],
        "reference_modality": [StrOptions({"text", "image"})],
        "clusterer": [HasMethods(["fit"]), None],
        "method": [StrOptions({"alternate", "pam"})],
        "oracle": [callable, None],
        "metric": [StrOptions({"cosine", "pearson"})],
        "center": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_references=50,
        *,
        reference_modality="text",
        clusterer=None,
        method="alternate",
        oracle=None,
        metric="pearson",
        center=False,
        random_state=None,
    ):
        self.n_references = n_references
        self.reference_modality = reference_modality
        self.clusterer = clusterer
        self.method = method
        self.oracle = oracle
        self.metric = metric
        self.center = center
        self.random_state = random_state

    def _make_clusterer(self):
        if self.clusterer is not None:
            return clone(self.clusterer)
        try:
            from sklearn_extra.cluster import KMedoids
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "SSMAL's default clusterer needs scikit-learn-extra (pip install skcross[kmedoids]); "
                "or pass any clusterer exposing medoid_indices_ as clusterer=."
            ) from exc
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        return KMedoids(self.n_references, metric="cosine", method=self.method, init="k-medoids++", random_state=seed)

    def _fit(self, X_img, X_txt, y, X_img_unpaired=None, X_txt_unpaired=None):
        n_coupled = X_img.shape[0] if X_img.shape[0] == X_txt.shape[0] else None
        if n_coupled is None and self.oracle is None:
            raise ValueError(
                f"X_img has {X_img.shape[0]} rows and X_txt has {X_txt.shape[0]}, so they are not "
                "coupled pairs: give an oracle to match references across modalities."
            )
        pools = {
            "image": None if X_img_unpaired is None else check_modality(X_img_unpaired, "X_img_unpaired", n_features=X_img.shape[1]),
            "text": None if X_txt_unpaired is None else check_modality(X_txt_unpaired, "X_txt_unpaired", n_features=X_txt.shape[1]),
        }
        data = {"image": _stack(X_img, pools["image"]), "text": _stack(X_txt, pools["text"])}
        ref, other = self.reference_modality, ("image" if self.reference_modality == "text" else "text")
        if self.n_references > data[ref].shape[0]:
            raise ValueError(
                f"n_references={self.n_references} exceeds the {data[ref].shape[0]} {ref} items available (X_"
                f"{'img' if ref == 'image' else 'txt'} and its unpaired pool): lower n_references or give more items."
            )
        self._means = {
            m: (np.asarray(data[m].mean(axis=0)).ravel() if self.center else None) for m in ("image", "text")
        }
        start = time.perf_counter()
        X_ref = self._centred(data[ref], ref)
        subset = None
        if self.clusterer is None and X_ref.shape[0] > _KMEDOIDS_MAX_ITEMS:
            rng = np.random.default_rng(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
            subset = np.sort(rng.choice(X_ref.shape[0], size=_KMEDOIDS_MAX_ITEMS, replace=False))
            X_ref = X_ref[subset]
        with warnings.catch_warnings():
            # scikit-learn-extra 0.3's k-medoids++ calls a helper scikit-learn deprecated in 1.8.
            warnings.filterwarnings("ignore", message=".*stable_cumsum.*", category=FutureWarning)
            self.clusterer_ = self._make_clusterer().fit(X_ref)
        self.clustering_time_ = time.perf_counter() - start
        medoids = np.asarray(self.clusterer_.medoid_indices_)
        if subset is not None:  # rows of the subset -> rows of the whole set
            medoids = subset[medoids]
        partners = self._ask_oracle(medoids, n_coupled, data[other].shape[0])
        self.reference_indices_, self.partner_indices_ = medoids, partners
        self.n_queries_ = len(medoids)
        references = {ref: data[ref][medoids], other: data[other][partners]}
        self.references_image_, self.references_text_ = references["image"], references["text"]

    def _ask_oracle(self, medoids, n_coupled, n_other):
        if self.oracle is None:
            unpaired = medoids[medoids >= n_coupled]
            if unpaired.size:
                raise ValueError(
                    f"medoids {unpaired.tolist()} are unpaired items, whose partners the default "
                    "oracle cannot know; give an oracle."
                )
            return medoids.copy()
        partners = np.asarray(self.oracle(medoids.copy()))
        if partners.shape != medoids.shape or not np.issubdtype(partners.dtype, np.integer):
            raise ValueError(
                f"the oracle must return {len(medoids)} integer indices, one per medoid; got "
                f"an array of dtype {partners.dtype} and shape {partners.shape}."
            )
        if partners.min() < 0 or partners.max() >= n_other:
            raise ValueError(f"the oracle returned indices outside [0, {n_other}).")
        return partners

    def _centred(self, X, modality):
        mean = self._means[modality]
        if mean is None:
            return X
        return (X.toarray() if sp.issparse(X) else X) - mean

    def _transform_image(self, X_img):
        return _cosine_to(self._centred(X_img, "image"), self._centred(self.references_image_, "image"))

    def _transform_text(self, X_txt):
        return _cosine_to(self._centred(X_txt, "text"), self._centred(self.references_text_, "text"))

    def _ranks_by_cosine(self):
        return self.metric != "pearson"

    def _similarity(self, Z_img, Z_txt):
        return cosine_similarity(Z_img, Z_txt, center_rows=self.metric == "pearson")
