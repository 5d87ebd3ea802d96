"""Per-modality preprocessing of paired data."""

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted

from ._paired import PairedData, _width
from .utils.validation import _feature_names, _set_feature_names
from .utils.validation import _is_passthrough

__all__ = ["ModalityTransformer", "SIFEmbedding"]


class ModalityTransformer(TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):
    """Apply a scikit-learn transformer to the image and/or text modality.

    Use it as the first steps of a :class:`~skcross.pipeline.Pipeline` (or
    scikit-learn's) on :class:`~skcross.PairedData`, e.g. to reduce each
    modality with PCA before CCA, or to embed raw sentences with
    :class:`SIFEmbedding` inside cross-validation. Nested parameters
    (``image__n_components``) can be searched with
    :class:`~sklearn.model_selection.GridSearchCV`. ``transform_image`` and
    ``transform_text`` apply one modality's transformer alone, which is how a
    fitted pipeline embeds queries of one modality.

    Parameters
    ----------
    image : estimator, "passthrough" or None, default=None
        Transformer for the image features; None or "passthrough" leaves them
        unchanged. It is cloned in ``fit``.
    text : estimator, "passthrough" or None, default=None
        Transformer for the text features (or raw sentences), as ``image``.

    Attributes
    ----------
    image_ : estimator or None
        The fitted image transformer (None when passed through).
    text_ : estimator or None
        The fitted text transformer (None when passed through).
    n_features_in_ : int
        Width of the ``PairedData`` seen in ``fit`` (image plus text
        features; raw text counts as one).
    feature_names_image_in_, feature_names_text_in_ : ndarray of str
        Column names of a modality given as a DataFrame with string columns.

    Examples
    --------
    >>> from sklearn.decomposition import PCA
    >>> from skcross import paired
    >>> from skcross.datasets import make_cross_modal
    >>> from skcross.preprocessing import ModalityTransformer
    >>> X_img, X_txt, y = make_cross_modal(100, random_state=0)
    >>> mt = ModalityTransformer(image=PCA(5)).fit(paired(X_img, X_txt))
    >>> Xt = mt.transform(paired(X_img, X_txt))
    >>> Xt.image.shape, Xt.text.shape, mt.transform_image(X_img[:3]).shape
    ((100, 5), (100, 32), (3, 5))
    >>> mt.get_feature_names_out()[[0, 5]].tolist()
    ['image__pca0', 'text__x0']
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

    def _fit_step(self, modality, X, y):
        step = getattr(self, modality)
        if _is_passthrough(step):
            return None
        step = clone(step)
        output = getattr(self, "_sklearn_output_config", {}).get("transform")
        if output is not None and hasattr(step, "set_output"):
            step.set_output(transform=output)
        return step.fit(X, y)

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
        image, text = self._fit_step("image", X.image, y), self._fit_step("text", X.text, y)
        self.image_, self.text_ = image, text
        self.n_features_in_ = X.shape[1]
        self._widths = (_width(X.image), _width(X.text))
        _set_feature_names(self, _feature_names(X.image), _feature_names(X.text))
        return self

    def _apply(self, modality, X):
        check_is_fitted(self, ["image_", "text_"])
        if isinstance(X, PairedData):
            raise TypeError(f"transform_{modality} takes one modality's data, got a PairedData; use transform.")
        step = getattr(self, f"{modality}_")
        return X if step is None else step.transform(X)

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
        return PairedData(self._apply("image", X.image), self._apply("text", X.text))

    def transform_image(self, X_img):
        """Transform image features alone (e.g. queries) with the fitted image transformer.

        Parameters
        ----------
        X_img : array-like of shape (n_samples, n_features_image)
            Image features.

        Returns
        -------
        X_img_t : array-like
            The transformed features (unchanged when passed through).
        """
        return self._apply("image", X_img)

    def transform_text(self, X_txt):
        """Transform text features (or raw sentences) alone with the fitted text transformer.

        Parameters
        ----------
        X_txt : array-like of shape (n_samples, n_features_text) or sequence of str
            Text features or raw sentences.

        Returns
        -------
        X_txt_t : array-like
            The transformed features (unchanged when passed through).
        """
        return self._apply("text", X_txt)

    def get_feature_names_out(self, input_features=None):
        """Output feature names, prefixed by modality as in ``ColumnTransformer``.

        Parameters
        ----------
        input_features : None
            Not used; the input names are those seen in ``fit`` (DataFrame
            columns) or ``x0, x1, ...``.

        Returns
        -------
        feature_names_out : ndarray of str
            ``image__<name>`` for each output image feature, then
            ``text__<name>`` for each output text feature, in the order of the
            ``PairedData`` ``shape``.
        """
        check_is_fitted(self, ["image_", "text_"])
        if input_features is not None:
            raise ValueError(
                "input_features is not supported: ModalityTransformer has two inputs; the names "
                "seen in fit are used."
            )
        names = []
        for modality, width in zip(("image", "text"), self._widths):
            step = getattr(self, f"{modality}_")
            given = getattr(self, f"feature_names_{modality}_in_", None)
            inputs = given if given is not None else np.array([f"x{i}" for i in range(width)], dtype=object)
            if step is None:
                out = inputs
            elif hasattr(step, "get_feature_names_out"):
                out = step.get_feature_names_out(given)
            else:
                raise AttributeError(
                    f"the {modality} transformer {type(step).__name__} has no get_feature_names_out."
                )
            names += [f"{modality}__{name}" for name in out]
        return np.asarray(names, dtype=object)

    def set_output(self, *, transform=None):
        """Set the output container of each modality's transformer.

        Parameters
        ----------
        transform : {"default", "pandas", "polars"}, default=None
            Passed to each modality transformer's ``set_output`` (now when
            fitted, and at every ``fit``); ``transform`` still returns a
            :class:`~skcross.PairedData`, whose modalities are then DataFrames
            with their column names. None leaves the configuration unchanged.

        Returns
        -------
        self : object
            The transformer.
        """
        if transform is None:
            return self
        # scikit-learn's attribute for this setting, so that clone() keeps it
        self._sklearn_output_config = {"transform": transform}
        for step in (getattr(self, "image_", None), getattr(self, "text_", None)):
            if step is not None and hasattr(step, "set_output"):
                step.set_output(transform=transform)
        return self


class SIFEmbedding(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Smooth inverse frequency (SIF) sentence embeddings (Arora et al., 2017).

    A sentence is the weighted average of its words' vectors, each word
    weighted by ``a / (a + p(w))`` where ``p(w)`` is its frequency in the
    corpus seen by ``fit``; the projection on the first principal component
    of the training sentences' averages (the common discourse direction) is
    then removed.

    Parameters
    ----------
    word_vectors : mapping or gensim-style KeyedVectors
        Word -> vector; anything supporting ``word in word_vectors`` and
        ``word_vectors[word]`` (a dict, or gensim's ``KeyedVectors``). Words
        without a vector are skipped. Never modified, and shared by reference
        by :func:`~sklearn.base.clone` (a grid search does not copy them per
        candidate).
    a : float, default=1e-3
        Smoothing parameter of the weights.
    lowercase : bool, default=True
        Lower-case strings before splitting them on whitespace.

    Attributes
    ----------
    word_frequencies_ : dict
        ``p(w)`` of each word of the training corpus.
    principal_component_ : ndarray of shape (n_dims,)
        The removed direction (unit norm).
    n_dims_ : int
        Dimension of the word vectors.

    References
    ----------
    S. Arora, Y. Liang, T. Ma. A simple but tough-to-beat baseline for
    sentence embeddings. ICLR, 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from skcross.preprocessing import SIFEmbedding
    >>> vectors = {"cat": np.array([1.0, 0.0]), "dog": np.array([0.0, 1.0]),
    ...            "the": np.array([1.0, 1.0])}
    >>> sif = SIFEmbedding(vectors).fit(["the cat", "the dog", "the cat sat"])
    >>> sif.transform(["the dog"]).shape
    (1, 2)
    """

    def __init__(self, word_vectors, a=1e-3, lowercase=True):
        self.word_vectors = word_vectors
        self.a = a
        self.lowercase = lowercase

    def __sklearn_clone__(self):
        # clone() would deep-copy the word vectors (gigabytes, once per grid-search candidate);
        # they are read-only here, so a clone shares them by reference
        return type(self)(**self.get_params(deep=False))

    @property
    def _n_features_out(self):
        return self.n_dims_

    def _tokens(self, X, name):
        if isinstance(X, np.ndarray) and X.ndim == 2 and X.shape[1] == 1:
            X = X[:, 0]  # a one-column array of sentences, e.g. from a DataFrame column
        elif hasattr(X, "iloc") and getattr(X, "ndim", 1) == 2 and X.shape[1] == 1:
            X = X.iloc[:, 0].tolist()
        if isinstance(X, str) or not hasattr(X, "__len__"):
            raise TypeError(f"{name} must be a list of sentences (strings or token lists), got {type(X).__name__}.")
        if len(X) == 0:
            raise ValueError(f"{name} is empty.")
        out = []
        for sentence in X:
            if isinstance(sentence, str):
                out.append((sentence.lower() if self.lowercase else sentence).split())
            elif isinstance(sentence, (list, tuple)) and all(isinstance(t, str) for t in sentence):
                out.append(list(sentence))
            else:
                raise TypeError(f"each sentence in {name} must be a string or a list of strings, got {sentence!r}.")
        return out

    def _average(self, sentences):
        out = np.zeros((len(sentences), self.n_dims_))
        for i, words in enumerate(sentences):
            known = [w for w in words if w in self.word_vectors]
            if known:
                weights = np.array([self.a / (self.a + self.word_frequencies_.get(w, 0.0)) for w in known])
                out[i] = weights @ np.stack([np.asarray(self.word_vectors[w], dtype=float) for w in known]) / len(words)
        return out

    def fit(self, X, y=None):
        """Learn word frequencies and the common component from a corpus.

        Parameters
        ----------
        X : list of str or list of list of str
            Training sentences (documents).
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted transformer.
        """
        if not (isinstance(self.a, (int, float)) and self.a > 0):
            raise ValueError(f"a must be a positive number, got {self.a!r}.")
        sentences = self._tokens(X, "X")
        try:
            first = next(iter(self.word_vectors[w] for s in sentences for w in s if w in self.word_vectors))
        except StopIteration:
            raise ValueError("no word of X has a vector in word_vectors.") from None
        self.n_dims_ = len(first)
        counts = {}
        for words in sentences:
            for w in words:
                counts[w] = counts.get(w, 0) + 1
        total = sum(counts.values())
        self.word_frequencies_ = {w: c / total for w, c in counts.items()}
        averages = self._average(sentences)
        _, _, Vt = np.linalg.svd(averages, full_matrices=False)
        self.principal_component_ = Vt[0]
        return self

    def transform(self, X):
        """Embed sentences.

        Parameters
        ----------
        X : list of str or list of list of str
            Sentences.

        Returns
        -------
        E : ndarray of shape (n_sentences, n_dims)
            SIF embeddings (a sentence with no known word embeds to zeros).
        """
        check_is_fitted(self, "principal_component_")
        averages = self._average(self._tokens(X, "X"))
        u = self.principal_component_
        return averages - np.outer(averages @ u, u)
