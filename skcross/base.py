"""Common machinery of every skcross estimator.

:class:`CrossModalMixin` gives an estimator the whole public contract of
``skcross`` (``fit`` in both forms, ``transform_image``, ``transform_text``,
``transform``, ``similarity``, ``score``); the estimator only writes its own
math in the private hooks ``_fit``, ``_transform_image`` and
``_transform_text`` (and, for a learned metric, ``_similarity``).
"""

import contextlib
import numbers
import warnings

import numpy as np
from sklearn.preprocessing import normalize
from sklearn.utils import TransformerTags, metadata_routing
from sklearn.utils.validation import check_is_fitted

from ._paired import PairedData
from .metrics import map_both_ways
from .utils._sklearn_compat import _fit_context
from .utils.validation import (  # noqa: F401  (the public validators are re-exported here, as before)
    _feature_names,
    _n_rows,
    _refuse_labels_as_texts,
    _set_feature_names,
    check_fit_labels,
    check_image_tensor,
    check_modality,
    label_indicator,
    unpack_paired,
)

_TRANSFORM_BATCH_VALUES = 1 << 24  # input values embedded at a time by transform_image / transform_text

__all__ = ["CrossModalMixin", "check_image_tensor", "check_modality", "cosine_similarity", "label_indicator", "unpack_paired"]


def cosine_similarity(Z_img, Z_txt, *, center_rows=False):
    """Cosine similarity of every image embedding to every text embedding.

    Parameters
    ----------
    Z_img : ndarray of shape (n_images, n_components)
        Image embeddings.
    Z_txt : ndarray of shape (n_texts, n_components)
        Text embeddings.
    center_rows : bool, default=False
        Subtract each row's mean first, which turns the cosine into the
        Pearson correlation of the two vectors ("centred correlation").

    Returns
    -------
    S : ndarray of shape (n_images, n_texts)
        Similarities in [-1, 1]; a zero row gives zeros.

    Examples
    --------
    >>> import numpy as np
    >>> from skcross.base import cosine_similarity
    >>> cosine_similarity(np.array([[1.0, 0.0]]), np.array([[1.0, 1.0], [0.0, 2.0]])).round(3)
    array([[0.707, 0.   ]])
    """
    if center_rows:
        Z_img = Z_img - Z_img.mean(axis=1, keepdims=True)
        Z_txt = Z_txt - Z_txt.mean(axis=1, keepdims=True)
    return normalize(Z_img) @ normalize(Z_txt).T


