"""Retrieval metrics on a query-by-database similarity matrix.

All metrics share one ranking convention: each query ranks the whole database
by similarity, descending, and items with equal similarity keep database order
(a stable ranking). The work is done in blocks of query rows so that memory
stays bounded by ``block_size x n_database`` whatever the number of queries.
"""

import functools
import numbers
import re
import sys
from typing import NamedTuple

import numpy as np
from joblib import Parallel, delayed
from sklearn.utils.validation import check_array

from ..utils._memory import rows_per_block
from ..utils.validation import check_labels, encode_labels

__all__ = [
    "PrecisionRecallCurve",
    "PrecisionScopeCurve",
    "average_over_classes",
    "average_precision_per_query",
    "mean_average_precision",
    "precision_at_k",
    "precision_scope_curve",
    "precision_recall_curve",
    "rank_queries",
    "recall_at_k",
]

class PrecisionScopeCurve(NamedTuple):
    """Result of :func:`precision_scope_curve`: the x-axis first, as in the field's plots."""

    scopes: np.ndarray
    precision: np.ndarray


class PrecisionRecallCurve(NamedTuple):
    """Result of :func:`precision_recall_curve`: precision first, as scikit-learn's function."""

    precision: np.ndarray
    recall: np.ndarray


# --------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------
def _check_similarity(S):
    S = np.asarray(S) if not hasattr(S, "shape") else S
    if getattr(S, "ndim", None) != 2:
        raise ValueError(
            "S must be a 2-D similarity matrix of shape (n_queries, n_database), "
            f"got shape {getattr(S, 'shape', None)}."
        )
    if S.shape[0] == 0 or S.shape[1] == 0:
        raise ValueError(f"S is empty (shape {S.shape}); need at least one query and one item.")
    return check_array(
        S, dtype=(np.float64, np.float32), input_name="S", accept_sparse=False
    )


def _check_k(k, n_db, name="k", allow_none=True, clip=True):
    """Validate a cut-off rank; a ``k`` beyond the database means the whole database.

    Clipping follows torchmetrics' retrieval metrics and scikit-learn's
    ``ndcg_score``: mAP@1000 on a 693-item test set is mAP@693 (= mAP@all).
    With ``clip=False`` (precision-scope curves, whose scopes are the x-axis)
    a value beyond the database is an error.
    """
    if k is None and allow_none:
        return None
    if not isinstance(k, numbers.Integral) or isinstance(k, (bool, np.bool_)) or k < 1:
        raise ValueError(f"{name} must be a positive integer{' or None' if allow_none else ''}, got {k!r}.")
    if k > n_db:
        if not clip:
            raise ValueError(f"{name}={k} exceeds the number of database items ({n_db}).")
        return int(n_db)
    return int(k)


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


def _average_precision_by_sorting(rows, S_block, relevance, k, mask=None):
    """Each row's AP@k (k None: all) from one sort of the row's *values* (``mask``: the block's relevance, if made).

    The rank of a relevant item is one plus the number of items with a larger
    similarity (a binary search in the row's sorted values) plus, for the
    rare item whose similarity equals others', the number of equal items
    before it in the database (ties keep database order). No argsort over
    the database and no ranked relevance matrix: sorting values is about
    twice as fast as sorting indices, and only relevant items are looked at.
    """
    mask = relevance.mask(rows, S_block.shape[1]) if mask is None else mask
    n = S_block.shape[1]
    ap = np.zeros(len(rows))
    for i in range(len(rows)):
        scores = S_block[i]
        items = np.flatnonzero(mask[i])  # database order
        if items.size == 0:
            continue
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
                continue
            rank, hit = rank[inside], hit[inside]
        ap[i] = np.mean(hit / rank)
    return ap


def _average_precision_float32(rows, S_block, relevance, k):
    """Each row's AP@k of a wide float32 block: by sorting values where few items are relevant, else keys.

    Sorting a row's values costs one binary search per relevant item and
    more tied values to resolve, so it is the faster path only while the
    relevant items are at most :data:`_VALUE_SORT_MAX_RELEVANT_SHARE` of the
    row; the rows with more (frequent classes, multi-label data) are ranked
    by sorting integer keys.
    """
    mask = relevance.mask(rows, S_block.shape[1])
    few = np.count_nonzero(mask, axis=1) <= _VALUE_SORT_MAX_RELEVANT_SHARE * S_block.shape[1]
    ap = np.empty(len(rows))
    if few.any():
        ap[few] = _average_precision_by_sorting(rows[few], S_block[few], relevance, k, mask=mask[few])
    if not few.all():
        many = ~few
        ap[many] = _average_precision_rows(relevance.sorted(rows[many], _rank_block(S_block[many], k)))
    return ap


