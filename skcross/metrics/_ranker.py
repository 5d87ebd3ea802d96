"""The one adapter from an estimator to its ranking: embed each modality, then compare."""

from typing import Callable, NamedTuple

from ..utils._modality_steps import modality_steps, through_steps
from ._checks import _as_rows

__all__ = ["Ranker", "as_ranker"]


class Ranker(NamedTuple):
    """How an estimator ranks retrievals, as :func:`as_ranker` reads it.

    Attributes
    ----------
    estimator : object
        The cross-modal estimator at the end (a Pipeline's last step).
    embed_image, embed_text : callable
        One modality's rows to what ``similarity`` compares (a Pipeline's
        transformers, then the estimator's embedding).
    similarity : callable
        ``similarity(E_img, E_txt)``: images x texts, larger is more similar.
    cosine : bool
        Whether ``similarity`` is the cosine of the embeddings (declared by
        the estimator): rankings then normalise each embedding once.
    """

    estimator: object
    embed_image: Callable
    embed_text: Callable
    similarity: Callable
    cosine: bool


def as_ranker(estimator):
    """The one adapter from an estimator to its ranking: embed each modality, then compare.

    ``embed_image(X)`` / ``embed_text(X)`` take one modality's rows to what
    ``similarity(E_img, E_txt)`` compares. A Pipeline's transformers (a
    skcross :class:`~skcross.pipeline.Pipeline` or scikit-learn's) are
    applied to each modality on its own (``transform_image`` /
    ``transform_text`` of each step, e.g. a
    :class:`~skcross.preprocessing.ModalityTransformer`), so sets of any
    sizes, and one modality alone as a retrieval index needs, can be
    embedded. A skcross estimator is served by its embeddings and its
    similarity hook on embeddings (each item embedded once, not once per
    pair); any other estimator with the public ``transform_image``,
    ``transform_text`` and ``similarity`` methods by ``similarity`` on its
    inputs. The metrics, the scorers, the retrieval index and the plots all
    rank through it.

    Parameters
    ----------
    estimator : cross-modal estimator or Pipeline ending in one
        The model (fitted before the returned functions are called).

    Returns
    -------
    ranker : Ranker
        ``(estimator, embed_image, embed_text, similarity, cosine)``.

    Examples
    --------
    >>> from skcross.datasets import make_cross_modal
    >>> from skcross.linear import CCA
    >>> from skcross.metrics import as_ranker
    >>> X_img, X_txt, _ = make_cross_modal(100, random_state=0)
    >>> ranker = as_ranker(CCA(2).fit(X_img, X_txt))
    >>> ranker.cosine, ranker.similarity(ranker.embed_image(X_img[:3]), ranker.embed_text(X_txt)).shape
    (True, (3, 100))
    """
    final, transformers = estimator, []
    steps = getattr(estimator, "steps", None)
    if steps is not None:
        transformers, final = modality_steps(steps), steps[-1][1]
    if not all(hasattr(final, method) for method in ("transform_image", "transform_text", "similarity")):
        raise TypeError(
            f"{type(final).__name__} is not a cross-modal estimator: it needs transform_image, "
            "transform_text and similarity methods (see 'Writing your own estimator' in the user guide)."
        )

    if hasattr(final, "_similarity"):  # a skcross estimator: rank embeddings with its similarity hook
        return Ranker(final, lambda X: final.transform_image(through_steps(transformers, X, "image")),
                      lambda X: final.transform_text(through_steps(transformers, X, "text")), final._similarity,
                      _ranks_by_cosine(final))
    return Ranker(final, lambda X: _as_rows(through_steps(transformers, X, "image")),
                  lambda X: _as_rows(through_steps(transformers, X, "text")), final.similarity, False)


def _ranks_by_cosine(final):
    """Whether ``final`` ranks by the cosine of its embeddings, as it declares (``_ranks_by_cosine()``).

    An estimator that does not declare it (e.g. one with only a public
    ``similarity`` on raw rows) is taken to rank otherwise.
    """
    declared = getattr(final, "_ranks_by_cosine", None)
    return bool(declared()) if callable(declared) else False
