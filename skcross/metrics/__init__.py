"""Retrieval metrics, cross-modal evaluation and scorers.

Metrics are pure functions of a similarity matrix ``S`` (queries x database)
and the labels that define relevance. :func:`rank_both_ways` ranks both
directions of a fitted estimator (or of embeddings, or of a similarity
matrix) once and returns each query's values; :func:`cross_modal_map`, the
instance scores and the scorers of :func:`get_scorer` reduce them.
"""

from ._checks import split_labels
from ._instance import (
    cross_modal_instance_scores,
    first_relevant_rank,
    instance_retrieval_scores,
    instance_scores_both_ways,
    unique_images,
)
from ._ranker import Ranker, as_ranker
from ._ranking import (
    PrecisionRecallCurve,
    PrecisionScopeCurve,
    QueryValues,
    Statistic,
    average_over_classes,
    average_precision_per_query,
    mean_average_precision,
    precision_at_k,
    precision_recall_curve,
    precision_scope_curve,
    rank_both_ways,
    rank_queries,
    recall_at_k,
    top_k,
)
from ._reference import class_prior_similarity, random_precision
from ._scorer import (
    cross_modal_map,
    cross_modal_precision,
    cross_modal_recall,
    get_scorer,
    get_scorer_names,
    get_scorers,
    map_both_ways,
)
from ._significance import MethodComparison, bootstrap_interval, compare_to_best, holm_adjust, paired_test

__all__ = [
    "MethodComparison",
    "PrecisionRecallCurve",
    "PrecisionScopeCurve",
    "QueryValues",
    "Ranker",
    "Statistic",
    "as_ranker",
    "average_over_classes",
    "average_precision_per_query",
    "bootstrap_interval",
    "class_prior_similarity",
    "compare_to_best",
    "cross_modal_instance_scores",
    "cross_modal_map",
    "cross_modal_precision",
    "cross_modal_recall",
    "first_relevant_rank",
    "get_scorer",
    "get_scorer_names",
    "get_scorers",
    "holm_adjust",
    "instance_retrieval_scores",
    "instance_scores_both_ways",
    "map_both_ways",
    "mean_average_precision",
    "paired_test",
    "precision_at_k",
    "precision_recall_curve",
    "precision_scope_curve",
    "random_precision",
    "rank_both_ways",
    "rank_queries",
    "recall_at_k",
    "split_labels",
    "top_k",
    "unique_images",
]