# Up to this many tied values in a row, their items are found by comparing the row with each value (a few
# vectorised passes); beyond, by one binary search of every item in the values. At 100,000 float32 cosine
# similarities a row holds about 15 tied relevant values: 0.4 ms a row against 3.6 ms.
_FEW_TIED_VALUES = 64


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
    """:func:`_average_precision_by_sorting` for a whole block at once with torch (on ``device``).

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
        ap[tied] = _average_precision_by_sorting(rows[tied], S_tied, relevance, k)
    return ap


# From this many items a float32 row's AP is faster by sorting its values than by sorting integer keys (the
# per-row work of the value path outweighs the cheaper sort below; measured per row, float32 cosines of 64-d
# unit vectors, a tenth of the items relevant: 10,000 items 0.27 against 0.27 ms, 20,000 0.49 against 0.53,
# 100,000 2.1 against 2.6), provided at most this share of the row is relevant (at 100,000 items: 5 % 1.7
# against 2.8 ms, 10 % 2.2 against 2.9, 20 % 3.6 against 2.9, 50 % 10.2 against 4.2).
_FLOAT32_VALUE_SORT_FROM = 1 << 14
_VALUE_SORT_MAX_RELEVANT_SHARE = 0.15


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


class Statistic(NamedTuple):
    """One per-query statistic of a ranking, as :func:`per_query_statistics` computes it.

    ``what`` is ``"ap"`` (average precision of the top ``at``; None: the
    whole ranking), ``"hits"`` (relevant items in the top ``at``),
    ``"found"`` (whether one is in the top ``at``), ``"first_rank"`` (rank
    from 1 of the best-ranked relevant item, inf without one), ``"scope"``
    (relevant items in the top k for each k of the increasing ``at``) or
    ``"pr"`` (interpolated precision at each recall level of ``at``).
    """

    what: str
    at: object = None


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

    - AP only, on a torch ``device``: :func:`_average_precision_torch`.
    - AP over most of the ranking (``at`` None or at least a quarter of the
      database) and first ranks only: no ranked list. AP by sorting values
      (float64 rows, and float32 rows of at least
      :data:`_FLOAT32_VALUE_SORT_FROM` items:
      :func:`_average_precision_float32`), first ranks by counting
      (:func:`_first_relevant_rank_block`).
    - Anything else: the block is ranked once, as deep as the deepest
      statistic needs (:func:`_rank_block`), and each statistic read from it.
    """
    n = S_block.shape[1]
    if device is not None and all(s.what == "ap" for s in statistics):
        return [_average_precision_torch(rows, S_block, relevance, s.at, device) for s in statistics]
    S_block = _as_numpy(S_block)
    # a value sort costs the same whatever k; ranking to depth k grows with k: they cross near k = n / 4 (float64,
    # 10 classes, 2,000 rows: 10,000 items 0.29 s against 0.33 at n/4, 0.28 against 0.21 at n/8; 2,000 items
    # 0.086 against 0.065 at n/4, 0.085 against 0.105 at n/2)
    deep_ap = all(s.what == "first_rank" or (s.what == "ap" and (s.at is None or 4 * s.at >= n))
                  for s in statistics)
    if deep_ap and (S_block.dtype != np.float32 or n >= _FLOAT32_VALUE_SORT_FROM or
                    all(s.what == "first_rank" for s in statistics)):
        ap_of = _average_precision_float32 if S_block.dtype == np.float32 else _average_precision_by_sorting
        return [_first_relevant_rank_block(rows, S_block, relevance) if s.what == "first_rank"
                else ap_of(rows, S_block, relevance, s.at) for s in statistics]
    depths = [_depth(s, n) for s in statistics]
    rel = relevance.sorted(rows, _rank_block(S_block, None if None in depths else max(depths)))
    return [_from_ranked(s, rel) for s in statistics]


def per_query_statistics(S_blocks, relevance, statistics, n_jobs=None, device=None):
    """Every query's value of each :class:`Statistic`: the one ranking pass behind every metric.

    Each block of query rows of ``S_blocks`` (``(rows, S_block)`` pairs, see
    :func:`_row_blocks`) is ranked once, in ``n_jobs`` threads (NumPy's
    sorts release the GIL), by the kernel :func:`_block_statistics` chooses.
    Returns one array per statistic, in the queries' order: shape
    (n_queries,), or (n_queries, len(at)) for ``"scope"`` and ``"pr"``.
    """

    def task(rows, S_block):
        return _block_statistics(rows, S_block, relevance, statistics, device)

    blocks = list(_map_blocks(task, S_blocks, n_jobs))
    return [np.concatenate([block[i] for block in blocks]) for i in range(len(statistics))]


