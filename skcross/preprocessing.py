"""Per-modality preprocessing of paired data."""

from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted

from ._paired import PairedData

__all__ = ["ModalityTransformer"]


def _is_passthrough(step):
    return step is None or (isinstance(step, str) and step == "passthrough")


class ModalityTransformer(TransformerMixin, BaseEstimator):
    """Apply a scikit-learn transformer to the image and/or text modality.

    Use it as the first steps of a :class:`~sklearn.pipeline.Pipeline` on
    :class:`~skcross.PairedData`, e.g. to reduce each modality with PCA before
    CCA. Nested parameters (``image__n_components``) can be searched with
    :class:`~sklearn.model_selection.GridSearchCV`.

    Parameters
    ----------
    image : estimator, "passthrough" or None, default=None
        Transformer for the image features; None or "passthrough" leaves them
        unchanged. It is cloned in ``fit``.
    text : estimator, "passthrough" or None, default=None
        Transformer for the text features, as ``image``.

    Attributes
    ----------
    image_ : estimator or None
        The fitted image transformer (None when passed through).
    text_ : estimator or None
        The fitted text transformer (None when passed through).

    Examples
    --------
    >>> from sklearn.decomposition import PCA
    >>> from skcross import paired
    >>> from skcross.datasets import make_cross_modal
    >>> from skcross.preprocessing import ModalityTransformer
    >>> X_img, X_txt, y = make_cross_modal(100, random_state=0)
    >>> Xt = ModalityTransformer(image=PCA(5)).fit_transform(paired(X_img, X_txt))
    >>> Xt.image.shape, Xt.text.shape
    ((100, 5), (100, 32))
    """

    def __init__(self, image=None, text=None):
        self.image = image
        self.text = text

    @staticmethod
    def _check_paired(X):
        if not isinstance(X, PairedData):
            raise TypeError(
                "ModalityTransformer expects X as a PairedData (skcross.paired(X_img, X_txt)), "
                f"got {type(X).__name__}."
            )
        return X

    def _check_steps(self):
        for name in ("image", "text"):
            step = getattr(self, name)
            if not _is_passthrough(step) and not (hasattr(step, "fit") and hasattr(step, "transform")):
                raise TypeError(
                    f"{name} must be a transformer with fit and transform, 'passthrough' or None; "
                    f"got {step!r}."
                )

    def fit(self, X, y=None):
        """Fit each modality's transformer on its features.

        Parameters
        ----------
        X : PairedData
            The pairs.
        y : array-like, default=None
            Passed to the transformers' ``fit`` (e.g. for supervised reducers).

        Returns
        -------
        self : object
            The fitted transformer.
        """
        X = self._check_paired(X)
        self._check_steps()
        self.image_ = None if _is_passthrough(self.image) else clone(self.image).fit(X.image, y)
        self.text_ = None if _is_passthrough(self.text) else clone(self.text).fit(X.text, y)
        return self

    def transform(self, X):
        """Transform each modality with its fitted transformer.

        Parameters
        ----------
        X : PairedData
            The pairs.

        Returns
        -------
        Xt : PairedData
            The transformed pairs.
        """
        check_is_fitted(self, ["image_", "text_"])
        X = self._check_paired(X)
        image = X.image if self.image_ is None else self.image_.transform(X.image)
        text = X.text if self.text_ is None else self.text_.transform(X.text)
        return PairedData(image, text)
