"""Retrieval metrics on a query-by-database similarity matrix, and the one ranking pass behind every metric.

All metrics share one ranking convention: each query ranks the whole database
by similarity, descending, and items with equal similarity keep database order
(a stable ranking). The work is done in blocks of query rows so that memory
stays bounded by ``block_size x n_database`` whatever the number of queries.

Every metric is a reduction of per-query values (:class:`QueryValues`), which
:func:`rank_queries` gives for one direction and :func:`rank_both_ways` for
both directions of an estimator, of embeddings or of a similarity matrix.
"""

import functools
import sys
from typing import NamedTuple

import numpy as np
from joblib import Parallel, delayed
from sklearn.preprocessing import normalize
from sklearn.utils.validation import check_is_fitted

from ..utils._device import resolve_device
from ..utils._memory import fits_in_one_block, rows_per_block
from ..utils.validation import check_labels, encode_labels
from ._checks import (
    _as_rows,
    _check_average,
    _check_embeddings,
    _check_k,
    _check_recall_levels,
    _check_scopes,
    _check_similarity,
    split_labels,
)
from ._ranker import as_ranker

__all__ = [
    "PrecisionRecallCurve",
    "PrecisionScopeCurve",
    "QueryValues",
    "Statistic",
    "average_over_classes",
    "average_precision_per_query",
    "mean_average_precision",
    "precision_at_k",
    "precision_scope_curve",
    "precision_recall_curve",
    "rank_both_ways",
    "rank_queries",
    "recall_at_k",
    "top_k",
]

# ----------------------------------------------------------------------------
# The thresholds of the kernel choice (made in _block_statistics; _FEW_TIED_VALUES in _equal_before), each with
# the measurement behind it (2-core CPU)
# ----------------------------------------------------------------------------
# AP@k needs no ranked list from k >= n / _DEEP_AP_DIVISOR on: a value sort costs the same whatever k, ranking to
# depth k grows with k; they cross near k = n / 4 (float64, 10 classes, 2,000 rows: 10,000 items 0.29 s against
# 0.33 at n/4, 0.28 against 0.21 at n/8; 2,000 items 0.086 against 0.065 at n/4, 0.085 against 0.105 at n/2).
_DEEP_AP_DIVISOR = 4
# From this many items a float32 row's AP is faster by sorting its values than by sorting integer keys (the
# per-row work of the value path outweighs the cheaper sort below; measured per row, float32 cosines of 64-d
# unit vectors, a tenth of the items relevant: 10,000 items 0.27 against 0.27 ms, 20,000 0.49 against 0.53,
# 100,000 2.1 against 2.6), provided at most _VALUE_SORT_MAX_RELEVANT_SHARE of the row is relevant (at 100,000
# items: 5 % 1.7 against 2.8 ms, 10 % 2.2 against 2.9, 20 % 3.6 against 2.9, 50 % 10.2 against 4.2).
_FLOAT32_VALUE_SORT_FROM = 1 << 14
_VALUE_SORT_MAX_RELEVANT_SHARE = 0.15
# Up to this many tied values in a row, their items are found by comparing the row with each value (a few
# vectorised passes); beyond, by one binary search of every item in the values. At 100,000 float32 cosine
# similarities a row holds about 15 tied relevant values: 0.4 ms a row against 3.6 ms.
_FEW_TIED_VALUES = 64


class PrecisionScopeCurve(NamedTuple):
    """Result of :func:`precision_scope_curve`: the x-axis first, as in the field's plots."""

    scopes: np.ndarray
    precision: np.ndarray


class PrecisionRecallCurve(NamedTuple):
    """Result of :func:`precision_recall_curve`: precision first, as scikit-learn's function."""

    precision: np.ndarray
    recall: np.ndarray


class Statistic(NamedTuple):
    """A per-query statistic to compute: what every metric reduces (see :func:`rank_queries`).

    Parameters
    ----------
    what : {"ap", "hits", "found", "first_rank", "scope", "pr"}
        ``"ap"``: average precision of the top ``at`` items (None: the whole
        ranking); ``"hits"``: relevant items in the top ``at``; ``"found"``:
        whether one is in the top ``at``; ``"first_rank"``: rank from 1 of the
        best-ranked relevant item (inf without one); ``"scope"``: relevant
        items in the top k for each k of the increasing ``at`` (None: 20 ranks
        spread from 1 to the database size); ``"pr"``: interpolated precision
        at each recall level of ``at`` (None: 0, 0.1, ..., 1).
    at : int, array-like or None, default=None
        The cut-off (``"ap"``, ``"hits"``, ``"found"``; a cut-off beyond the
        database is clipped to its size), the scopes or the recall levels.

    Examples
    --------
    >>> from skcross.metrics import Statistic
    >>> Statistic("ap", 50), Statistic("hits", 10)
    (Statistic(what='ap', at=50), Statistic(what='hits', at=10))
    """

    what: str
    at: object = None


_WHATS = ("ap", "hits", "found", "first_rank", "scope", "pr")


def _resolve(statistics, n_db):
    """``statistics`` checked, each cut-off clipped to the database, the default scopes and levels filled in."""
    if isinstance(statistics, (str, Statistic)) or not len(statistics):
        raise ValueError(f"statistics must be a non-empty list of Statistic values such as [Statistic('ap'), "
                         f"Statistic('hits', 10)], got {statistics!r}.")
    resolved = []
    for statistic in statistics:
        if not isinstance(statistic, Statistic) or statistic.what not in _WHATS:
            raise ValueError(f"statistics: {statistic!r} is not a Statistic; use Statistic(what, at) with what one "
                             f"of {_WHATS}, e.g. Statistic('hits', 10).")
        what, at = statistic
        if what == "scope":
            at = _check_scopes(at, n_db)
        elif what == "pr":
            at = _check_recall_levels(at)
        elif what == "first_rank" and at is not None:
            raise ValueError(f"statistics: {statistic!r} takes no cut-off; use Statistic('first_rank').")
        elif what != "first_rank":
            at = _check_k(at, n_db, allow_none=what == "ap")
        resolved.append(Statistic(what, at))
    return tuple(resolved)


def _reduce(statistic, values, y_query, average):
    """The metric a statistic's per-query ``values`` give (``average`` checked by the caller)."""
    what, at = statistic
    if what == "scope":
        return PrecisionScopeCurve(at, values.sum(axis=0) / (at * len(values)))
    if what == "pr":
        return PrecisionRecallCurve(values.sum(axis=0) / len(values), at)
    if average == "classes":
        return average_over_classes(values / at if what == "hits" else values, y_query)
    total = float(values.sum() / at) if what == "hits" else float(values.sum())  # precision: hits over k
    return total / len(values)