def per_direction_statistics(images, texts, statistics, n_jobs=None, device=None):
    """Both directions' :func:`per_query_statistics`: ``{"i2t": [...], "t2i": [...]}``.

    ``images`` and ``texts`` are ``(n_rows, labels, block)``: the set's size,
    its labels (None for pairs) and the function of its query rows giving
    their similarities to the whole other set (made lazily, in the worker
    that ranks them). ``statistics(n_db)`` lists what each direction asks
    for, its cut-offs checked against that direction's database size.
    """
    (n_img, y_img, i2t), (n_txt, y_txt, t2i) = images, texts
    return {direction: per_query_statistics(_row_blocks(n_q, n_db, block, lazy=True),
                                            _Relevance(y_q, y_db, n_q, n_db), statistics(n_db), n_jobs, device)
            for direction, n_q, n_db, y_q, y_db, block in (("i2t", n_img, n_txt, y_img, y_txt, i2t),
                                                           ("t2i", n_txt, n_img, y_txt, y_img, t2i))}


def _first_relevant_rank_block(rows, S_block, relevance):
    """1-based rank of each row's best-ranked relevant item (ties keep database order); inf without one.

    No sort: the rank is one plus the number of larger similarities plus the
    number of equal ones earlier in the database.
    """
    n = S_block.shape[1]
    mask = relevance.mask(rows, n)
    has = mask.any(axis=1)
    best = np.where(mask, S_block, -np.inf).max(axis=1, keepdims=True)
    at_best = S_block == best
    first = np.argmax(mask & at_best, axis=1)
    larger = np.count_nonzero(S_block > best, axis=1)
    equal_before = np.count_nonzero(at_best & (np.arange(n) < first[:, None]), axis=1)
    return np.where(has, 1.0 + larger + equal_before, np.inf)


_STATISTIC_NAME = re.compile(r"^(?P<what>ap|hits|found)(?:@(?P<k>[1-9][0-9]*))?$|^(?P<bare>first_rank|scope|pr)$")


def rank_queries(S, y_query=None, y_db=None, statistics=("ap",), *, scopes=None, recall_levels=None, n_jobs=None):
    """Rank every query once and return its per-query statistics: the one currency of skcross's evaluation.

    Every metric of :mod:`skcross.metrics` is a reduction of these arrays:
    mAP is the mean of ``"ap"``, class-balanced mAP its
    :func:`average_over_classes`, precision@k the mean of ``"hits@k"`` over
    k, Recall@k the mean of ``"found@k"``, median rank the median of
    ``"first_rank"``, and the curves the means of ``"scope"`` and ``"pr"``.
    Asking for several statistics ranks each query once for all of them.

    Parameters
    ----------
    S : array-like of shape (n_queries, n_database)
        Similarities; larger means more similar.
    y_query, y_db : array-like or None, default=None
        Labels defining relevance, as in :func:`mean_average_precision`.
    statistics : sequence of str, default=("ap",)
        ``"ap"`` / ``"ap@K"`` (average precision of the whole ranking / of
        the top K), ``"hits@K"`` (relevant items in the top K),
        ``"found@K"`` (a relevant item in the top K), ``"first_rank"`` (rank
        from 1 of the first relevant item, inf without one), ``"scope"``
        (relevant items in the top k for each of ``scopes``) and ``"pr"``
        (interpolated precision at each of ``recall_levels``). A K beyond the
        database is clipped to its size.
    scopes : array-like of int, default=None
        Cut-offs of ``"scope"``, as in :func:`precision_scope_curve`.
    recall_levels : array-like of float, default=None
        Levels of ``"pr"``, as in :func:`precision_recall_curve`.
    n_jobs : int, default=None
        Threads ranking blocks of queries in parallel.

    Returns
    -------
    values : dict
        ``{name: ndarray}``: shape (n_queries,), or (n_queries, n_levels)
        for ``"scope"`` and ``"pr"``.

    Examples
    --------
    >>> import numpy as np
    >>> from skcross.metrics import rank_queries
    >>> S = np.array([[0.9, 0.8, 0.1],
    ...               [0.2, 0.6, 0.7]])
    >>> values = rank_queries(S, [0, 1], [0, 1, 0], ["ap", "hits@2", "first_rank"])
    >>> values["ap"].round(4).tolist(), values["hits@2"].tolist(), values["first_rank"].tolist()
    ([0.8333, 0.5], [1, 1], [1.0, 2.0])
    """
    S, relevance = _prepare(S, y_query, y_db)
    if isinstance(statistics, str) or not len(statistics):
        raise ValueError(f"statistics must be a non-empty list of names such as ['ap', 'hits@10'], got {statistics!r}.")
    parsed = []
    for name in statistics:
        match = _STATISTIC_NAME.match(name) if isinstance(name, str) else None
        if match is None:
            raise ValueError(f"statistics: {name!r} is not a statistic; use 'ap', 'ap@K', 'hits@K', 'found@K', "
                             "'first_rank', 'scope' or 'pr' (K a positive integer).")
        if match["what"] in ("hits", "found") and match["k"] is None:
            raise ValueError(f"statistics: {name!r} needs a cut-off, e.g. '{name}@10'.")
        if match["bare"] == "scope":
            parsed.append(Statistic("scope", _check_scopes(scopes, S.shape[1])))
        elif match["bare"] == "pr":
            parsed.append(Statistic("pr", _check_recall_levels(recall_levels)))
        else:
            what = match["what"] or match["bare"]
            parsed.append(Statistic(what, _check_k(int(match["k"]), S.shape[1]) if match["k"] else None))
    values = per_query_statistics(_blocks_of(S), relevance, parsed, n_jobs)
    return dict(zip(statistics, values))


