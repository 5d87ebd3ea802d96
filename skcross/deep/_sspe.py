"""SSPE: semantic-structure-preserved embeddings (Wu, Wang and Huang, ACM MM 2018).

Each modality has its own branch into a common space, trained like a
skip-gram with negative sampling on neighbours drawn from three graphs: the
semantic graph G_s over all images and texts (an edge when two items share a
label), and one k-nearest-neighbour feature graph per modality. A linear map
shared by both modalities reconstructs the labels from the embeddings.

Nothing here is quadratic in the number of items: the semantic graph is
never built, cosine-weighted neighbours are drawn through the labels and the
distinct label sets in time linear in the number of draws, the feature graphs
are sparse, and negatives come from rejection sampling.
"""

import time
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, clone
from sklearn.neighbors import NearestNeighbors
from torch import nn

from ..utils._memory import rows_per_block
from ..utils._sklearn_compat import HasMethods, Interval, StrOptions
from ._engine import DeepCrossModalMixin, StepDecayPerBatches, _as_float32, mlp

__all__ = ["FeatureGraph", "SSPE", "SSPELoss", "SSPEModule", "SemanticGraph"]

# Rows of distinct label sets whose weights are computed at once (x number of distinct sets).
_SET_BLOCK = 256
# The paper's training length: "good results by only training modest iterations (i.e., 10,000 iterations)".
_PAPER_ITERATIONS = 10_000
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


class SampledRound(torch.utils.data.Dataset):
    """One round of Algorithm 1's samples, as training items of one image anchor and one text anchor.

    Item ``i`` holds, for its image anchor and its text anchor, the
    features of the anchor and of its samples gathered on access (only
    indices are stored): ``own`` (anchor, semantic same-modality positives
    and negatives, feature-graph positives and negatives) in the anchor's
    modality, ``other`` (semantic other-modality positives and negatives)
    in the other modality, and a mask of the samples that exist. The target
    is both anchors' label vectors.
    """

    def __init__(self, X, Z, anchors, own, other, masks):
        self.X, self.Z = X, Z  # per modality: features, label vectors
        self.anchors, self.own, self.other, self.masks = anchors, own, other, masks

    def __len__(self):
        return len(self.anchors[0])

    def __getitem__(self, i):
        X_img, X_txt = self.X
        item = {
            "image_own": X_img[self.own[0][i]],
            "image_other": X_txt[self.other[0][i]],
            "image_mask": self.masks[0][i],
            "text_own": X_txt[self.own[1][i]],
            "text_other": X_img[self.other[1][i]],
            "text_mask": self.masks[1][i],
        }
        return item, np.stack([self.Z[0][self.anchors[0][i]], self.Z[1][self.anchors[1][i]]])


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


class SSPEModule(nn.Module):
    """One fully-connected tanh branch per modality, and the label reconstruction ``g`` both share."""

    def __init__(self, n_features_image, n_features_text, hidden_sizes, n_components, n_labels):
        super().__init__()
        self.image_branch = mlp([n_features_image, *hidden_sizes, n_components], nn.Tanh)
        self.text_branch = mlp([n_features_text, *hidden_sizes, n_components], nn.Tanh)
        self.reconstruct = nn.Linear(n_components, n_labels)

    def embed_image(self, image):
        return self.image_branch(image)

    def embed_text(self, text):
        return self.text_branch(text)

    def forward(self, image_own, image_other, image_mask, text_own, text_other, text_mask):
        groups = []
        for own, other, mask, embed_own, embed_other in (
            (image_own, image_other, image_mask, self.embed_image, self.embed_text),
            (text_own, text_other, text_mask, self.embed_text, self.embed_image),
        ):
            E_own, E_other = embed_own(own), embed_other(other)
            groups.append((E_own, E_other, mask, self.reconstruct(E_own[:, 0])))
        return groups