class QueryValues(NamedTuple):
    """One direction's per-query values, as :func:`rank_queries` and :func:`rank_both_ways` return them.

    Attributes
    ----------
    statistics : tuple of Statistic
        What was computed, as computed: cut-offs clipped to the database,
        default scopes and recall levels filled in.
    values : tuple of ndarray
        One array per statistic: shape (n_queries,), or (n_queries, n_levels)
        for ``"scope"`` and ``"pr"``.
    y_query : array-like or None
        The queries' labels (for ``average="classes"``); None for pairs.
    """

    statistics: tuple
    values: tuple
    y_query: object = None

    def reduce(self, index=0, average="queries"):
        """The metric of statistic ``index``: the one set of reductions every skcross metric uses.

        Parameters
        ----------
        index : int, default=0
            Which statistic, in the order asked.
        average : {"queries", "classes"}, default="queries"
            The mean over queries, or over query classes
            (:func:`average_over_classes`); not for curves.

        Returns
        -------
        score : float or curve
            ``"ap"``: mAP; ``"hits"``: precision (hits over the cut-off);
            ``"found"``: recall; ``"first_rank"``: mean rank;
            ``"scope"``: a :class:`PrecisionScopeCurve`; ``"pr"``: a
            :class:`PrecisionRecallCurve`.

        Examples
        --------
        >>> from skcross.metrics import Statistic, rank_queries
        >>> values = rank_queries([[0.9, 0.8, 0.1]], [0], [0, 1, 0], [Statistic("ap"), Statistic("hits", 2)])
        >>> round(values.reduce(0), 4), values.reduce(1)
        (0.8333, 0.5)
        """
        _check_average(average, self.y_query)
        return _reduce(self.statistics[index], self.values[index], self.y_query, average)


class _Relevance:
    """Which database items are relevant to which queries.

    Single-label labels are encoded to integer codes once, multi-label
    indicators to float32 once, so each block only compares or multiplies.
    """

    def __init__(self, y_query, y_db, n_query, n_db):
        if (y_query is None) != (y_db is None):
            raise ValueError("Give both y_query and y_db (label relevance) or neither (pair relevance).")
        if y_query is None:
            if n_query != n_db:
                raise ValueError(
                    "Without labels, the only relevant item of query i is database item i "
                    f"(its own pair), so S must be square; got shape ({n_query}, {n_db})."
                )
            self.kind, self.q, self.db = "pair", None, None
            return
        y_query = check_labels(y_query, n_query, "y_query")
        y_db = check_labels(y_db, n_db, "y_db")
        if y_query.ndim != y_db.ndim:
            raise ValueError(
                "y_query and y_db must both be 1-D class labels or both be 2-D indicator "
                f"matrices, got {y_query.ndim}-D and {y_db.ndim}-D."
            )
        if y_query.ndim == 1:
            numeric = [y.dtype.kind in "biuf" for y in (y_query, y_db)]
            if numeric[0] != numeric[1]:
                raise ValueError(
                    f"y_query ({y_query.dtype}) and y_db ({y_db.dtype}) mix numeric and "
                    "non-numeric labels, which never match."
                )
            try:
                _, (q, db) = encode_labels(y_query, y_db)
            except ValueError as exc:
                raise ValueError("y_query and y_db labels cannot be compared with each other.") from exc
            self.kind = "single"
            self.q, self.db = q.astype(np.int32), db.astype(np.int32)
        else:
            if y_query.shape[1] != y_db.shape[1]:
                raise ValueError(
                    f"y_query has {y_query.shape[1]} label columns but y_db has {y_db.shape[1]}."
                )
            self.kind = "multi"
            self.q = y_query.astype(np.float32)
            self.db = np.ascontiguousarray(y_db.T, dtype=np.float32)  # labels x items: q @ db shares labels

    def mask(self, rows, n_db, device=None):
        """Boolean matrix: which of the ``n_db`` database items are relevant to queries ``rows``; with a torch
        ``device``, a tensor made there (the labels are copied there once)."""
        if device is None:
            q, db, index, arange = self.q, self.db, rows, np.arange
        else:
            import torch

            cache = self.__dict__.setdefault("_on_device", {})
            if str(device) not in cache:  # (None, None) for pairs
                cache[str(device)] = (None, None) if self.kind == "pair" else (
                    torch.as_tensor(self.q, device=device), torch.as_tensor(self.db, device=device))
            (q, db), index = cache[str(device)], torch.as_tensor(rows, device=device)
            arange = functools.partial(torch.arange, device=device)
        if self.kind == "pair":
            return index[:, None] == arange(n_db)[None, :]
        if self.kind == "single":
            return db[None, :] == q[index, None]
        return q[index] @ db > 0

    def sorted(self, rows, order):
        """Relevance of the ranked items ``order`` (block x m) for queries ``rows``."""
        if self.kind == "pair":
            return order == rows[:, None]
        if self.kind == "single":
            return self.db[order] == self.q[rows, None]
        return np.take_along_axis(self.q[rows] @ self.db > 0, order, axis=1)


# --------------------------------------------------------------------------
# ranking
# --------------------------------------------------------------------------
def _stable_order(S_block):
    return np.argsort(-S_block, axis=1, kind="stable")


def _has_adjacent_equal(sorted_values):
    return bool((sorted_values[1:] == sorted_values[:-1]).any())


_HIGH = 1 if sys.byteorder == "little" else 0  # the int32 half of an int64 that holds its high bits


def _descending_keys(S_block):
    """int64 keys of a float32 block whose ascending order is the stable descending order of each row.

    The high 32 bits hold the similarity's bits mapped to an integer of the
    reverse order (negatives' bits reversed, -0.0 made +0.0 first); the low
    32 bits hold the item's index, so equal similarities fall in database
    order and every key of a row is distinct. One value sort of these keys
    (SIMD-accelerated in NumPy) ranks a row exactly, with no index sort and
    no tie repair. Both halves are written in place (no 64-bit shifts).
    """
    n_rows, n = S_block.shape
    ints = (S_block + np.float32(0)).view(np.int32)  # + 0 turns -0.0 into +0.0 (equal values, equal keys)
    keys = np.empty((n_rows, n), dtype=np.int64)
    halves = keys.view(np.int32).reshape(n_rows, n, 2)
    high = halves[..., _HIGH]
    np.right_shift(ints, 31, out=high)  # -1 for negative similarities, 0 otherwise
    np.bitwise_and(high, 0x7FFFFFFF, out=high)
    np.bitwise_xor(ints, high, out=high)  # the floats' order as signed integers
    np.invert(high, out=high)  # reversed: best first
    halves[..., 1 - _HIGH] = np.arange(n, dtype=np.int32)  # an index below 2**31 reads the same unsigned
    return keys


