"""SSPE's sampling (Wu, Wang and Huang, ACM MM 2018, Algorithm 1): the graphs and one round of samples.

The semantic graph G_s over all images and texts (an edge when two items
share a label) is never built: cosine-weighted neighbours are drawn through
the labels and the distinct label sets in time linear in the number of
draws. The k-nearest-neighbour feature graph of each modality is a sparse
matrix, and negatives come from rejection sampling. :func:`sample_round`
draws one round of every anchor's positives and negatives, and
:class:`~skcross.deep._datasets.SampledRound` serves them to the network as
training items.
"""

import numpy as np
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.neighbors import NearestNeighbors

from ..utils._memory import rows_per_block

__all__ = ["FeatureGraph", "SemanticGraph", "sample_round"]

# Rows of distinct label sets whose weights are computed at once (x number of distinct sets).
_SET_BLOCK = 256
# Rejection sampling of negatives gives up on an anchor after this many tries.
_NEGATIVE_TRIES = 64


def _random_in(counts, rng):
    """One uniform integer in ``[0, count)`` per entry of ``counts`` (all positive)."""
    return np.minimum((rng.random(counts.shape) * counts).astype(np.int64), counts - 1)


class SemanticGraph:
    """The semantic graph G_s over the images and texts, stored through their distinct label sets.

    Two items are linked when they share at least one label, with weight the
    cosine of their label vectors (``"cosine"``) or ``exp(-||z_i - z_j||^2 /
    sigma)`` (``"rbf"``). Only the distinct label sets, each modality's
    members of each set (sorted by set) and the items' set ids are stored:
    memory linear in the number of items. A neighbour of an anchor is drawn
    with probability proportional to the edge weight, never the anchor
    itself.

    With the cosine weight a draw costs time linear in the anchor's number of
    labels, whatever the number of items or distinct label sets: the weight
    of an item ``j`` for an anchor with label set ``A`` is
    ``sum over labels l in A of [l in z_j] / sqrt(|A| |z_j|)``, so a
    neighbour is a label ``l`` of the anchor (probability proportional to
    the total weight ``sum_j [l in z_j] / sqrt(|z_j|)`` of the items
    carrying it), then a label set carrying ``l`` (proportional to its
    members / sqrt(its size)), then a member uniformly; the anchor itself is
    redrawn. With ``"rbf"`` the weights of a block of distinct label sets
    are computed against every distinct set (weight x set size, then a
    member uniformly): time proportional to the distinct anchor sets times
    all distinct sets.

    Parameters
    ----------
    Y_img, Y_txt : ndarray of shape (n_images, n_labels), (n_texts, n_labels)
        0/1 label indicators of each modality's items; an item without any
        label has no neighbour.
    similarity : {"cosine", "rbf"}, default="cosine"
        Edge weight.
    sigma : float, default=1.0
        Width of the ``"rbf"`` weight.
    """

    def __init__(self, Y_img, Y_txt, similarity="cosine", sigma=1.0):
        self.similarity, self.sigma = similarity, sigma
        sets, inverse = np.unique(np.vstack([Y_img, Y_txt]).astype(np.uint8), axis=0, return_inverse=True)
        inverse = inverse.ravel()
        self.sets = sets.astype(np.float32)
        self.set_of = (inverse[: len(Y_img)], inverse[len(Y_img) :])
        self.members, self.offsets, self.position = [], [], []
        for set_of in self.set_of:
            order = np.argsort(set_of, kind="stable")
            self.members.append(order)
            self.offsets.append(np.searchsorted(set_of[order], np.arange(len(sets) + 1)))
            position = np.empty(len(order), dtype=np.int64)
            position[order] = np.arange(len(order)) - self.offsets[-1][set_of[order]]
            self.position.append(position)
        self.counts = [np.diff(offsets) for offsets in self.offsets]
        if similarity == "cosine":
            self._build_label_index()

    def _build_label_index(self):
        """Per label, the sets carrying it with cumulative draw weights, per target modality (linear size)."""
        by_set = sp.csr_matrix(self.sets)  # set -> its labels
        by_label = by_set.tocsc()  # label -> the sets carrying it
        self._set_labels = (by_set.indptr, by_set.indices)
        self._label_sets = (by_label.indptr, by_label.indices)
        size = np.asarray(by_set.sum(axis=1)).ravel()
        self._set_size = size
        inverse_root = np.zeros(len(size))
        inverse_root[size > 0] = 1 / np.sqrt(size[size > 0])
        # per target modality: cumulative weights over (label, set) entries and over (set, label) entries
        self._set_cumulative, self._label_cumulative = [], []
        for counts in self.counts:
            set_weight = counts * inverse_root  # members / sqrt(|set|)
            self._set_cumulative.append(np.cumsum(set_weight[by_label.indices]))
            label_weight = _segment_sums(self._set_cumulative[-1], by_label.indptr)
            self._label_cumulative.append(np.cumsum(label_weight[by_set.indices]))

    def weights(self, rows):
        """Edge weights between the distinct sets ``rows`` and every distinct set (0: no shared label)."""
        A, U = self.sets[rows], self.sets
        overlap = A @ U.T
        if self.similarity == "cosine":
            with np.errstate(divide="ignore", invalid="ignore"):
                W = overlap / np.sqrt(A.sum(1))[:, None] / np.sqrt(U.sum(1))[None, :]
        else:
            squared = A.sum(1)[:, None] + U.sum(1)[None, :] - 2 * overlap
            W = np.exp(-squared / self.sigma)
        W[overlap == 0] = 0.0
        return W

    def sample_neighbours(self, anchors, source, target, k, rng):
        """``k`` weight-proportional neighbours in modality ``target`` of the items ``anchors`` of ``source``.

        Returns ``(neighbours, found)``: indices of shape ``(len(anchors), k)``
        into the target modality, and whether the anchor has any neighbour
        there (rows without one are zeros).
        """
        if self.similarity == "cosine":
            return self._sample_cosine(anchors, source, target, k, rng)
        return self._sample_blocks(anchors, source, target, k, rng)

    def _sample_cosine(self, anchors, source, target, k, rng):
        """Cosine-weighted draws through the labels (see the class docstring): linear time."""
        set_labels_ptr, _ = self._set_labels
        label_sets_ptr, label_sets = self._label_sets
        set_cumulative, label_cumulative = self._set_cumulative[target], self._label_cumulative[target]
        if not len(label_cumulative):  # no item has any label
            return np.zeros((len(anchors), k), dtype=np.int64), np.zeros(len(anchors), dtype=bool)
        anchor_sets = self.set_of[source][anchors]
        first, last = set_labels_ptr[anchor_sets], set_labels_ptr[anchor_sets + 1]
        base = np.where(first > 0, label_cumulative[np.maximum(first - 1, 0)], 0.0)
        total = np.where(last > first, label_cumulative[np.maximum(last - 1, 0)], 0.0) - base
        own = np.sqrt(self._set_size[anchor_sets]) if source == target else np.zeros(len(anchors))
        found = total - own > 1e-9 * np.maximum(total, 1)
        neighbours = np.zeros((len(anchors), k), dtype=np.int64)
        rows = np.flatnonzero(found)
        todo = (np.repeat(rows, k), np.tile(np.arange(k), len(rows)))
        for _ in range(_NEGATIVE_TRIES):
            if not len(todo[0]):
                break
            a = todo[0]
            # a label of the anchor's set, then a set carrying that label, then a member of the set
            entry = np.searchsorted(label_cumulative, base[a] + rng.random(len(a)) * total[a], side="right")
            label = self._set_labels[1][np.clip(entry, first[a], last[a] - 1)]
            lo, hi = label_sets_ptr[label], label_sets_ptr[label + 1]
            label_base = np.where(lo > 0, set_cumulative[np.maximum(lo - 1, 0)], 0.0)
            label_total = set_cumulative[hi - 1] - label_base
            entry = np.searchsorted(set_cumulative, label_base + rng.random(len(a)) * label_total, side="right")
            chosen = label_sets[np.clip(entry, lo, hi - 1)]
            member = self.members[target][self.offsets[target][chosen] + _random_in(self.counts[target][chosen], rng)]
            neighbours[todo] = member
            redraw = member == anchors[a] if source == target else np.zeros(len(a), dtype=bool)
            todo = (todo[0][redraw], todo[1][redraw])
        found[np.unique(todo[0])] = False  # (vanishingly rare) anchors still drawing themselves: no sample
        neighbours[~found] = 0
        return neighbours, found

    def _sample_blocks(self, anchors, source, target, k, rng):
        """Weight-proportional draws through blocks of distinct label sets (any weight)."""
        sets_of_anchor = self.set_of[source][anchors]
        neighbours = np.zeros((len(anchors), k), dtype=np.int64)
        found = np.zeros(len(anchors), dtype=bool)
        distinct, local = np.unique(sets_of_anchor, return_inverse=True)
        by_local = np.argsort(local, kind="stable")  # anchors grouped by their distinct set: one scan in all
        bounds = np.searchsorted(local[by_local], np.arange(0, len(distinct) + _SET_BLOCK, _SET_BLOCK))
        counts = self.counts[target].astype(np.float64)
        for b, start in enumerate(range(0, len(distinct), _SET_BLOCK)):
            rows = distinct[start : start + _SET_BLOCK]
            edge = self.weights(rows)
            weights = edge * counts[None, :]
            if source == target:  # the anchor is not its own neighbour: one member fewer in its own set
                diagonal = np.arange(len(rows)), rows
                weights[diagonal] -= edge[diagonal]
            cumulative = np.cumsum(weights, axis=1)
            totals = cumulative[:, -1]
            in_block = by_local[bounds[b] : bounds[b + 1]]
            row = local[in_block] - start
            ok = totals[row] > 1e-12
            in_block, row = in_block[ok], row[ok]
            found[in_block] = True
            # inverse-CDF draws for all anchors of the block at once: row r's CDF is shifted to [r, r + 1)
            flat = (cumulative / np.where(totals > 0, totals, 1)[:, None] + np.arange(len(rows))[:, None]).ravel()
            u = np.minimum(rng.random((len(in_block), k)), 1 - 1e-12)
            picked = np.searchsorted(flat, row[:, None] + u, side="right") - row[:, None] * len(self.sets)
            picked = np.minimum(picked, len(self.sets) - 1)
            neighbours[in_block] = self._member(picked, anchors[in_block], source, target, rng)
        return neighbours, found

    def _member(self, sets, anchors, source, target, rng):
        """A uniform member of each chosen set in the target modality, never the anchor itself."""
        counts = self.counts[target][sets]
        if source == target:
            own = sets == self.set_of[source][anchors][:, None]
            draw = _random_in(np.maximum(counts - own, 1), rng)
            skip = own & (draw >= self.position[source][anchors][:, None])
            draw = draw + skip
        else:
            draw = _random_in(counts, rng)
        return self.members[target][self.offsets[target][sets] + draw]

    def share_label(self, anchors, source, others, target):
        """Whether each anchor shares a label with each of its ``others`` (shape of ``others``)."""
        out = np.empty(others.shape, dtype=bool)
        step = rows_per_block(8 * others.shape[1] * self.sets.shape[1])  # bounded temporaries
        for start in range(0, len(anchors), step):
            rows = slice(start, start + step)
            a = self.sets[self.set_of[source][anchors[rows]]]
            b = self.sets[self.set_of[target][others[rows]]]
            out[rows] = np.einsum("il,ijl->ij", a, b) > 0
        return out