class SSPELoss(nn.Module):
    """SSPE's objective, averaged over the batch's anchors (the paper sums): ``l_Gs + alpha1 * l_z + alpha2 * l_Gv``.

    For an anchor embedding ``a`` with positive ``p`` and negative ``n``
    (``sigma`` the logistic function, on raw inner products):
    ``-log sigma(a.p) - log sigma(-a.n)``, summed over its semantic samples
    (``l_Gs``, same and other modality) and its feature-graph samples
    (``l_Gv``); ``l_z = ||g(a) - z||^2`` with the shared linear map ``g``.
    """

    def __init__(self, sizes, alpha1, alpha2):
        super().__init__()
        self.sizes, self.alpha1, self.alpha2 = sizes, alpha1, alpha2

    def forward(self, groups, targets):
        k1, k2, kf = self.sizes
        total = 0.0
        for g, (E_own, E_other, mask, reconstruction) in enumerate(groups):
            a = E_own[:, :1]
            scores_own = (a * E_own[:, 1:]).sum(-1)
            scores_other = (a * E_other).sum(-1)
            pos = torch.cat([scores_own[:, :k1], scores_other[:, :k2], scores_own[:, 2 * k1 : 2 * k1 + kf]], 1)
            neg = torch.cat([scores_own[:, k1 : 2 * k1], scores_other[:, k2:], scores_own[:, 2 * k1 + kf :]], 1)
            skipgram = mask * (F.softplus(-pos) + F.softplus(neg))
            l_semantic = skipgram[:, : k1 + k2].sum(1)
            l_feature = skipgram[:, k1 + k2 :].sum(1)
            l_labels = (reconstruction - targets[:, g]).pow(2).sum(1)
            total = total + (l_semantic + self.alpha1 * l_labels + self.alpha2 * l_feature).mean()
        return total / 2


