"""A scikit-learn Pipeline that keeps the cross-modal methods of its final estimator.

scikit-learn's :class:`~sklearn.pipeline.Pipeline` exposes ``fit``,
``transform`` and ``score``, which take both modalities at once (a
:class:`~skcross.PairedData`). Retrieval also needs one modality at a time:
embed a few query images and rank a text database of another size. This
subclass adds ``transform_image``, ``transform_text`` and ``similarity``,
running each intermediate step's ``transform_image`` / ``transform_text``
(e.g. :class:`~skcross.preprocessing.ModalityTransformer`) and then the final
estimator's, the way imbalanced-learn's ``Pipeline`` subclass adds resampling.
"""

from sklearn import pipeline as _sklearn_pipeline
from sklearn.utils.metaestimators import available_if

from .utils._modality_steps import modality_steps, through_steps

__all__ = ["Pipeline", "make_pipeline"]


def _final_has(method):
    def check(self):
        getattr(self._final_estimator, method)  # raises AttributeError, as available_if expects
        return True

    return check


class Pipeline(_sklearn_pipeline.Pipeline):
    """Pipeline of transforms ending in a cross-modal estimator.

    Everything of :class:`sklearn.pipeline.Pipeline` (``fit``, ``transform``,
    ``score``, nested parameters for ``GridSearchCV``, caching, ``verbose``),
    plus the cross-modal methods of the final estimator: ``transform_image``,
    ``transform_text`` and ``similarity``, which pass one modality (or each
    modality separately) through the intermediate steps. Those steps must
    provide ``transform_image`` and ``transform_text``; wrap scikit-learn
    transformers in :class:`~skcross.preprocessing.ModalityTransformer`.

    The metrics (:func:`~skcross.metrics.cross_modal_map`, the scorers) accept
    this pipeline, and scikit-learn's own, for image and text sets of any
    sizes.

    Parameters
    ----------
    steps : list of (str, estimator) tuples
        The steps, as in :class:`sklearn.pipeline.Pipeline`; the last one is
        a cross-modal estimator.
    transform_input : list of str, default=None
        As in :class:`sklearn.pipeline.Pipeline`.
    memory : str or object with the joblib.Memory interface, default=None
        As in :class:`sklearn.pipeline.Pipeline`.
    verbose : bool, default=False
        As in :class:`sklearn.pipeline.Pipeline`.

    See Also
    --------
    make_pipeline : Build a pipeline without naming the steps.

    Examples
    --------
    >>> from sklearn.decomposition import PCA
    >>> from skcross import paired
    >>> from skcross.datasets import make_cross_modal
    >>> from skcross.linear import CCA
    >>> from skcross.metrics import cross_modal_map
    >>> from skcross.pipeline import make_pipeline
    >>> from skcross.preprocessing import ModalityTransformer
    >>> X_img, X_txt, y = make_cross_modal(200, random_state=0)
    >>> pipe = make_pipeline(ModalityTransformer(image=PCA(10)), CCA(4)).fit(paired(X_img, X_txt), y)
    >>> pipe.transform_image(X_img[:5]).shape  # five query images
    (5, 4)
    >>> pipe.similarity(X_img[:5], X_txt).shape  # against all 200 texts
    (5, 200)
    >>> scores = cross_modal_map(pipe, X_img[:5], X_txt, (y[:5], y))
    """

    def _through_steps(self, X, modality):
        return through_steps(modality_steps(self.steps), X, modality)

    @available_if(_final_has("transform_image"))
    def transform_image(self, X_img):
        """Embed images through every step.

        Parameters
        ----------
        X_img : array-like of shape (n_samples, n_features_image)
            Image features.

        Returns
        -------
        Z_img : ndarray of shape (n_samples, n_components)
            The final estimator's image embeddings.
        """
        return self._final_estimator.transform_image(self._through_steps(X_img, "image"))

    @available_if(_final_has("transform_text"))
    def transform_text(self, X_txt):
        """Embed texts through every step.

        Parameters
        ----------
        X_txt : array-like of shape (n_samples, n_features_text) or sequence of str
            Text features (or raw sentences, when a step embeds them).

        Returns
        -------
        Z_txt : ndarray of shape (n_samples, n_components)
            The final estimator's text embeddings.
        """
        return self._final_estimator.transform_text(self._through_steps(X_txt, "text"))

    @available_if(_final_has("similarity"))
    def similarity(self, X_img, X_txt):
        """Similarity of every image to every text, by the final estimator.

        Parameters
        ----------
        X_img : array-like of shape (n_images, n_features_image)
            Image features.
        X_txt : array-like of shape (n_texts, n_features_text) or sequence of str
            Text features.

        Returns
        -------
        S : ndarray of shape (n_images, n_texts)
            Larger means more similar.
        """
        return self._final_estimator.similarity(
            self._through_steps(X_img, "image"), self._through_steps(X_txt, "text")
        )


def make_pipeline(*steps, memory=None, transform_input=None, verbose=False):
    """Build a :class:`Pipeline` from estimators, naming each step after its class.

    Parameters
    ----------
    *steps : list of estimators
        The steps; the last one is a cross-modal estimator.
    memory : str or object with the joblib.Memory interface, default=None
        As in :func:`sklearn.pipeline.make_pipeline`.
    transform_input : list of str, default=None
        As in :func:`sklearn.pipeline.make_pipeline`.
    verbose : bool, default=False
        As in :func:`sklearn.pipeline.make_pipeline`.

    Returns
    -------
    pipeline : Pipeline
        A skcross :class:`Pipeline`.

    Examples
    --------
    >>> from sklearn.decomposition import PCA
    >>> from skcross.linear import CCA
    >>> from skcross.pipeline import make_pipeline
    >>> from skcross.preprocessing import ModalityTransformer
    >>> make_pipeline(ModalityTransformer(image=PCA(0.95)), CCA()).steps[1][0]
    'cca'
    """
    named = _sklearn_pipeline.make_pipeline(*steps)  # scikit-learn's naming of the steps
    return Pipeline(named.steps, memory=memory, transform_input=transform_input, verbose=verbose)