def _rank_block_by_keys(S_block, k=None):
    """:func:`_rank_block` for a float32 block: sort :func:`_descending_keys`.

    For a top ``k``, the rows' k-th largest values are found first (a
    partition of the float values); where exactly ``k`` items reach it, only
    those ``k`` candidates, in database order, are keyed and sorted. A row
    with ties across the k-th place keys and partitions all its items.
    """
    n = S_block.shape[1]
    if k is None or k >= n:
        keys = _descending_keys(S_block)
        keys.sort(axis=1)
        np.bitwise_and(keys, 0xFFFFFFFF, out=keys)
        return keys
    kth = np.partition(S_block, n - k, axis=1)[:, n - k : n - k + 1]
    reach = S_block >= kth
    exact = np.count_nonzero(reach, axis=1) == k
    order = np.empty((S_block.shape[0], k), dtype=np.int64)
    if exact.any():
        rows = exact if not exact.all() else slice(None)
        candidates = reach[rows]
        columns = (np.flatnonzero(candidates) % n).reshape(-1, k)  # database order
        keys = _descending_keys(S_block[rows][candidates].reshape(-1, k))
        keys.sort(axis=1)
        np.bitwise_and(keys, 0xFFFFFFFF, out=keys)  # positions among the candidates
        order[rows] = np.take_along_axis(columns, keys, axis=1)
    if not exact.all():
        keys = np.partition(_descending_keys(S_block[~exact]), k - 1, axis=1)[:, :k]
        keys.sort(axis=1)
        order[~exact] = np.bitwise_and(keys, 0xFFFFFFFF)
    return order


def _rank_block(S_block, k=None):
    """Indices of the top ``k`` (all if None) items per row, best first, ties by index.

    A float32 block is ranked by sorting integer keys
    (:func:`_rank_block_by_keys`); a float64 block as follows.

    The fast path uses the default (unstable) sort, after a partial selection
    when ``k`` is given; rows where equal similarities could make that order
    differ from the stable one (a tie anywhere in the ranked list, or across
    the k-th place) are recomputed with a stable sort, so the result is exact.
    Why it exists: a stable argsort of every float64 row is 3x slower (2,000 x
    2,000, 2-core CPU: 0.23 s against 0.07 s; top 50: 0.22 s against 0.02 s),
    and float64 keys cannot hold the value and the index in 64 bits.
    """
    n = S_block.shape[1]
    if S_block.dtype == np.float32 and n < 1 << 31:
        return _rank_block_by_keys(S_block, k)
    if k is None or k >= n:
        order = np.argsort(S_block, axis=1)[:, ::-1]
        # Row-by-row 1-D gathers: measured 2-5x faster than one take_along_axis here.
        tied = np.array([_has_adjacent_equal(row[o]) for row, o in zip(S_block, order)], dtype=bool)
    else:
        candidates = np.argpartition(S_block, n - k, axis=1)[:, n - k :]
        candidate_values = np.take_along_axis(S_block, candidates, axis=1)
        best_first = np.argsort(candidate_values, axis=1)[:, ::-1]
        order = np.take_along_axis(candidates, best_first, axis=1)
        values = np.take_along_axis(candidate_values, best_first, axis=1)
        tied = (values[:, 1:] == values[:, :-1]).any(axis=1)
        # An item outside the top k equal to the k-th value: which one made the cut is arbitrary.
        tied |= np.count_nonzero(S_block >= values[:, -1:], axis=1) > k
    if tied.any():
        order = np.array(order)  # writable, C-ordered
        order[tied] = _stable_order(S_block[tied])[:, : order.shape[1]]
    return order


def top_k(S, k=10):
    """The ``k`` most similar database items of each query, best first; equal similarities keep database order.

    The one stable top-k of skcross: the metrics rank with it and the
    retrieval index takes each block's candidates with it, so a ranking is
    the same wherever it is computed.

    Parameters
    ----------
    S : array-like of shape (n_queries, n_database)
        Similarities; larger means more similar.
    k : int, default=10
        Items per query; a ``k`` beyond the database is clipped to its size.

    Returns
    -------
    scores : ndarray of shape (n_queries, k)
        The similarities, best first.
    indices : ndarray of shape (n_queries, k)
        Database indices, best first; among equal similarities the lower
        index first.

    Examples
    --------
    >>> from skcross.metrics import top_k
    >>> scores, indices = top_k([[0.2, 0.9, 0.2, 0.5]], k=3)
    >>> indices.tolist(), scores.tolist()
    ([[1, 3, 0]], [[0.9, 0.5, 0.2]])
    """
    S = _check_similarity(S)
    order = _rank_block(S, _check_k(k, S.shape[1], allow_none=False))
    return np.take_along_axis(S, order, axis=1), order


def _row_blocks(n_query, n_db, get_block, lazy=False):
    """Yield ``(rows, get_block(rows_slice))`` for consecutive blocks of query rows.

    With ``lazy=True`` the block is yielded as a function that computes it,
    so that the worker ranking it computes it too (similarities made in
    parallel, not by the loop handing out the blocks).
    """
    block_size = rows_per_block(8 * n_db)  # a block of float64 similarities: the one working-memory constant
    for start in range(0, n_query, block_size):
        stop = min(start + block_size, n_query)
        block = functools.partial(get_block, slice(start, stop))
        yield np.arange(start, stop), (block if lazy else block())


def _row_average_precision(scores, relevant, k):
    """A row's AP@k (k None: all) from one sort of its *values*; ``relevant`` is the row's relevance mask.

    The rank of a relevant item is one plus the number of items with a larger
    similarity (a binary search in the row's sorted values) plus, for the
    rare item whose similarity equals others', the number of equal items
    before it in the database (ties keep database order). No argsort over
    the database and no ranked relevance matrix: sorting values is about
    twice as fast as sorting indices, and only relevant items are looked at.
    """
    items = np.flatnonzero(relevant)  # database order
    if items.size == 0:
        return 0.0
    n = scores.shape[0]
    ordered = np.sort(scores)
    # The relevant values in ascending order make the binary searches walk the sorted row forwards
    # (three times faster than searching them in database order, measured at 100,000 items).
    values = np.sort(scores[items])
    below_or_equal = np.searchsorted(ordered, values, side="right")
    rank = n + 1 - below_or_equal  # one plus the number of larger similarities
    # the item just below a value's last occurrence in the sorted row has the same value: a tie
    tied = ordered[np.maximum(below_or_equal - 2, 0)] == values
    tied &= below_or_equal >= 2
    if tied.any():  # the tied items' ranks again, plus the number of equal ones earlier in the database
        tied_items = items[np.isin(scores[items], values[tied])]  # the same items, found in database order
        tied_rank = n + 1 - np.searchsorted(ordered, scores[tied_items], side="right")
        rank = np.concatenate([rank[~tied], tied_rank + _equal_before(scores, tied_items)])
    rank = np.sort(rank)  # distinct ranks, best first: the j-th is the j-th hit
    hit = np.arange(1, items.size + 1)
    if k is not None:
        inside = rank <= k
        if not inside.any():
            return 0.0
        rank, hit = rank[inside], hit[inside]
    return np.mean(hit / rank)