class FeatureGraph:
    """The k-nearest-neighbour graph of one modality, with reverse neighbours, as a sparse matrix.

    Items ``i`` and ``j`` are linked (weight 1) when either is among the
    other's ``k`` Euclidean nearest neighbours, so the graph is symmetric and
    an item's neighbours include those that chose it. ``2 k n`` links at
    most: memory linear in ``n``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The modality's (normalised) features.
    n_neighbors : int
        ``k``.
    neighbors_estimator : estimator, default=None
        Unfitted estimator with ``fit(X)`` and ``kneighbors(X, n_neighbors)``
        (scikit-learn's ``NearestNeighbors`` API), e.g. an approximate index;
        None uses ``NearestNeighbors`` (exact, blockwise within scikit-learn's
        ``working_memory``).
    """

    def __init__(self, X, n_neighbors, neighbors_estimator=None):
        n = X.shape[0]
        k = min(n_neighbors, n - 1)
        index = NearestNeighbors() if neighbors_estimator is None else clone(neighbors_estimator)
        _, found = index.fit(X).kneighbors(X, n_neighbors=k + 1)
        # drop each item itself (usually the first column; with duplicates it may come later)
        is_self = found == np.arange(n)[:, None]
        is_self[~is_self.any(axis=1), -1] = True
        rows = np.repeat(np.arange(n), k)
        cols = found[~is_self].reshape(n, k).ravel()
        A = sp.csr_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n, n))
        A = ((A + A.T) > 0).tocsr()
        A.sort_indices()
        self.adjacency = A
        self.n = n
        self._keys = np.sort(np.repeat(np.arange(n, dtype=np.int64), np.diff(A.indptr)) * n + A.indices)

    def sample_neighbours(self, anchors, k, rng):
        """``k`` uniform graph neighbours of each anchor (with replacement)."""
        start = self.adjacency.indptr[anchors][:, None]
        degree = np.diff(self.adjacency.indptr)[anchors][:, None]
        return self.adjacency.indices[start + _random_in(np.broadcast_to(degree, (len(anchors), k)), rng)]

    def linked(self, anchors, others):
        """Whether each anchor is linked to (or is) each of its ``others``."""
        keys = anchors[:, None].astype(np.int64) * self.n + others
        position = np.minimum(np.searchsorted(self._keys, keys), len(self._keys) - 1)
        return (self._keys[position] == keys) | (others == anchors[:, None])