class CrossModalMixin:
    """Mixin giving a cross-modal estimator the skcross contract.

    Subclasses implement ``_fit(X_img, X_txt, y)``, ``_transform_image(X_img)``
    and ``_transform_text(X_txt)`` on validated data; they may override
    ``_similarity(Z_img, Z_txt)`` (cosine by default) for a learned metric.
    Class attributes declare what the method needs:

    - ``_requires_labels`` (default False): ``fit`` raises without ``y``.
    - ``_allows_unpaired`` (default False): ``fit`` accepts modalities with
      different numbers of rows, labelled by ``y=(y_img, y_txt)``.
    - ``_accepts_sparse`` (default True): sparse features are accepted.
    - ``_allows_multilabel`` (default True): 2-D indicator labels are accepted.
    - ``_fit_params`` (default empty): names of extra keyword arguments of
      ``fit`` passed on to ``_fit``.
    - ``_preserves_float32`` (default False): float32 input gives float32
      embeddings (otherwise embeddings are float64).

    ``fit`` is atomic: if it raises (bad data, a diverging loss, a
    ``KeyboardInterrupt`` outside a deep training loop), the estimator's
    attributes are restored to what they were before the call, so a failed
    fit never leaves a half-fitted estimator behind.
    """

    _requires_labels = False
    _allows_unpaired = False
    _accepts_sparse = True
    _allows_multilabel = True
    _fit_params = ()
    _preserves_float32 = False
    # a subclass with no parameters to validate needs no constraints of its own
    _parameter_constraints = {}
    # metadata routing: the data arguments are data, not metadata to route
    __metadata_request__fit = {"X_img": metadata_routing.UNUSED, "X_txt": metadata_routing.UNUSED}
    __metadata_request__score = {"X_img": metadata_routing.UNUSED, "X_txt": metadata_routing.UNUSED}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = self._requires_labels
        tags.target_tags.one_d_labels = True
        tags.target_tags.multi_output = self._allows_multilabel
        tags.input_tags.sparse = self._accepts_sparse
        tags.transformer_tags = TransformerTags(
            preserves_dtype=["float64", "float32"] if self._preserves_float32 else ["float64"]
        )
        return tags

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X_img, X_txt=None, y=None, **fit_params):
        """Fit the model on image-text data.

        Parameters
        ----------
        X_img : {array-like, sparse matrix} of shape (n_samples, n_features_image) or PairedData
            Image features, or the pairs (then the second argument is ``y``).
        X_txt : {array-like, sparse matrix} of shape (n_samples, n_features_text), default=None
            Text features; row ``i`` is the partner of ``X_img[i]``.
        y : array-like of shape (n_samples,) or (n_samples, n_labels), default=None
            Class labels or a 0/1 multi-label indicator matrix; ignored by
            unsupervised methods (but validated when given).
        **fit_params : dict
            Extra data a method accepts (listed in its own documentation,
            e.g. unpaired pools); unknown names raise a ``TypeError``.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        with self._restored_on_failure():
            return self._validate_and_fit(X_img, X_txt, y, fit_params)

    @contextlib.contextmanager
    def _restored_on_failure(self):
        """Restore the instance's attributes as they were if the block raises (atomic fit)."""
        state = dict(vars(self))
        try:
            yield
        except BaseException:
            vars(self).clear()
            vars(self).update(state)
            raise

    def _validate_training_data(self, X_img, X_txt, y, *, method, reset):
        """The one validation of training data, for ``fit`` (``reset=True``) and ``partial_fit`` (``reset=False``).

        Both calling forms, each modality's features, the fit(X, y)-habit
        refusal and the labels are checked the same way. ``reset=True``
        records the widths and feature names; ``reset=False`` checks the data
        against them (scikit-learn's ``validate_data(reset=...)``).
        """
        X_img, X_txt, y = unpack_paired(X_img, X_txt, y, method=method)
        image_names, text_names = _feature_names(X_img), _feature_names(X_txt)
        if not reset:
            X_img = self._check_input(X_img, "image")
        elif self._accepts_image_tensors():
            X_img = check_image_tensor(X_img, "X_img")
        else:
            X_img = check_modality(X_img, "X_img", accept_sparse=self._accepts_sparse)
        _refuse_labels_as_texts(X_txt, y, method)
        X_txt = (check_modality(X_txt, "X_txt", accept_sparse=self._accepts_sparse) if reset
                 else self._check_input(X_txt, "text"))
        y = self._check_training_labels(X_img, X_txt, y)
        if reset:
            if self._accepts_image_tensors():
                self.image_shape_in_ = X_img.shape[1:]
            self.n_features_image_in_ = int(np.prod(X_img.shape[1:]))
            self.n_features_text_in_ = X_txt.shape[1]
            self.n_features_in_ = self.n_features_image_in_ + self.n_features_text_in_
            _set_feature_names(self, image_names, text_names)
        return X_img, X_txt, y

    def _validate_and_fit(self, X_img, X_txt, y, fit_params):
        X_img, X_txt, y = self._validate_training_data(X_img, X_txt, y, method="fit", reset=True)
        unknown = sorted(set(fit_params) - set(self._fit_params))
        if unknown:
            raise TypeError(f"{type(self).__name__}.fit() got unexpected keyword arguments {unknown}.")
        self._fit(X_img, X_txt, y, **fit_params)
        return self

    def _check_training_labels(self, X_img, X_txt, y):
        """Refuse unpaired rows unless the method allows them; validate ``y`` against the method's needs."""
        if X_img.shape[0] != X_txt.shape[0] and not self._allows_unpaired:
            raise ValueError(
                f"{type(self).__name__} needs paired data (row i of X_img with row i of X_txt), "
                f"but X_img has {X_img.shape[0]} rows and X_txt has {X_txt.shape[0]}."
            )
        return check_fit_labels(
            y,
            X_img.shape[0],
            X_txt.shape[0],
            requires_labels=self._requires_labels,
            allows_unpaired=self._allows_unpaired,
            allows_multilabel=self._allows_multilabel,
            estimator=type(self).__name__,
        )

    # ------------------------------------------------------------ transform
    def _accepts_image_tensors(self):
        """Whether ``X_img`` may be raw images of any shape (an image encoder is set)."""
        return False

    def _check_input(self, X, modality):
        check_is_fitted(self)
        if modality == "image" and self._accepts_image_tensors():
            return check_image_tensor(X, "X_img", item_shape=self.image_shape_in_)
        name = "X_img" if modality == "image" else "X_txt"
        self._check_feature_names(X, modality, name)
        width = getattr(self, f"n_features_{modality}_in_")
        return check_modality(X, name, n_features=width, accept_sparse=self._accepts_sparse)

    def _check_feature_names(self, X, modality, name):
        """scikit-learn's rule for one modality: names seen in fit must match, in order."""
        fitted = getattr(self, f"feature_names_{modality}_in_", None)
        given = _feature_names(X)
        estimator = type(self).__name__
        if fitted is None and given is not None:
            warnings.warn(f"{name} has feature names, but {estimator} was fitted without feature names", UserWarning)
        elif fitted is not None and given is None:
            warnings.warn(
                f"{name} does not have valid feature names, but {estimator} was fitted with feature names",
                UserWarning,
            )
        elif fitted is not None and (len(fitted) != len(given) or np.any(fitted != given)):
            unseen = [n for n in given if n not in set(fitted)]
            missing = [n for n in fitted if n not in set(given)]
            detail = (
                f" Feature names unseen at fit time: {unseen[:5]}." * bool(unseen)
                + f" Feature names seen at fit time, yet now missing: {missing[:5]}." * bool(missing)
            ) or " The feature names must be in the same order as in fit."
            raise ValueError(f"The feature names of {name} should match those that were passed during fit.{detail}")

    def transform_image(self, X_img, *, batch_size=None):
        """Embed images in the common space.

        Parameters
        ----------
        X_img : {array-like, sparse matrix} of shape (n_samples, n_features_image)
            Image features.
        batch_size : int, default=None
            Rows embedded at a time, which bounds the working memory beyond the
            input and the output (e.g. centred copies). None picks it so that a
            batch holds about 16 million input values (64 MiB of float32).

        Returns
        -------
        Z_img : ndarray of shape (n_samples, n_components)
            Image embeddings.
        """
        return self._in_row_batches(self._transform_image, self._check_input(X_img, "image"), batch_size)

    def transform_text(self, X_txt, *, batch_size=None):
        """Embed texts in the common space.

        Parameters
        ----------
        X_txt : {array-like, sparse matrix} of shape (n_samples, n_features_text)
            Text features.
        batch_size : int, default=None
            Rows embedded at a time; see :meth:`transform_image`.

        Returns
        -------
        Z_txt : ndarray of shape (n_samples, n_components)
            Text embeddings.
        """
        return self._in_row_batches(self._transform_text, self._check_input(X_txt, "text"), batch_size)

    @staticmethod
    def _in_row_batches(transform, X, batch_size):
        """``transform(X)`` applied to consecutive row blocks (every skcross embedding is row-wise)."""
        if batch_size is None:
            batch_size = max(1, _TRANSFORM_BATCH_VALUES // max(1, X.shape[1]))
        elif not isinstance(batch_size, numbers.Integral) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer or None, got {batch_size!r}.")
        if X.shape[0] <= batch_size:
            return transform(X)
        return np.concatenate([transform(X[start:start + batch_size]) for start in range(0, X.shape[0], batch_size)])

    def transform(self, X):
        """Embed both modalities of paired data.

        Parameters
        ----------
        X : PairedData
            The pairs.

        Returns
        -------
        Z : PairedData
            Image and text embeddings, still paired row by row.
        """
        check_is_fitted(self)
        if not isinstance(X, PairedData):
            raise TypeError(
                "transform expects a PairedData (skcross.paired(X_img, X_txt)); "
                "use transform_image or transform_text for one modality."
            )
        return self._wrap_output(self.transform_image(X.image), self.transform_text(X.text), X.image, X.text)

    def set_output(self, *, transform=None):
        """Set the container of ``transform`` and ``fit_transform``'s embeddings, as scikit-learn's ``set_output``.

        This is what ``Pipeline.set_output(transform="pandas")`` calls on
        each step, a skcross estimator at the end included.

        Parameters
        ----------
        transform : {"default", "pandas", "polars"}, default=None
            "pandas" or "polars": ``transform`` and ``fit_transform`` return a
            :class:`~skcross.PairedData` of two DataFrames with columns
            ``<estimator>0``, ``<estimator>1``, ... (``cca0``, ``cca1``: the
            common space's components; a pandas output keeps the index of a
            DataFrame input). "default": arrays. None leaves the setting
            unchanged. ``transform_image``, ``transform_text`` and
            ``similarity`` always return arrays.

        Returns
        -------
        self : object
            The estimator.

        Examples
        --------
        >>> from skcross import paired
        >>> from skcross.datasets import make_cross_modal
        >>> from skcross.linear import CCA
        >>> X_img, X_txt, _ = make_cross_modal(50, random_state=0)
        >>> Z = CCA(2).set_output(transform="pandas").fit_transform(paired(X_img, X_txt))
        >>> list(Z.image.columns)
        ['cca0', 'cca1']
        """
        if transform is None:
            return self
        if transform not in ("default", "pandas", "polars"):
            raise ValueError(f"transform must be 'default', 'pandas', 'polars' or None, got {transform!r}.")
        self._sklearn_output_config = {"transform": transform}  # scikit-learn's attribute: clone() keeps it
        return self

    def _wrap_output(self, Z_img, Z_txt, X_img, X_txt):
        """The embeddings as a PairedData in the container chosen by :meth:`set_output`."""
        container = getattr(self, "_sklearn_output_config", {}).get("transform", "default")
        if container == "default":
            return PairedData(Z_img, Z_txt)
        prefix = type(self).__name__.lower()
        columns = [f"{prefix}{i}" for i in range(Z_img.shape[1])]
        if container == "pandas":
            import pandas as pd

            return PairedData(*(pd.DataFrame(Z, columns=columns, index=getattr(X, "index", None))
                                for Z, X in ((Z_img, X_img), (Z_txt, X_txt))))
        import polars as pl

        return PairedData(*(pl.DataFrame(Z, schema=columns) for Z in (Z_img, Z_txt)))

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X_img, X_txt=None, y=None, **fit_params):
        """Fit on paired data, then embed it: ``fit(...)`` followed by ``transform``.

        Parameters
        ----------
        X_img : {array-like, sparse matrix} of shape (n_samples, n_features_image) or PairedData
            Image features, or the pairs (then the second argument is ``y``).
        X_txt : {array-like, sparse matrix} of shape (n_samples, n_features_text), default=None
            Text features, paired row by row with ``X_img``.
        y : array-like, default=None
            Labels, as in ``fit``.
        **fit_params : dict
            Passed to ``fit``.

        Returns
        -------
        Z : PairedData
            Image and text embeddings of the training pairs. Unpaired
            training data has no paired embedding: call ``fit``, then
            ``transform_image`` and ``transform_text``.
        """
        X_img, X_txt, y = unpack_paired(X_img, X_txt, y, method="fit_transform")
        if _n_rows(X_img) != _n_rows(X_txt):
            raise ValueError(
                "fit_transform returns a PairedData of embeddings, which needs paired rows; X_img has "
                f"{_n_rows(X_img)} rows and X_txt {_n_rows(X_txt)}. For unpaired data call fit, then "
                "transform_image and transform_text."
            )
        self.fit(X_img, X_txt, y, **fit_params)
        return self._wrap_output(self.transform_image(X_img), self.transform_text(X_txt), X_img, X_txt)

    # ----------------------------------------------------------- similarity
    def _similarity(self, Z_img, Z_txt):
        """Cosine similarity of embeddings; override for a learned metric (and :meth:`_ranks_by_cosine`)."""
        return cosine_similarity(Z_img, Z_txt)

    def _ranks_by_cosine(self):
        """Whether :meth:`_similarity` is the cosine of the embeddings, with the current parameters.

        The declaration every ranking relies on: the metrics then normalise
        each embedding once (one matrix product per block), and the index
        searches cosine without re-ranking. An estimator that overrides
        ``_similarity`` with something else overrides this to say so.
        """
        return True

    def similarity(self, X_img, X_txt, *, batch_size=None):
        """Similarity of every image to every text.

        Parameters
        ----------
        X_img : {array-like, sparse matrix} of shape (n_images, n_features_image)
            Image features.
        X_txt : {array-like, sparse matrix} of shape (n_texts, n_features_text)
            Text features.
        batch_size : int, default=None
            Rows embedded at a time (see :meth:`transform_image`); the result
            itself is the full ``(n_images, n_texts)`` matrix: for large sets,
            rank with :class:`~skcross.retrieval.CrossModalIndex` or
            :func:`~skcross.metrics.cross_modal_map`, which work block by block.

        Returns
        -------
        S : ndarray of shape (n_images, n_texts)
            Larger means more similar (cosine of the embeddings by default).
        """
        return self._similarity(self.transform_image(X_img, batch_size=batch_size),
                                self.transform_text(X_txt, batch_size=batch_size))

    def score(self, X_img, X_txt=None, y=None):
        """Mean of image-to-text and text-to-image mAP@all on the given data.

        Parameters
        ----------
        X_img : {array-like, sparse matrix} or PairedData
            Image features, or the pairs (then the second argument is ``y``).
        X_txt : {array-like, sparse matrix}, default=None
            Text features, paired row by row with ``X_img``.
        y : array-like, default=None
            Labels defining relevance; None means each query's only relevant
            item is its own pair.

        Returns
        -------
        score : float
            Mean mAP in [0, 1]; higher is better.
        """
        X_img, X_txt, y = unpack_paired(X_img, X_txt, y, method="score")
        _refuse_labels_as_texts(X_txt, y, "score")
        Z_img, Z_txt = self.transform_image(X_img), self.transform_text(X_txt)
        similarity = None if self._ranks_by_cosine() else self._similarity
        return map_both_ways(Z_img, Z_txt, y, similarity=similarity)["mean"]