def _average_precision_by_values(rows, S_block, relevance, mask, k):
    """Each row's AP@k by :func:`_row_average_precision`, except float32 rows with more than
    :data:`_VALUE_SORT_MAX_RELEVANT_SHARE` of their items relevant, which are ranked by integer keys."""
    keyed = (np.count_nonzero(mask, axis=1) > _VALUE_SORT_MAX_RELEVANT_SHARE * S_block.shape[1]
             if S_block.dtype == np.float32 else np.zeros(len(rows), dtype=bool))
    ap = np.zeros(len(rows))
    for i in np.flatnonzero(~keyed):
        ap[i] = _row_average_precision(S_block[i], mask[i], k)
    if keyed.any():
        ap[keyed] = _average_precision_rows(relevance.sorted(rows[keyed], _rank_block(S_block[keyed], k)))
    return ap


def _equal_before(scores, items):
    """For each of ``items``, how many items of the row have its similarity and come earlier in the database.

    The items whose similarity is one of the tied values are found by one
    comparison of the row per value (a binary search of every item in those
    values where there are many), then a stable sort of those items by value
    counts, within each value, the ones before.
    """
    tied_values = np.unique(scores[items])
    if len(tied_values) <= _FEW_TIED_VALUES:
        is_tied = scores == tied_values[0]
        for value in tied_values[1:]:
            is_tied |= scores == value
        equal = np.flatnonzero(is_tied)  # database order
    else:
        at = np.minimum(np.searchsorted(tied_values, scores), len(tied_values) - 1)
        equal = np.flatnonzero(tied_values[at] == scores)
    by_value = np.argsort(scores[equal], kind="stable")  # equal values keep database order
    ordered = scores[equal][by_value]
    before = np.empty(len(equal), dtype=np.int64)
    before[by_value] = np.arange(len(equal)) - np.searchsorted(ordered, ordered, side="left")
    return before[np.searchsorted(equal, items)]


def _average_precision_torch(rows, S_block, relevance, k, device):
    """:func:`_row_average_precision` for a whole block at once with torch (on ``device``).

    Every item's rank is one plus the number of larger similarities (a
    batched ``searchsorted`` in the sorted rows); the relevant items' ranks,
    sorted, give their hit numbers. Rows where a relevant item ties with
    another item are ranked on the CPU by the exact NumPy path instead.
    """
    import torch

    # a block already on the device (cosine similarities made there) stays there: nothing crosses but the APs
    S = S_block if torch.is_tensor(S_block) else torch.as_tensor(np.ascontiguousarray(S_block), device=device)
    relevant = relevance.mask(rows, S.shape[1], S.device)
    n = S.shape[1]
    ordered = torch.sort(S, dim=1).values
    above = torch.searchsorted(ordered, S, right=True)
    equal = above - torch.searchsorted(ordered, S, right=False)
    tied = ((equal > 1) & relevant).any(dim=1)
    rank = (n - above + 1).to(torch.float64)
    rank = torch.where(relevant & ~tied[:, None], rank, torch.full_like(rank, float("inf")))
    rank = torch.sort(rank, dim=1).values  # relevant ranks first, in order: hit j at column j - 1
    hit = torch.arange(1, n + 1, device=S.device, dtype=torch.float64).expand_as(rank)
    counted = torch.isfinite(rank) if k is None else rank <= k
    per_row = counted.sum(dim=1)
    precision = torch.where(counted, hit / rank, torch.zeros_like(rank)).sum(dim=1)
    ap = torch.where(per_row > 0, precision / per_row.clamp(min=1), torch.zeros_like(precision)).cpu().numpy()
    tied = tied.cpu().numpy()
    if tied.any():  # only the tied rows come back, to be ranked exactly by NumPy
        S_tied = S[torch.as_tensor(np.flatnonzero(tied), device=S.device)].cpu().numpy()
        mask = relevance.mask(rows[tied], n)
        ap[tied] = [_row_average_precision(scores, relevant, k) for scores, relevant in zip(S_tied, mask)]
    return ap


def _map_blocks(task, S_blocks, n_jobs):
    """``task(rows, S_block)`` for each ``(rows, S_block)`` of ``S_blocks``, in ``n_jobs`` threads, in order.

    A lazy block (see :func:`_row_blocks`) is made in the worker that ranks
    it. joblib dispatches at most ``2 * n_jobs`` blocks ahead, so memory stays
    bounded even when ``S_blocks`` computes similarities on the fly, and its
    generator keeps the blocks' order.
    """

    def run(rows, S_block):
        return task(rows, S_block() if callable(S_block) else S_block)

    # BLAS keeps its own threads inside each worker: limiting them would change float32 products' rounding,
    # and with it the scores, between n_jobs settings
    return Parallel(n_jobs=n_jobs, backend="threading", return_as="generator")(
        delayed(run)(rows, S_block) for rows, S_block in S_blocks
    )


def _depth(statistic, n_db):
    """How many of the best-ranked items ``statistic`` looks at (None: all of them)."""
    if statistic.what == "scope":
        return int(statistic.at[-1])
    if statistic.what in ("ap", "hits", "found") and statistic.at is not None and statistic.at < n_db:
        return int(statistic.at)
    return None


def _from_ranked(statistic, rel):
    """``statistic`` of each row of a ranked relevance block ``rel`` (best first)."""
    what, at = statistic
    if what == "scope":
        return np.cumsum(rel, axis=1)[:, np.asarray(at) - 1]
    if what == "pr":
        return _interpolated_precision_rows(rel, at)
    if what == "first_rank":
        return np.where(rel.any(axis=1), rel.argmax(axis=1) + 1.0, np.inf)
    top = rel if at is None else rel[:, :at]
    if what == "ap":
        return _average_precision_rows(top)
    return np.count_nonzero(top, axis=1) if what == "hits" else top.any(axis=1)


def _as_numpy(S_block):
    return S_block.cpu().numpy() if hasattr(S_block, "cpu") else S_block


