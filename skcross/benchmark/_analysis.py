"""What a benchmark's saved per-query scores say beyond the means: significance and class-balanced ranks.

Everything here reads a :class:`~skcross.benchmark.BenchmarkResult` (fresh or
loaded from disk) and refits nothing. :func:`analyse` is the one step between
the runs and the reports: the renderers read its :class:`Analysis` only.
"""

from typing import NamedTuple

import numpy as np

from ..metrics import compare_to_best
from ._run import DIRECTIONS, summarize

__all__ = ["ALPHA", "Analysis", "analyse", "ranking_changes", "significance"]

ALPHA = 0.05  # family-wise level of the marks in the tables


class Analysis(NamedTuple):
    """Everything the reports show about a result's methods, computed once by :func:`analyse`."""

    summary: list  # summarize(result): one row per method
    significance: dict  # {direction: {method: MethodComparison}}
    place_changes: dict  # {direction: [(method, place by mAP, place by bal. mAP), ...]}


def analyse(result):
    """The summary rows, the significance tests and the class-balanced place changes of ``result``."""
    summary = summarize(result)
    return Analysis(summary, significance(result), ranking_changes(summary))


def _seed_mean_ap(result, direction):
    """``{method: per-query AP averaged over its seeds}`` in run order (methods with an error left out)."""
    by_method = {}
    for (name, _seed, d), ap in result.per_query_ap.items():
        if d == direction:
            by_method.setdefault(name, []).append(np.asarray(ap, dtype=np.float64))
    failed = {run["method"] for run in result.runs if "error" in run}
    order = list(dict.fromkeys(run["method"] for run in result.runs))
    return {name: np.mean(by_method[name], axis=0) for name in order if name in by_method and name not in failed}


def significance(result, *, alpha=ALPHA, test="randomization", random_state=0):
    """Each direction's :func:`~skcross.metrics.compare_to_best` over the methods' per-query AP.

    A method fitted with several seeds enters with each query's AP averaged
    over its seeds. The best method (highest mAP@all) is tested against
    every other one with a paired randomisation test on the test queries,
    Holm-corrected over those comparisons; intervals are bootstrap 95 %
    intervals over queries.

    Parameters
    ----------
    result : BenchmarkResult
        With ``per_query_ap`` (every run since the file was introduced saves it).
    alpha : float, default=0.05
        Family-wise level.
    test : {"randomization", "wilcoxon"}, default="randomization"
        The paired test.
    random_state : int, default=0
        Seed of the resampling, so a re-rendered table is the same.

    Returns
    -------
    comparisons : dict
        ``{direction: {method: MethodComparison}}``; empty when there is no
        per-query AP or fewer than two methods.
    """
    comparisons = {}
    for direction in DIRECTIONS:
        scores = _seed_mean_ap(result, direction)
        if len(scores) >= 2:
            rows = compare_to_best(scores, test=test, alpha=alpha, random_state=random_state)
            comparisons[direction] = {row.method: row for row in rows}
    return comparisons


def ranking_changes(summary):
    """Methods whose place among the methods differs between mAP@all and class-balanced mAP, per direction.

    Parameters
    ----------
    summary : list of dict
        :func:`~skcross.benchmark.summarize`'s rows.

    Returns
    -------
    changes : dict
        ``{direction: [(method, place by mAP, place by class-balanced mAP), ...]}``
        (places from 1), only the methods that move; empty lists when no
        class-balanced score was measured.
    """
    rows = [row for row in summary if "error" not in row]
    changes = {}
    for direction in DIRECTIONS:
        scored = [row for row in rows if f"balanced_map_{direction}" in row]
        by_map = sorted(scored, key=lambda row: -row[f"map_{direction}"])
        by_balanced = sorted(scored, key=lambda row: -row[f"balanced_map_{direction}"])
        place = {row["method"]: i + 1 for i, row in enumerate(by_balanced)}
        changes[direction] = [(row["method"], i + 1, place[row["method"]]) for i, row in enumerate(by_map)
                              if place[row["method"]] != i + 1]
    return changes
