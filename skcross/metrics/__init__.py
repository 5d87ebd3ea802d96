"""Retrieval metrics, cross-modal evaluation and scorers.

Metrics are pure functions of a similarity matrix ``S`` (queries x database)
and the labels that define relevance. :func:`cross_modal_map` evaluates a
fitted estimator in both directions, and :func:`get_scorer` gives scorers for
scikit-learn's model-selection tools.
"""

from ._instance import first_relevant_rank, instance_retrieval_scores, unique_images
from ._ranking import (
    PrecisionRecallCurve,
    PrecisionScopeCurve,
    average_over_classes,
    average_precision_per_query,
    mean_average_precision,
    precision_at_k,
    precision_recall_curve,
    precision_scope_curve,
    rank_queries,
    recall_at_k,
    top_k,
)
from ._reference import class_prior_similarity, random_precision
from ._significance import MethodComparison, bootstrap_interval, compare_to_best, holm_adjust, paired_test
from ._scorer import (
    Ranker,
    as_ranker,
    cross_modal_instance_scores,
    cross_modal_map,
    cross_modal_recall,
    get_scorer,
    get_scorer_names,
    get_scorers,
    instance_scores_both_ways,
    map_both_ways,
    split_labels,
)

__all__ = [
    "MethodComparison",
    "PrecisionRecallCurve",
    "PrecisionScopeCurve",
    "Ranker",
    "as_ranker",
    "average_over_classes",
    "average_precision_per_query",
    "bootstrap_interval",
    "class_prior_similarity",
    "compare_to_best",
    "cross_modal_instance_scores",
    "cross_modal_map",
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
    "rank_queries",
    "recall_at_k",
    "split_labels",
    "top_k",
    "unique_images",
]