def _block_statistics(rows, S_block, relevance, statistics, device):
    """The kernel choice, in one place: every statistic of one block of query rows.

    - AP only, on a torch ``device``: :func:`_average_precision_torch`
      (``benchmarks/bench_gpu.py``).
    - AP over most of the ranking (a cut-off None or at least n /
      :data:`_DEEP_AP_DIVISOR`) and first ranks only, on float64 rows or
      float32 rows of at least :data:`_FLOAT32_VALUE_SORT_FROM` items: no
      ranked list. First ranks by counting (:func:`_first_relevant_rank_block`),
      AP by sorting each row's values (:func:`_average_precision_by_values`;
      bench_metrics' float64 mAP@all rows and its 20,000 float32 row).
    - Anything else: the block is ranked once, as deep as the deepest
      statistic needs (:func:`_rank_block`: integer keys for float32, the
      float32 mAP@all and mAP@100 rows; a repaired unstable sort for
      float64, the float64 mAP@100 rows), and each statistic read from it.
    """
    n = S_block.shape[1]
    if device is not None and all(s.what == "ap" for s in statistics):
        return [_average_precision_torch(rows, S_block, relevance, s.at, device) for s in statistics]
    S_block = _as_numpy(S_block)
    deep = all(s.what == "first_rank" or (s.what == "ap" and (s.at is None or _DEEP_AP_DIVISOR * s.at >= n))
               for s in statistics)
    if deep and (S_block.dtype != np.float32 or n >= _FLOAT32_VALUE_SORT_FROM
                 or all(s.what == "first_rank" for s in statistics)):
        mask = relevance.mask(rows, n)
        return [_first_relevant_rank_block(S_block, mask) if s.what == "first_rank"
                else _average_precision_by_values(rows, S_block, relevance, mask, s.at) for s in statistics]
    depths = [_depth(s, n) for s in statistics]
    rel = relevance.sorted(rows, _rank_block(S_block, None if None in depths else max(depths)))
    return [_from_ranked(s, rel) for s in statistics]


def _per_query(S_blocks, relevance, statistics, n_jobs=None, device=None):
    """Every query's value of each resolved :class:`Statistic`: the one ranking pass behind every metric.

    Each block of query rows of ``S_blocks`` (``(rows, S_block)`` pairs, see
    :func:`_row_blocks`) is ranked once, in ``n_jobs`` threads (NumPy's
    sorts release the GIL), by the kernel :func:`_block_statistics` chooses.
    """

    def task(rows, S_block):
        return _block_statistics(rows, S_block, relevance, statistics, device)

    blocks = list(_map_blocks(task, S_blocks, n_jobs))
    return tuple(np.concatenate([block[i] for block in blocks]) for i in range(len(statistics)))


def _first_relevant_rank_block(S_block, mask):
    """1-based rank of each row's best-ranked relevant item (ties keep database order); inf without one.

    No sort: the rank is one plus the number of larger similarities plus the
    number of equal ones earlier in the database.
    """
    n = S_block.shape[1]
    has = mask.any(axis=1)
    best = np.where(mask, S_block, -np.inf).max(axis=1, keepdims=True)
    at_best = S_block == best
    first = np.argmax(mask & at_best, axis=1)
    larger = np.count_nonzero(S_block > best, axis=1)
    equal_before = np.count_nonzero(at_best & (np.arange(n) < first[:, None]), axis=1)
    return np.where(has, 1.0 + larger + equal_before, np.inf)


def _relevant_positions(rel):
    """Row index, 1-based rank and 1-based hit number of every relevant entry."""
    n = rel.shape[1]
    flat = np.flatnonzero(rel)  # one index array: about twice as fast as np.nonzero
    row = flat // n
    per_row = np.count_nonzero(rel, axis=1)
    hit = np.arange(1, len(flat) + 1) - (np.cumsum(per_row) - per_row)[row]
    return row, flat - row * n + 1, hit, per_row


def _average_precision_rows(rel):
    """AP of each row of a ranked relevance block (0 where no hit)."""
    row, rank, hit, per_row = _relevant_positions(rel)
    total = np.bincount(row, weights=hit / rank, minlength=rel.shape[0])
    return np.divide(total, per_row, out=np.zeros(rel.shape[0]), where=per_row > 0)


def _interpolated_precision_rows(rel, levels):
    """Each row's interpolated precision at each recall level (0 for a row without a relevant item)."""
    row, rank, hit, per_row = _relevant_positions(rel)
    out = np.zeros((rel.shape[0], len(levels)))
    if len(row) == 0:
        return out
    # Precision at the j-th hit, padded per row, then a suffix maximum.
    precision = np.zeros((rel.shape[0], per_row.max()))
    precision[row, hit - 1] = hit / rank
    best_after = np.maximum.accumulate(precision[:, ::-1], axis=1)[:, ::-1]
    has_hits = np.flatnonzero(per_row > 0)
    needed = np.ceil(np.asarray(levels)[None, :] * per_row[has_hits, None] - 1e-12).astype(int)
    out[has_hits] = best_after[has_hits[:, None], np.maximum(needed, 1) - 1]
    return out


def rank_queries(S, y_query=None, y_db=None, statistics=(Statistic("ap"),), *, n_jobs=None):
    """Rank every query of a similarity matrix once and return its per-query statistics.

    Every metric of :mod:`skcross.metrics` is a reduction of these arrays
    (:meth:`QueryValues.reduce`): mAP is the mean of ``Statistic("ap")``,
    class-balanced mAP its :func:`average_over_classes`, precision@k the mean
    of ``Statistic("hits", k)`` over k, Recall@k the mean of
    ``Statistic("found", k)``, median rank the median of
    ``Statistic("first_rank")``, and the curves the means of ``"scope"`` and
    ``"pr"``. Asking for several statistics ranks each query once for all of
    them. :func:`rank_both_ways` does the same for both directions of an
    estimator.

    Parameters
    ----------
    S : array-like of shape (n_queries, n_database)
        Similarities; larger means more similar.
    y_query, y_db : array-like or None, default=None
        Labels defining relevance, as in :func:`mean_average_precision`.
    statistics : sequence of Statistic, default=(Statistic("ap"),)
        What to compute for every query (see :class:`Statistic`).
    n_jobs : int, default=None
        Threads ranking blocks of queries in parallel.

    Returns
    -------
    values : QueryValues
        ``values.values``: one array per statistic, in the order asked;
        ``values.reduce(i)``: statistic ``i``'s metric.

    Examples
    --------
    >>> import numpy as np
    >>> from skcross.metrics import Statistic, rank_queries
    >>> S = np.array([[0.9, 0.8, 0.1],
    ...               [0.2, 0.6, 0.7]])
    >>> values = rank_queries(S, [0, 1], [0, 1, 0], [Statistic("ap"), Statistic("hits", 2), Statistic("first_rank")])
    >>> ap, hits, first_rank = values.values
    >>> ap.round(4).tolist(), hits.tolist(), first_rank.tolist()
    ([0.8333, 0.5], [1, 1], [1.0, 2.0])
    """
    S = _check_similarity(S)
    relevance = _Relevance(y_query, y_db, *S.shape)
    resolved = _resolve(statistics, S.shape[1])
    return QueryValues(resolved, _per_query(_row_blocks(*S.shape, lambda rows: S[rows]), relevance, resolved, n_jobs),
                       y_query)


