"""Retrieval metrics, cross-modal evaluation and scorers.

Metrics are pure functions of a similarity matrix ``S`` (queries x database)
and the labels that define relevance. :func:`cross_modal_map` evaluates a
fitted estimator in both directions, and :func:`get_scorer` gives scorers for
scikit-learn's model-selection tools.
"""

from ._ranking import (
    PrecisionRecallCurve,
    PrecisionScopeCurve,
    average_precision_per_query,
    mean_average_precision,
    precision_at_k,
    precision_recall_curve,
    precision_scope_curve,
    recall_at_k,
)
from ._reference import class_prior_similarity, random_precision
from ._scorer import cross_modal_map, cross_modal_recall, get_scorer, get_scorer_names, get_scorers

__all__ = [
    "PrecisionRecallCurve",
    "PrecisionScopeCurve",
    "average_precision_per_query",
    "class_prior_similarity",
    "cross_modal_map",
    "cross_modal_recall",
    "get_scorer",
    "get_scorer_names",
    "get_scorers",
    "mean_average_precision",
    "precision_at_k",
    "precision_recall_curve",
    "precision_scope_curve",
    "random_precision",
    "recall_at_k",
]