def _segment_sums(cumulative, indptr):
    """Sums of the segments ``[indptr[i], indptr[i + 1])`` of the array whose running sum is ``cumulative``."""
    padded = np.concatenate([[0.0], cumulative])
    return padded[indptr[1:]] - padded[indptr[:-1]]


def _negatives(anchors, n_items, shape, reject, rng):
    """Uniform items rejected while ``reject(anchors, candidates)``; also the mask of those found."""
    negatives = rng.integers(n_items, size=(len(anchors), shape))
    bad = reject(anchors, negatives)
    for _ in range(_NEGATIVE_TRIES):
        if not bad.any():
            break
        rows, cols = np.nonzero(bad)
        negatives[rows, cols] = rng.integers(n_items, size=len(rows))
        bad[rows, cols] = reject(anchors[rows], negatives[rows, cols][:, None])[:, 0]
    return negatives, ~bad


def sample_round(semantic, features, anchors, sizes, rng):
    """Algorithm 1 for one round: every anchor's semantic and feature-graph positives and negatives.

    Parameters
    ----------
    semantic : SemanticGraph
        G_s.
    features : tuple of FeatureGraph
        G_v and G_t.
    anchors : tuple of ndarray of int
        Image anchors and text anchors (the same number of each).
    sizes : tuple of int
        ``(k1, k2, k_feature)``: semantic same-modality and other-modality
        neighbours, and feature-graph neighbours, per anchor.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    own, other, masks : tuple of two ndarrays each
        Per anchor modality: indices into its own modality (anchor, then
        semantic positives and negatives, then feature positives and
        negatives), indices into the other modality (semantic positives,
        then negatives), and the mask of existing samples
        (``k1 + k2 + k_feature`` columns, in the order same, other, feature).
    """
    k1, k2, kf = sizes
    n_items = [len(semantic.set_of[0]), len(semantic.set_of[1])]
    own, other, masks = [], [], []
    for source in (0, 1):
        target = 1 - source
        a = anchors[source]

        def no_shared_label(modality):
            return lambda anchors_, others: semantic.share_label(anchors_, source, others, modality)

        same_pos, same_found = semantic.sample_neighbours(a, source, source, k1, rng)
        same_neg, same_neg_found = _negatives(a, n_items[source], k1, no_shared_label(source), rng)
        other_pos, other_found = semantic.sample_neighbours(a, source, target, k2, rng)
        other_neg, other_neg_found = _negatives(a, n_items[target], k2, no_shared_label(target), rng)
        feature_pos = features[source].sample_neighbours(a, kf, rng)
        feature_neg, feature_neg_found = _negatives(a, n_items[source], kf, features[source].linked, rng)
        own.append(np.hstack([a[:, None], same_pos, same_neg, feature_pos, feature_neg]))
        other.append(np.hstack([other_pos, other_neg]))
        masks.append(
            np.hstack([same_found[:, None] & same_neg_found, other_found[:, None] & other_neg_found, feature_neg_found])
            .astype(np.float32)
        )
    return tuple(own), tuple(other), tuple(masks)