def _block_similarities(E_img, E_txt, similarity, device=None, name="the estimator"):
    """``(i2t, t2i)``: functions of query rows giving that block's similarities to the whole other set.

    ``similarity`` None is the cosine: every embedding is normalised once
    (on ``device`` when given, already resolved by the caller), then each
    block is one matrix product. Every block is checked to be finite. A matrix that fits in one block of the
    working memory (``skcross.utils._memory``) is computed once and shared
    by both directions; beyond it each direction computes its own blocks.
    A text block is made with rows in memory order: the ranking sorts along
    them (a transposed view sorts several times slower).
    """
    if similarity is None and device is not None:  # cosine blocks made as torch tensors, kept there
        import torch

        as_block, finite = (lambda S: S), (lambda S: bool(torch.isfinite(S).all()))
        transposed = lambda S: S.T.contiguous()  # noqa: E731
        def unit(Z):
            return torch.nn.functional.normalize(torch.as_tensor(np.ascontiguousarray(Z), device=device), dim=1)
    else:
        as_block, finite, unit = np.asarray, (lambda S: np.isfinite(S).all()), normalize
        transposed = lambda S: np.ascontiguousarray(S.T)  # noqa: E731
    if similarity is None:
        E_img, E_txt, similarity = unit(E_img), unit(E_txt), lambda A, B: A @ B.T

    def checked(block_similarity):
        def block(rows):
            S_block = block_similarity(rows)
            if not finite(S_block):
                raise ValueError(f"{name} produced NaN or infinite similarities.")
            return S_block

        return block

    if similarity == "precomputed":  # the matrix itself, checked to be finite by rank_both_ways
        # a text block is a transposed view, not a copy: the kernels copy what they sort anyway (5,000 x 25,000
        # instance scores 6.70 s against 6.88 s with a copy; class-level 2,000^2 and 5,000^2 equal within 2 %)
        return (lambda rows: E_img[rows]), (lambda rows: E_img[:, rows].T)
    if fits_in_one_block(E_img.shape[0] * E_txt.shape[0]):
        # small enough to hold: compute the similarities once and rank both directions from them
        # (halves the cost of a learned metric such as UNCSM's metric network)
        S = as_block(similarity(E_img, E_txt))
        return checked(lambda rows: S[rows]), checked(lambda rows: transposed(S[:, rows]))
    return (checked(lambda rows: as_block(similarity(E_img[rows], E_txt))),
            checked(lambda rows: transposed(as_block(similarity(E_img, E_txt[rows])))))


def rank_both_ways(ranking, X_img, X_txt=None, y=None, *, statistics=(Statistic("ap"),), n_jobs=None, device=None):
    """Both directions' per-query values: the one way skcross evaluates image-text retrieval.

    Every image queries all texts (``"i2t"``) and every text queries all
    images (``"t2i"``). Similarities are made one block of queries at a time
    (so memory stays bounded) and each block is ranked once for every
    statistic asked. :func:`cross_modal_map`, :func:`cross_modal_precision`,
    :func:`cross_modal_recall`, the instance scores, every scorer of
    :func:`get_scorer` and the benchmark reduce what this returns.

    Parameters
    ----------
    ranking : fitted estimator, Pipeline ending in one, callable, "cosine" or "precomputed"
        What ranks. An estimator embeds both sets and compares the
        embeddings with its similarity (:func:`as_ranker`); a callable
        ``similarity(X_img_rows, X_txt_rows)`` compares rows of the two sets;
        ``"cosine"``: the cosine of the rows (embeddings); ``"precomputed"``:
        ``X_img`` is the similarity matrix itself, images x texts, and
        ``X_txt`` is None (as scikit-learn's ``metric="precomputed"``).
    X_img : {array-like, sparse matrix} of shape (n_images, n_features)
        Image rows (queries for i2t, database for t2i); with
        ``"precomputed"``, the similarities of shape (n_images, n_texts).
    X_txt : {array-like, sparse matrix} of shape (n_texts, n_features) or None, default=None
        Text rows; None with ``"precomputed"``.
    y : array-like, tuple of two array-likes, or None, default=None
        Labels of the pairs (1-D classes or 2-D 0/1 indicators), or
        ``(y_img, y_txt)`` for sets of different sizes (for instance
        retrieval, ``(image_ids, groups)``: relevant means the same image).
        None: the only relevant item of a query is its own pair.
    statistics : sequence of Statistic, default=(Statistic("ap"),)
        What to compute for every query (see :class:`Statistic`); cut-offs
        are clipped to each direction's database.
    n_jobs : int, default=None
        Threads ranking blocks of queries in parallel; None means 1, -1 all
        cores. At most ``2 * n_jobs`` blocks exist at once.
    device : str, default=None
        Torch device (``"cuda"``, ``"cpu"``; needs torch) for cosine
        similarities and AP; None uses NumPy.

    Returns
    -------
    values : dict
        ``{"i2t": QueryValues, "t2i": QueryValues}``: each direction's
        arrays (``.values``) and their metrics (``.reduce(i)``).

    Examples
    --------
    >>> from skcross.datasets import make_cross_modal
    >>> from skcross.linear import CCA
    >>> from skcross.metrics import Statistic, rank_both_ways
    >>> X_img, X_txt, y = make_cross_modal(200, random_state=0)
    >>> est = CCA(n_components=4).fit(X_img[:150], X_txt[:150])
    >>> values = rank_both_ways(est, X_img[150:], X_txt[150:], y[150:],
    ...                         statistics=[Statistic("ap"), Statistic("hits", 10)])
    >>> ap, hits = values["t2i"].values
    >>> ap.shape, hits.shape
    ((50,), (50,))
    >>> bool(values["t2i"].reduce(0) == ap.mean())  # mAP@all, text to image
    True
    """
    if isinstance(ranking, str):
        if ranking not in ("cosine", "precomputed"):
            raise ValueError(f"ranking must be a fitted estimator, a callable similarity(X_img_rows, X_txt_rows), "
                             f"'cosine' or 'precomputed', got {ranking!r}.")
        if ranking == "precomputed":
            if X_txt is not None:
                raise ValueError("With ranking='precomputed', X_img is the similarity matrix (images x texts) and "
                                 "X_txt must be None.")
            X_img = _check_similarity(X_img, "X_img")
            X_txt = np.empty((X_img.shape[1], 0))  # the texts: only their number is read
        else:
            X_img, X_txt = _check_embeddings(X_img, X_txt)
    else:
        X_img, X_txt = _as_rows(X_img), _as_rows(X_txt)
    n_img, n_txt = X_img.shape[0], X_txt.shape[0]
    y_img, y_txt = split_labels(y, n_img, n_txt)
    relevance = {"i2t": _Relevance(y_img, y_txt, n_img, n_txt), "t2i": _Relevance(y_txt, y_img, n_txt, n_img)}
    resolved = {"i2t": _resolve(statistics, n_txt), "t2i": _resolve(statistics, n_img)}  # before any embedding
    if ranking == "precomputed":
        E_img, E_txt, similarity, name = X_img, X_txt, "precomputed", "X_img"
    elif isinstance(ranking, str) or callable(ranking):
        cosine = ranking == "cosine"
        E_img, E_txt, similarity, name = X_img, X_txt, None if cosine else ranking, "the embeddings" if cosine else (
            "the similarity")
    else:
        ranker = as_ranker(ranking)
        E_img, E_txt = ranker.embed_image(X_img), ranker.embed_text(X_txt)
        check_is_fitted(ranker.estimator)
        similarity, name = None if ranker.cosine else ranker.similarity, type(ranker.estimator).__name__
    if device is not None:
        device = resolve_device(device)
    blocks = dict(zip(("i2t", "t2i"), _block_similarities(E_img, E_txt, similarity, device, name)))
    return {d: QueryValues(resolved[d], _per_query(_row_blocks(n_q, n_db, blocks[d], lazy=True), relevance[d],
                                                   resolved[d], n_jobs, device), y_q)
            for d, n_q, n_db, y_q in (("i2t", n_img, n_txt, y_img), ("t2i", n_txt, n_img, y_txt))}


