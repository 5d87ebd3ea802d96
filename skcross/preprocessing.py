"""Per-modality preprocessing of paired data."""

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted

from ._paired import PairedData

__all__ = ["ModalityTransformer", "SIFEmbedding"]


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


class SIFEmbedding(TransformerMixin, BaseEstimator):
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
        without a vector are skipped.
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

    def _tokens(self, X, name):
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