def _check_scopes(scopes, n_db):
    if scopes is None:
        return np.unique(np.linspace(1, n_db, num=min(20, n_db)).round().astype(int))
    scopes = np.asarray(scopes)
    if scopes.ndim != 1 or scopes.size == 0:
        raise ValueError("scopes must be a non-empty 1-D array of positive integers.")
    for k in scopes:
        _check_k(k.item() if hasattr(k, "item") else k, n_db, name="scopes value", allow_none=False, clip=False)
    if np.any(np.diff(scopes) <= 0):
        raise ValueError("scopes must be strictly increasing.")
    return scopes


def _check_recall_levels(recall_levels):
    levels = np.linspace(0, 1, 11) if recall_levels is None else np.asarray(recall_levels, float)
    if levels.ndim != 1 or levels.size == 0 or not np.all((levels >= 0) & (levels <= 1)):
        raise ValueError("recall_levels must be a non-empty 1-D array of values in [0, 1].")
    return levels


def _blocks_of(S):
    return _row_blocks(*S.shape, lambda rows: S[rows])


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


def _prepare(S, y_query, y_db):
    S = _check_similarity(S)
    return S, _Relevance(y_query, y_db, *S.shape)


def _statistic_of(S, y_query, y_db, what, k, n_jobs=None, allow_none=True):
    """``(values, k)``: every query's ``what`` at cut-off ``k`` (checked, clipped) of a similarity matrix."""
    S, relevance = _prepare(S, y_query, y_db)
    k = _check_k(k, S.shape[1], allow_none=allow_none)
    return per_query_statistics(_blocks_of(S), relevance, [Statistic(what, k)], n_jobs)[0], k


_AVERAGES = ("queries", "classes")


def _check_average(average, y_query):
    """Refuse an ``average`` other than "queries" or "classes", and "classes" without labels; before any ranking."""
    if average not in _AVERAGES:
        raise ValueError(
            f"average must be 'queries' (every query weighs the same, the field's habit) or 'classes' "
            f"(every query class weighs the same), got {average!r}."
        )
    if average == "classes" and y_query is None:
        raise ValueError(
            "average='classes' needs labels: without y_query and y_db every query is its own pair, "
            "so there are no classes to average over."
        )


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


def _mean_precision(hits, k, y_query, average):
    """Precision@k from each query's hits in its top ``k``, averaged as :func:`_average` does."""
    return float(hits.sum() / k / len(hits)) if average == "queries" else average_over_classes(hits / k, y_query)


def _average(values, y_query, average):
    """The mean of per-query ``values`` over queries (``average="queries"``) or over query classes."""
    if average == "queries":
        return float(values.sum() / len(values))
    return average_over_classes(values, y_query)


# --------------------------------------------------------------------------
# public metrics
# --------------------------------------------------------------------------
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
    _check_average(average, y_query)
    return _average(_statistic_of(S, y_query, y_db, "ap", k, n_jobs)[0], y_query, average)


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
    return _statistic_of(S, y_query, y_db, "ap", k)[0]


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
    _check_average(average, y_query)
    hits, k = _statistic_of(S, y_query, y_db, "hits", k, n_jobs, allow_none=False)
    return _mean_precision(hits, k, y_query, average)


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
    S, relevance = _prepare(S, y_query, y_db)
    scopes = _check_scopes(scopes, S.shape[1])
    (hits,) = per_query_statistics(_blocks_of(S), relevance, [Statistic("scope", scopes)], n_jobs)
    return PrecisionScopeCurve(scopes, hits.sum(axis=0) / (scopes * S.shape[0]))


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
    S, relevance = _prepare(S, y_query, y_db)
    levels = _check_recall_levels(recall_levels)

    (precision,) = per_query_statistics(_blocks_of(S), relevance, [Statistic("pr", levels)], n_jobs)
    return PrecisionRecallCurve(precision.sum(axis=0) / S.shape[0], levels)


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
    found, _ = _statistic_of(S, y_query, y_db, "found", k, n_jobs, allow_none=False)
    return float(np.count_nonzero(found) / len(found))