def average_over_classes(values, y_query):
    """Macro average of per-query scores: the mean over query classes of each class's mean score.

    mAP averaged over queries lets a frequent class weigh in proportion to
    its size, so a ranking that always puts the frequent classes first scores
    well without looking at the query (the class-prior ranking). Averaged
    over classes, each class of queries counts once. With a multi-label
    indicator ``y_query``, each label averages the queries that carry it, and
    the labels no query carries are left out.

    Parameters
    ----------
    values : array-like of shape (n_queries,)
        A score per query, e.g. from :func:`average_precision_per_query`.
    y_query : array-like of shape (n_queries,) or (n_queries, n_labels)
        The queries' class labels or 0/1 label indicators.

    Returns
    -------
    score : float
        The mean over the classes present among the queries.

    Examples
    --------
    >>> from skcross.metrics import average_over_classes
    >>> # three queries of class 0 score 1.0, one of class 1 scores 0.0
    >>> average_over_classes([1.0, 1.0, 1.0, 0.0], [0, 0, 0, 1])
    0.5
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"values must be 1-D (one score per query), got shape {values.shape}.")
    y_query = check_labels(y_query, len(values), "y_query")
    if y_query.ndim == 1:
        _, (codes,) = encode_labels(y_query)
        sums, counts = np.bincount(codes, weights=values), np.bincount(codes)
        return float(np.mean(sums / counts))
    indicator = y_query.astype(np.float64)
    counts = indicator.sum(axis=0)
    present = counts > 0
    if not present.any():
        raise ValueError("y_query carries no label: no class to average over.")
    return float(np.mean((values @ indicator)[present] / counts[present]))


# --------------------------------------------------------------------------
# public metrics of one direction
# --------------------------------------------------------------------------
def _metric(S, y_query, y_db, statistic, average, n_jobs):
    """One statistic of a similarity matrix, reduced: the body of every single-direction metric."""
    _check_average(average, y_query)
    return rank_queries(S, y_query, y_db, [statistic], n_jobs=n_jobs).reduce(0, average)


def mean_average_precision(S, y_query=None, y_db=None, k=None, *, average="queries", n_jobs=None):
    """Mean average precision (mAP@all, or mAP@k) of a ranking.

    Each query ranks all database items by similarity, descending; items with
    equal similarity keep database order. The average precision of a query is
    the mean of precision@r over the ranks r of its relevant items within the
    top ``k`` (the whole database when ``k`` is None), as in the cross-modal
    retrieval literature. A query with no relevant item in the top ``k``
    scores 0.

    Parameters
    ----------
    S : array-like of shape (n_queries, n_database)
        Similarities; larger means more similar.
    y_query : array-like of shape (n_queries,) or (n_queries, n_labels), default=None
        Query labels: class labels (relevant = same label) or a 0/1
        multi-label indicator matrix (relevant = at least one shared label).
        None, with ``y_db`` None, means the only relevant item of query ``i``
        is database item ``i`` (its own pair); ``S`` must then be square.
    y_db : array-like of shape (n_database,) or (n_database, n_labels), default=None
        Database labels, of the same kind as ``y_query``.
    k : int, default=None
        Cut-off rank; None ranks the whole database. A ``k`` larger than the
        database is clipped to its size, so mAP@k is then mAP@all.
    average : {"queries", "classes"}, default="queries"
        "queries": the mean over queries (the field's mAP). "classes": the
        class-balanced mAP, the mean over query classes of each class's mAP
        (:func:`average_over_classes`), which a ranking by class frequency
        cannot inflate.
    n_jobs : int, default=None
        Number of threads ranking blocks of queries in parallel; None means 1,
        -1 all cores.

    Returns
    -------
    score : float
        Mean over queries of the average precision, in [0, 1].

    See Also
    --------
    precision_at_k, recall_at_k
    skcross.metrics.cross_modal_map : Both retrieval directions of an estimator.

    Examples
    --------
    >>> import numpy as np
    >>> from skcross.metrics import mean_average_precision
    >>> S = np.array([[0.9, 0.8, 0.1],
    ...               [0.2, 0.6, 0.7]])
    >>> # query 0 finds its relevant items at ranks 1 and 3: AP = (1/1 + 2/3) / 2;
    >>> # query 1 finds its only relevant item at rank 2: AP = 1/2
    >>> mean_average_precision(S, [0, 1], [0, 1, 0])
    0.6666666666666666
    >>> mean_average_precision(S, [0, 1], [0, 1, 0], k=1)
    0.5
    """
    return _metric(S, y_query, y_db, Statistic("ap", k), average, n_jobs)


def average_precision_per_query(S, y_query=None, y_db=None, k=None):
    """Average precision (AP@all, or AP@k) of each query: the terms whose mean is :func:`mean_average_precision`.

    Kept per query for analyses across methods on the same queries (paired
    tests, averages over query classes) without refitting.

    Parameters
    ----------
    S : array-like of shape (n_queries, n_database)
        Similarities; larger means more similar.
    y_query : array-like of shape (n_queries,) or (n_queries, n_labels), default=None
        Query labels, as in :func:`mean_average_precision`.
    y_db : array-like of shape (n_database,) or (n_database, n_labels), default=None
        Database labels, as in :func:`mean_average_precision`.
    k : int, default=None
        Cut-off rank; None ranks the whole database.

    Returns
    -------
    ap : ndarray of shape (n_queries,)
        Average precision of each query (0 for a query without a relevant
        item in its top ``k``).

    See Also
    --------
    mean_average_precision : Their mean.

    Examples
    --------
    >>> import numpy as np
    >>> from skcross.metrics import average_precision_per_query
    >>> S = np.array([[0.9, 0.8, 0.1],
    ...               [0.2, 0.6, 0.7]])
    >>> average_precision_per_query(S, [0, 1], [0, 1, 0]).round(4)
    array([0.8333, 0.5   ])
    """
    return rank_queries(S, y_query, y_db, [Statistic("ap", k)]).values[0]


def precision_at_k(S, y_query=None, y_db=None, k=10, *, average="queries", n_jobs=None):
    """Mean precision of the top ``k`` items of each query's ranking.

    Parameters
    ----------
    S : array-like of shape (n_queries, n_database)
        Similarities; larger means more similar.
    y_query, y_db : array-like or None, default=None
        Labels defining relevance, as in :func:`mean_average_precision`.
    k : int, default=10
        Number of top-ranked items looked at; a ``k`` larger than the
        database is clipped to its size (then the score is the fraction of
        relevant items in the database).
    average : {"queries", "classes"}, default="queries"
        "queries": the mean over queries; "classes": the mean over query
        classes of each class's mean (:func:`average_over_classes`).
    n_jobs : int, default=None
        Number of threads ranking blocks of queries in parallel; None means 1,
        -1 all cores.

    Returns
    -------
    score : float
        Mean over queries of (relevant items among the top ``k``) / ``k``.

    Examples
    --------
    >>> import numpy as np
    >>> from skcross.metrics import precision_at_k
    >>> S = np.array([[0.9, 0.8, 0.1]])
    >>> precision_at_k(S, [0], [0, 1, 0], k=2)
    0.5
    """
    return _metric(S, y_query, y_db, Statistic("hits", k), average, n_jobs)


def precision_scope_curve(S, y_query=None, y_db=None, scopes=None, *, n_jobs=None):
    """Precision@k over a range of scopes k (the "precision-scope" curve).

    Parameters
    ----------
    S : array-like of shape (n_queries, n_database)
        Similarities; larger means more similar.
    y_query, y_db : array-like or None, default=None
        Labels defining relevance, as in :func:`mean_average_precision`.
    scopes : array-like of int, default=None
        Increasing cut-off ranks. None uses 20 ranks spread evenly from 1 to
        ``n_database``.
    n_jobs : int, default=None
        Number of threads ranking blocks of queries in parallel; None means 1,
        -1 all cores.

    Returns
    -------
    curve : PrecisionScopeCurve
        Named tuple ``(scopes, precision)``: ``scopes``, ndarray of shape
        (n_scopes,), the cut-off ranks (the x-axis), and ``precision``, ndarray
        of shape (n_scopes,), the mean precision@k over queries at each scope.
        Read the fields by name (``curve.precision``): the positional order
        differs from :func:`precision_recall_curve`'s (see the user guide).

    Examples
    --------
    >>> import numpy as np
    >>> from skcross.metrics import precision_scope_curve
    >>> S = np.array([[0.9, 0.8, 0.1]])
    >>> precision_scope_curve(S, [0], [0, 1, 0], scopes=[1, 2, 3]).precision
    array([1.        , 0.5       , 0.66666667])
    """
    return _metric(S, y_query, y_db, Statistic("scope", scopes), "queries", n_jobs)


def precision_recall_curve(S, y_query=None, y_db=None, recall_levels=None, *, n_jobs=None):
    """Interpolated precision at fixed recall levels, averaged over queries.

    For each query, the interpolated precision at recall level ``r`` is the
    largest precision reached at any rank where the recall is at least ``r``
    (the 11-point TREC convention with ``recall_levels=np.linspace(0, 1, 11)``).
    A query with no relevant item contributes 0 at every level.

    Parameters
    ----------
    S : array-like of shape (n_queries, n_database)
        Similarities; larger means more similar.
    y_query, y_db : array-like or None, default=None
        Labels defining relevance, as in :func:`mean_average_precision`.
    recall_levels : array-like of float, default=None
        Recall levels in [0, 1]; None uses the 11 levels 0, 0.1, ..., 1.
    n_jobs : int, default=None
        Number of threads ranking blocks of queries in parallel; None means 1,
        -1 all cores.

    Returns
    -------
    curve : PrecisionRecallCurve
        Named tuple ``(precision, recall)`` in scikit-learn's order:
        ``precision``, ndarray of shape (n_levels,), the mean interpolated
        precision at each recall level, and ``recall``, ndarray of shape
        (n_levels,), the recall levels (the x-axis).

    Examples
    --------
    >>> import numpy as np
    >>> from skcross.metrics import precision_recall_curve
    >>> S = np.array([[0.9, 0.8, 0.1]])
    >>> precision, recall = precision_recall_curve(S, [0], [0, 1, 0], [0.5, 1.0])
    >>> precision
    array([1.        , 0.66666667])
    """
    return _metric(S, y_query, y_db, Statistic("pr", recall_levels), "queries", n_jobs)


def recall_at_k(S, y_query=None, y_db=None, k=1, *, n_jobs=None):
    """Fraction of queries with at least one relevant item in their top ``k``.

    With no labels this is the usual Recall@K of image-caption retrieval: the
    query's own pair must be among the top ``k``.

    Parameters
    ----------
    S : array-like of shape (n_queries, n_database)
        Similarities; larger means more similar.
    y_query, y_db : array-like or None, default=None
        Labels defining relevance, as in :func:`mean_average_precision`.
        Leave both None for pair relevance.
    k : int, default=1
        Number of top-ranked items looked at; a ``k`` larger than the
        database is clipped to its size.
    n_jobs : int, default=None
        Number of threads ranking blocks of queries in parallel; None means 1,
        -1 all cores.

    Returns
    -------
    score : float
        Recall@k in [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from skcross.metrics import recall_at_k
    >>> S = np.array([[0.9, 0.1], [0.8, 0.3]])
    >>> recall_at_k(S, k=1)  # query 0 finds item 0; query 1 ranks item 0 first
    0.5
    """
    return _metric(S, y_query, y_db, Statistic("found", k), "queries", n_jobs)