class SSPE(DeepCrossModalMixin, BaseEstimator):
    """Semantic-structure-preserved embeddings (SSPE) for multi-label cross-modal retrieval.

    Each modality has its own branch of fully-connected tanh layers into a
    common space of width ``n_components``. Training samples neighbours
    from three graphs and fits the embeddings like a skip-gram with negative
    sampling: the semantic graph G_s over all images and texts (an edge when
    two items share a label, weighted by the cosine of their label vectors),
    and a k-nearest-neighbour feature graph per modality (reverse neighbours
    included); a linear map ``g`` shared by both modalities reconstructs the
    labels from the embeddings. Retrieval compares embeddings with cosine
    similarity. Works with single-label (1-D ``y``) and multi-label (0/1
    indicator) data, paired or unpaired (``y=(y_img, y_txt)``; G_s needs no
    pairs). No ``n x n`` matrix is built at any step (see Notes).

    Parameters
    ----------
    n_components : int, default=32
        Width ``d`` of the common space.
    hidden_sizes : tuple of int, default=(64,)
        Hidden widths of each branch (tanh on every layer, the output too).
    alpha1 : float, default=0.1
        Weight of the label reconstruction ``l_z``.
    alpha2 : float, default=0.1
        Weight of the feature-graph term ``l_Gv``.
    label_similarity : {"cosine", "rbf"}, default="cosine"
        Edge weight of G_s: cosine of the label vectors, or
        ``exp(-||z_i - z_j||^2 / sigma)``.
    sigma : float, default=1.0
        Width of the ``"rbf"`` weight (the paper leaves it open).
    n_neighbors : int, default=8
        ``k`` of the feature graphs.
    n_semantic_same : int, default=2
        ``k1``: G_s neighbours of the anchor's own modality per anchor and round.
    n_semantic_other : int, default=6
        ``k2``: G_s neighbours of the other modality per anchor and round.
    n_feature_samples : int, default=8
        Feature-graph neighbours per anchor and round.
    n_rounds : int, default=5
        Sampling rounds ``r``; each round samples afresh for every anchor,
        then trains on those samples.
    n_batches_per_round : int, "auto" or None, default="auto"
        Training batches per round and pass. "auto" follows the paper's
        training length, "modest iterations (i.e., 10,000 iterations)": one
        pass over every image and every text per round, lengthened (anchors
        cycle through random orders) until the fit makes at least 10,000
        batches over its ``n_rounds`` rounds of ``max_epochs`` passes (2,000
        per round by default). On small sets one pass is far shorter (CUB-10:
        80 batches per round, 400 in all, so the learning-rate decay every
        2,000 batches never fires). None: one pass per round, however short.
        An int: that many batches per round, anchors drawn in random order.
    neighbors_estimator : estimator, default=None
        Unfitted ``NearestNeighbors``-like estimator (``fit``,
        ``kneighbors``) for the feature graphs, e.g. an approximate index
        for very large sets; None uses scikit-learn's exact
        ``NearestNeighbors``.
    normalize : bool, default=True
        Centre each modality on its training mean and scale every item to
        unit length (learned in ``fit``, applied at transform).
    max_epochs : int, default=1
        SGD passes over each round's samples (the paper leaves it open).
    batch_size : int, default=5
        Image anchors per batch, and as many text anchors, each with its
        samples: 5 + 5, the paper's.
    lr : float, default=0.01
        Initial learning rate (x 0.95 every 2,000 batches when ``callbacks=None``).
    optimizer : {"sgd", "adam", "adamw"} or torch optimizer class, default="sgd"
        Optimizer (SGD with momentum 0.9, the paper's, unless
        ``optimizer_params`` says otherwise).
    optimizer_params : dict, default=None
        Extra optimizer arguments.
    weight_decay : float, default=1e-3
        L2 penalty on every weight.
    device : str, default="auto"
        "auto" trains on CUDA when available, else on the CPU.
    callbacks : list of skorch callbacks, default=None
        None installs the paper's learning-rate decay
        (:class:`StepDecayPerBatches`); a list replaces it.
    verbose : int, default=1
        0 is silent; 1 shows one compact progress bar per training stage
        (epochs done, last training loss), removed when the stage ends; 2
        prints skorch's epoch table.
    validation_fraction : float, default=None
        Fraction of each round's items held out for validation.
    random_state : int, RandomState instance or None, default=None
        Seeds torch and the sampling.

    Attributes
    ----------
    net_ : CrossModalNet
        The trained skorch net (one history row per round and pass).
    classes_ : ndarray of shape (n_classes,)
        Class labels (single-label ``y`` only); label column ``j`` is ``classes_[j]``.
    n_labels_ : int
        Width of the label vectors reconstructed by ``g``.
    n_epochs_ : int
        Passes trained, over all rounds.
    n_batches_ : int
        Training batches, over all rounds.
    graph_seconds_ : float
        Time spent building the graphs (label sets and kNN).
    image_mean_, text_mean_ : ndarray
        Training means of each modality (``normalize=True``).
    device_ : str
        Device used.
    n_features_image_in_, n_features_text_in_ : int
        Feature widths seen in ``fit``.

    Notes
    -----
    Memory is linear in the number of items: G_s is stored as the distinct
    label sets and each modality's members of each set; cosine-weighted
    neighbours are drawn through the anchor's labels, then a set carrying
    the label, then a member (the anchor redrawn), in time linear in the
    number of draws (:class:`SemanticGraph`); with ``"rbf"`` through blocks
    of at most 256 distinct sets' weights at a time;
    the feature graphs are sparse (``2 k n`` links at most); negatives are
    drawn by rejection sampling (uniform items of the neighbour's modality
    that share no label with the anchor, or are not linked to it on the
    feature graph; an anchor for which 64 tries find none drops that
    sample). Exact kNN runs in blocks within scikit-learn's
    ``working_memory``.

    Departure: the paper's Algorithm 1 sums the losses of the batch's
    anchors; skcross averages them (with 5 + 5 anchors the sum is a 10 times
    larger step for the same learning rate, and averaging measured better
    in the audit of skcross's seed methods; see the method's page). Where
    the paper is silent, skcross chooses: neighbours with replacement; the
    anchor is never its own neighbour; label vectors are the 0/1 indicators
    (one-hot for single-label ``y``); items without any label have no G_s
    neighbour (their G_s samples are masked out); the rounds' lengths
    (``n_batches_per_round``).

    References
    ----------
    Y. Wu, S. Wang, Q. Huang. Learning Semantic Structure-preserved
    Embeddings for Cross-modal Retrieval. ACM Multimedia, 2018.

    Examples
    --------
    >>> from skcross.datasets import make_cross_modal
    >>> from skcross.deep import SSPE
    >>> from skcross.metrics import cross_modal_map
    >>> X_img, X_txt, Y = make_cross_modal(300, n_classes=6, multilabel=True, n_labels=3, random_state=0)
    >>> model = SSPE(n_rounds=2, n_batches_per_round=100, random_state=0).fit(X_img[:200], X_txt[:200], Y[:200])
    >>> model.transform_image(X_img[200:]).shape
    (100, 32)
    >>> scores = cross_modal_map(model, X_img[200:], X_txt[200:], Y[200:])
    """

    _requires_labels = True
    _allows_unpaired = True
    _supports_partial_fit = False  # sampling rounds over fixed graphs: continue with n_rounds instead

    _parameter_constraints = {
        **DeepCrossModalMixin._common_parameter_constraints,
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "hidden_sizes": [tuple, list],
        "alpha1": [Interval(Real, 0, None, closed="left")],
        "alpha2": [Interval(Real, 0, None, closed="left")],
        "label_similarity": [StrOptions({"cosine", "rbf"})],
        "sigma": [Interval(Real, 0, None, closed="neither")],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "n_semantic_same": [Interval(Integral, 0, None, closed="left")],
        "n_semantic_other": [Interval(Integral, 0, None, closed="left")],
        "n_feature_samples": [Interval(Integral, 0, None, closed="left")],
        "n_rounds": [Interval(Integral, 1, None, closed="left")],
        "n_batches_per_round": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"}), None],
        "neighbors_estimator": [HasMethods(["fit", "kneighbors"]), None],
        "normalize": ["boolean"],
    }

    def __init__(
        self,
        n_components=32,
        *,
        hidden_sizes=(64,),
        alpha1=0.1,
        alpha2=0.1,
        label_similarity="cosine",
        sigma=1.0,
        n_neighbors=8,
        n_semantic_same=2,
        n_semantic_other=6,
        n_feature_samples=8,
        n_rounds=5,
        n_batches_per_round="auto",
        neighbors_estimator=None,
        normalize=True,
        max_epochs=1,
        batch_size=5,
        lr=0.01,
        optimizer="sgd",
        optimizer_params=None,
        weight_decay=1e-3,
        device="auto",
        callbacks=None,
        verbose=1,
        validation_fraction=None,
        random_state=None,
    ):
        self.n_components = n_components
        self.hidden_sizes = hidden_sizes
        self.alpha1 = alpha1
        self.alpha2 = alpha2
        self.label_similarity = label_similarity
        self.sigma = sigma
        self.n_neighbors = n_neighbors
        self.n_semantic_same = n_semantic_same
        self.n_semantic_other = n_semantic_other
        self.n_feature_samples = n_feature_samples
        self.n_rounds = n_rounds
        self.n_batches_per_round = n_batches_per_round
        self.neighbors_estimator = neighbors_estimator
        self.normalize = normalize
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.optimizer_params = optimizer_params
        self.weight_decay = weight_decay
        self.device = device
        self.callbacks = callbacks
        self.verbose = verbose
        self.validation_fraction = validation_fraction
        self.random_state = random_state

    def _default_optimizer_params(self):
        return {"momentum": 0.9} if self.optimizer == "sgd" else {}

    def _default_callbacks(self, steps_per_epoch):
        return [("lr_decay", StepDecayPerBatches(every=2000, gamma=0.95))]

    def _label_vectors(self, y):
        """0/1 label vectors of each modality, in one label space."""
        y_img, y_txt = y if isinstance(y, tuple) else (y, y)
        if (y_img.ndim == 2) != (y_txt.ndim == 2):
            raise ValueError("y_img and y_txt must both be 1-D class labels or both 2-D indicator matrices.")
        if y_img.ndim == 2:
            if y_img.shape[1] != y_txt.shape[1]:
                raise ValueError(
                    f"y_img has {y_img.shape[1]} labels and y_txt {y_txt.shape[1]}; they must index the same labels."
                )
            return y_img.astype(np.float32), y_txt.astype(np.float32)
        self.classes_ = np.unique(np.concatenate([y_img, y_txt]))
        eye = np.eye(len(self.classes_), dtype=np.float32)
        return eye[np.searchsorted(self.classes_, y_img)], eye[np.searchsorted(self.classes_, y_txt)]

    def _prepare(self, X, modality):
        X = _as_float32(X)
        if not self.normalize:
            return X
        X = X - getattr(self, f"{modality}_mean_")
        norms = np.linalg.norm(X, axis=1, keepdims=True)
        return X / np.where(norms > 0, norms, 1)

    def _fit(self, X_img, X_txt, y):
        for rows, modality in ((X_img, "image"), (X_txt, "text")):
            if rows.shape[0] < 2:
                raise ValueError(
                    f"SSPE needs at least 2 {modality} rows: its feature graph links each item to its nearest "
                    f"neighbours, and {rows.shape[0]} row has none; fit on more pairs."
                )
        seed = self._start_training()
        rng = np.random.default_rng(seed)
        Z = self._label_vectors(y)
        self.n_labels_ = Z[0].shape[1]
        if self.normalize:
            self.image_mean_ = _as_float32(X_img).mean(axis=0)
            self.text_mean_ = _as_float32(X_txt).mean(axis=0)
        X = (self._prepare(X_img, "image"), self._prepare(X_txt, "text"))
        start = time.perf_counter()
        semantic = SemanticGraph(Z[0], Z[1], self.label_similarity, self.sigma)
        features = tuple(FeatureGraph(M, self.n_neighbors, self.neighbors_estimator) for M in X)
        self.graph_seconds_ = time.perf_counter() - start
        sizes = (self.n_semantic_same, self.n_semantic_other, self.n_feature_samples)
        n_items = self._anchors_per_round(max(len(X[0]), len(X[1])))

        def rounds():
            for _ in range(self.n_rounds):
                anchors = tuple(_cycled_permutation(len(M), n_items, rng) for M in X)
                own, other, masks = sample_round(semantic, features, anchors, sizes, rng)
                yield SampledRound(X, Z, anchors, own, other, masks)

        module = SSPEModule(X[0].shape[1], X[1].shape[1], tuple(self.hidden_sizes), self.n_components, self.n_labels_)
        criterion = SSPELoss(sizes, self.alpha1, self.alpha2)
        self.net_ = self._train_on_sample_rounds(module, criterion, rounds(), seed, n_items,
                                                 probe=self._collapse_probe(X[0], X[1], seed))
        self.n_epochs_ = len(self.net_.history)
        self.n_batches_ = int(sum(len(batches) for batches in self.net_.history[:, "batches"]))

    def _anchors_per_round(self, n_largest):
        """Anchors of each modality per round (``n_batches_per_round`` x ``batch_size``)."""
        if isinstance(self.n_batches_per_round, Integral):
            return self.n_batches_per_round * self.batch_size
        if self.n_batches_per_round is None:
            return n_largest
        batches = -(-_PAPER_ITERATIONS // (self.n_rounds * self.max_epochs))
        return max(n_largest, batches * self.batch_size)

    def _transform_image(self, X_img):
        return self._embed(self._prepare(X_img, "image").astype(X_img.dtype, copy=False), "embed_image")

    def _transform_text(self, X_txt):
        return self._embed(self._prepare(X_txt, "text").astype(X_txt.dtype, copy=False), "embed_text")


def _cycled_permutation(n, length, rng):
    """``length`` indices in ``range(n)``: random permutations, concatenated, so every item comes up in turn."""
    repeats = -(-length // n)
    return np.concatenate([rng.permutation(n) for _ in range(repeats)])[:length]
