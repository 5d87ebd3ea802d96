"""Retrieval over large galleries: an index of one modality, searched from the other.

:class:`CrossModalIndex` embeds the gallery once through a fitted estimator
(or a Pipeline ending in one), keeps the embeddings with their ids, and
answers top-k queries from the other modality, exactly (blockwise matrix
products with a partial top-k, memory bounded by ``batch_size``) or
approximately with faiss (flat, IVF or HNSW indexes). Estimators whose
similarity is not the cosine of their embeddings (UNCSM's metric network,
SM/SCM's normalised correlation, SSM-AL's Pearson correlation) are served by
candidate generation on the embeddings and exact re-ranking of the candidates
by the estimator's own similarity.
"""

from numbers import Integral

import joblib
import numpy as np
from sklearn.preprocessing import normalize

from .metrics import as_ranker, top_k
from .utils._device import resolve_device

__all__ = ["CrossModalIndex"]

_MODALITIES = ("image", "text")
_FAISS_TYPES = ("auto", "flat", "ivf", "hnsw")
_FLAT_BELOW = 50_000  # index_type="auto": an exact flat index for galleries smaller than this


def _import_faiss():
    try:
        import faiss
    except ImportError as error:
        raise ImportError(
            "backend='faiss' needs the faiss package: pip install 'skcross[index]' (faiss-cpu), or a faiss "
            "GPU build; backend='exact' needs nothing more."
        ) from error
    return faiss


def _is_dask_array(X):
    return hasattr(X, "map_blocks") and hasattr(X, "chunks") and hasattr(X, "compute")


class CrossModalIndex:
    """Top-k cross-modal search over a gallery of one modality.

    Parameters
    ----------
    estimator : fitted cross-modal estimator or Pipeline ending in one
        Embeds the gallery and the queries; its similarity ranks them.
    backend : {"exact", "faiss"}, default="exact"
        "exact": every query is compared with every item, in blocks of
        ``batch_size`` queries x ``batch_size`` items, keeping a running top-k
        (``argpartition``). "faiss": an approximate (or flat) faiss index over
        the unit-normalised embeddings, searched by inner product (= cosine).
    index_type : {"auto", "flat", "ivf", "hnsw"}, default="auto"
        faiss index: ``IndexFlatIP`` (exact), ``IndexIVFFlat`` (trained on the
        first ``add``; parameters ``nlist``, ``nprobe``) or ``IndexHNSWFlat``
        (parameters ``M``, ``ef_construction``, ``ef_search``). "auto": flat
        when the first ``add`` brings fewer than 50,000 items, else HNSW; the
        choice is in ``index_type_``. Every type answers any ``k`` up to the
        gallery size: when ``k`` (or ``n_candidates``) exceeds ``ef_search``,
        HNSW searches with ``ef_search=k``, and IVF probes every list for the
        queries that its ``nprobe`` lists leave short. Ignored by the exact
        backend.
    index_params : dict, default=None
        faiss parameters: ``nlist`` (IVF lists, default ``4 * sqrt(n)`` at
        the first ``add``), ``nprobe`` (lists searched, default 16), ``M``
        (HNSW links per node, default 32), ``ef_construction`` (default 200),
        ``ef_search`` (default 128).
    rerank : bool, default=None
        Re-rank ``n_candidates`` cosine candidates per query with the
        estimator's own similarity. None: when that similarity is not the
        cosine of the embeddings (e.g. UNCSM's metric network). With
        ``rerank=False`` and such an estimator, the exact backend evaluates
        the estimator's similarity against every item instead (exact, but
        costly for a learned metric).
    n_candidates : int, default=100
        Candidates per query for re-ranking (at least ``k``).
    batch_size : int, default=4096
        Rows embedded at a time by ``add`` and ``search``, and the block size
        of the exact search: its extra memory is about ``batch_size ** 2``
        similarities, whatever the gallery size.
    device : str, default=None
        Where the exact backend multiplies cosine blocks and takes their top-k:
        a torch device ("cpu", "cuda", "cuda:N"), or None: torch on the deep
        estimator's device (``device_``), or on the CPU, when torch is installed (its ``topk`` is about ten times faster than
        NumPy's ``argpartition``), NumPy otherwise. The faiss backend moves
        its index to the GPU when ``device`` is a CUDA device and faiss has
        GPU support.

    Attributes
    ----------
    modality_ : {"image", "text"}
        The gallery's modality (set by the first ``add``); queries are of the
        other one.
    index_type_ : {"flat", "ivf", "hnsw"}
        The faiss index built by the first ``add`` (faiss backend only).
    ids_ : ndarray of shape (n_items,)
        Ids of the indexed items, in insertion order: int64 when every id is
        an integer, strings when every id is a string, otherwise objects.
    embeddings_ : ndarray of shape (n_items, n_components)
        Gallery embeddings (kept by the exact backend, and by faiss when
        re-ranking).
    groups_ : ndarray of shape (n_items,) or None
        The image each item shows or describes (given to :meth:`add` for a
        gallery of captions, several per image); None when not given.

    Examples
    --------
    >>> from skcross.datasets import make_cross_modal
    >>> from skcross.linear import CCA
    >>> from skcross.retrieval import CrossModalIndex
    >>> X_img, X_txt, y = make_cross_modal(300, random_state=0)
    >>> model = CCA(4).fit(X_img, X_txt)
    >>> index = CrossModalIndex(model).add(X_txt, modality="text")
    >>> scores, ids = index.search(X_img[:2], k=3)
    >>> ids.shape
    (2, 3)
    """

    def __init__(self, estimator, *, backend="exact", index_type="auto", index_params=None, rerank=None,
                 n_candidates=100, batch_size=4096, device=None):
        self.estimator = estimator
        self.backend = backend
        self.index_type = index_type
        self.index_params = index_params
        self.rerank = rerank
        self.n_candidates = n_candidates
        self.batch_size = batch_size
        self.device = device
        self._validate_settings()
        self._adapt(estimator)
        if self.rerank and not hasattr(self._final, "_similarity"):
            raise ValueError(
                f"rerank=True needs embeddings to draw candidates from; {type(self._final).__name__} only has a "
                "public similarity on raw rows, which the exact backend evaluates against every item (rerank=None)."
            )
        if self.backend == "faiss":
            if not hasattr(self._final, "_similarity"):
                raise TypeError(
                    "backend='faiss' searches embeddings, so the estimator's similarity must be defined on its "
                    f"embeddings (a skcross estimator); {type(self._final).__name__} only has a public "
                    "similarity on raw rows: use backend='exact'."
                )
            _import_faiss()
        self.modality_ = None
        self.ids_ = np.empty(0, dtype=np.int64)
        self.groups_ = None
        self.embeddings_ = None
        self._backend = _FaissBackend() if backend == "faiss" else _ExactBackend()

    def _adapt(self, estimator):
        """How ``estimator`` embeds and compares, read once by the one adapter (:func:`~skcross.metrics.as_ranker`)."""
        ranker = as_ranker(estimator)
        self._final, self._similarity, self._cosine = ranker.estimator, ranker.similarity, ranker.cosine
        self._embed = {"image": ranker.embed_image, "text": ranker.embed_text}

    # ------------------------------------------------------------------ settings
    def _validate_settings(self):
        if self.backend not in ("exact", "faiss"):
            raise ValueError(f"backend must be 'exact' or 'faiss', got {self.backend!r}.")
        if self.index_type not in _FAISS_TYPES:
            raise ValueError(f"index_type must be one of {_FAISS_TYPES}, got {self.index_type!r}.")
        known = {"nlist", "nprobe", "M", "ef_construction", "ef_search"}
        if self.index_params is not None:
            if not isinstance(self.index_params, dict) or set(self.index_params) - known:
                raise ValueError(
                    f"index_params must be a dict with keys among {sorted(known)}, got {self.index_params!r}."
                )
        for name in ("n_candidates", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, Integral) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}.")
        if self.rerank not in (None, True, False):
            raise ValueError(f"rerank must be None, True or False, got {self.rerank!r}.")
        if self.device is not None:
            self.device = resolve_device(self.device)

    @property
    def index_type_(self):
        """The faiss index type built by the first ``add`` (faiss backend only)."""
        built = getattr(self._backend, "index_type_", None)
        if built is None:
            raise AttributeError("index_type_ is set by the first add() of a faiss index (backend='faiss').")
        return built

    @property
    def reranks(self):
        """Whether searches re-rank cosine candidates with the estimator's similarity."""
        if self.rerank is None:  # an estimator without embeddings (public similarity only) is searched exactly
            return not self._cosine and hasattr(self._final, "_similarity")
        return bool(self.rerank)

    def __len__(self):
        return len(self.ids_)

    # ------------------------------------------------------------------ building
    def _embed_rows(self, X, modality):
        """Embeddings of ``X``'s rows, ``batch_size`` rows at a time (a Dask array: on its workers)."""
        embed = self._embed[modality]
        if _is_dask_array(X):
            if X.ndim != 2:
                raise ValueError(f"X must be 2-D, got a {X.ndim}-D Dask array.")
            X = X.rechunk({1: -1})  # whole rows in every block
            width = np.asarray(embed(np.asarray(X[:1].compute()))).shape[1]
            return X.map_blocks(
                lambda block: np.asarray(embed(block), dtype=np.float32),
                dtype=np.float32, chunks=(X.chunks[0], (width,)),
            ).compute()
        n = X.shape[0] if hasattr(X, "shape") else len(X)
        if n == 0:
            raise ValueError(f"X holds no {modality} rows.")
        parts = [np.asarray(embed(X[start:start + self.batch_size])) for start in range(0, n, self.batch_size)]
        return np.concatenate(parts)

    def add(self, X, *, modality, ids=None, groups=None):
        """Embed items of one modality and add them to the index.

        Parameters
        ----------
        X : {array-like, sparse matrix, Dask array} of shape (n_items, n_features)
            The items' features (what the estimator's ``transform_image`` or
            ``transform_text`` takes). A Dask array is embedded partition by
            partition on its scheduler's workers, then gathered here.
        modality : {"image", "text"}
            The items' modality; every ``add`` of an index uses the same one.
        ids : array-like of shape (n_items,), default=None
            The items' ids, returned by :meth:`search` as given: integers,
            strings (``"doc0"``), or any hashable objects (a list, an array,
            a pandas Index). None numbers the rows on from the largest
            integer id so far (0, 1, 2, ...); an index holding ids of another
            kind needs ``ids`` on every ``add``. Unique across the index.
        groups : array-like of shape (n_items,), default=None
            The image each item belongs to, for instance-level evaluation
            (:meth:`recall_at_k`) of a gallery of captions, several per
            image. Give it on every ``add`` of the index or on none; without
            it an item's group is its id (a gallery of images).

        Returns
        -------
        self : CrossModalIndex
        """
        if modality not in _MODALITIES:
            raise ValueError(f"modality must be 'image' or 'text', got {modality!r}.")
        if self.modality_ is not None and modality != self.modality_:
            raise ValueError(
                f"this index holds {self.modality_} items; add {modality} items to another index "
                f"(queries of the other modality search it)."
            )
        E = self._embed_rows(X, modality)
        if not np.isfinite(E).all():
            raise ValueError(f"{type(self._final).__name__} produced NaN or infinite embeddings for X.")
        all_ids = _joined_ids(self.ids_, ids, len(E))
        all_groups = self._joined_groups(groups, len(E))
        self._backend.add(self, E)
        if self._backend.needs_embeddings or self.reranks:
            self.embeddings_ = E if self.embeddings_ is None else np.concatenate([self.embeddings_, E])
        self.modality_ = modality
        self.ids_ = all_ids
        self.groups_ = all_groups
        return self

    def _joined_groups(self, groups, n):
        if (groups is None) != (self.groups_ is None) and len(self.ids_):
            raise ValueError(
                "groups must be given on every add() of an index or on none: "
                + ("this index's items have groups; pass groups= for these rows too." if groups is None
                   else "this index's earlier items have none (their group is their id).")
            )
        if groups is None:
            return None
        groups = np.asarray(groups)
        if groups.shape != (n,):
            raise ValueError(f"groups must hold one group per row of X ({n}), got shape {groups.shape}.")
        return groups if self.groups_ is None else np.concatenate([self.groups_, groups])

    def recall_at_k(self, queries, query_groups, ks=(1, 5, 10)):
        """Instance-level Recall@k of queries against the index, as image-caption retrieval reports it.

        A query succeeds at ``k`` when one of its top ``k`` results belongs
        to its group (an image query: one of its captions; a caption query:
        its image). The exact backend gives the values of
        :func:`~skcross.metrics.cross_modal_instance_scores`; an approximate
        faiss index shows what its approximation costs.

        Parameters
        ----------
        queries : {array-like, sparse matrix} of shape (n_queries, n_features)
            Items of the modality not indexed.
        query_groups : array-like of shape (n_queries,)
            The group (image) of each query, compared with the items'
            ``groups_`` (or their ids when the index has no groups).
        ks : tuple of int, default=(1, 5, 10)
            Cut-offs.

        Returns
        -------
        recall : dict
            ``{"R@1": float, ...}``, shares of queries in [0, 1].

        Examples
        --------
        >>> from skcross.datasets import make_cross_modal
        >>> from skcross.linear import CCA
        >>> from skcross.retrieval import CrossModalIndex
        >>> X_img, X_txt, y, groups = make_cross_modal(100, n_texts_per_image=5, return_groups=True, random_state=0)
        >>> index = CrossModalIndex(CCA(8).fit(X_img, X_txt)).add(X_txt, modality="text", groups=groups)
        >>> sorted(index.recall_at_k(X_img[::5], groups[::5]))
        ['R@1', 'R@10', 'R@5']
        """
        ks = (ks,) if isinstance(ks, Integral) else tuple(ks)
        if not ks or any(not isinstance(k, Integral) or isinstance(k, bool) or k < 1 for k in ks):
            raise ValueError(f"ks must be positive integers, e.g. (1, 5, 10); got {ks!r}.")
        query_groups = np.asarray(query_groups)
        n = queries.shape[0] if hasattr(queries, "shape") else len(queries)
        if query_groups.shape != (n,):
            raise ValueError(f"query_groups must hold one group per query ({n}), got shape {query_groups.shape}.")
        item_groups = self.ids_ if self.groups_ is None else self.groups_
        position = {group: i for i, group in enumerate(dict.fromkeys(item_groups.tolist()))}
        unknown = [group for group in query_groups.tolist() if group not in position]
        if unknown:
            raise ValueError(f"query_groups names groups with no item in the index, e.g. {unknown[0]!r}.")
        _, positions = self._search_positions(queries, k=max(ks))
        codes = np.array([position[group] for group in item_groups.tolist()])
        found = codes[positions]
        hit = found == np.array([position[group] for group in query_groups.tolist()])[:, None]
        first_hit = np.where(hit.any(axis=1), hit.argmax(axis=1) + 1, np.inf)
        return {f"R@{k}": float(np.mean(first_hit <= k)) for k in ks}

    # ------------------------------------------------------------------ searching
    def search(self, queries, k=10):
        """The ``k`` most similar indexed items of each query.

        Parameters
        ----------
        queries : {array-like, sparse matrix} of shape (n_queries, n_features)
            Items of the modality *not* indexed.
        k : int, default=10
            Number of results per query (clipped to the index size).

        Returns
        -------
        scores : ndarray of shape (n_queries, k)
            Similarities, best first (the estimator's similarity; cosine for
            faiss candidates that were not re-ranked).
        ids : ndarray of shape (n_queries, k)
            Ids of the items, best first; equal scores keep insertion order
            (exact backend).
        """
        scores, positions = self._search_positions(queries, k)
        return scores, self.ids_[positions]

    def _search_positions(self, queries, k):
        """:meth:`search` with the items' positions in the index instead of their ids."""
        if self.modality_ is None:
            raise ValueError("the index is empty: call add() first.")
        if not isinstance(k, Integral) or isinstance(k, bool) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}.")
        k = min(int(k), len(self.ids_))
        query_modality = "text" if self.modality_ == "image" else "image"
        n = queries.shape[0] if hasattr(queries, "shape") else len(queries)
        if n == 0:
            raise ValueError("queries holds no rows.")
        scores, positions = [], []
        for start in range(0, n, self.batch_size):
            Q = np.asarray(self._embed[query_modality](queries[start:start + self.batch_size]))
            if not np.isfinite(Q).all():
                raise ValueError(f"{type(self._final).__name__} produced NaN or infinite embeddings for queries.")
            s, p = self._search_block(Q, k)
            scores.append(s)
            positions.append(p)
        return np.concatenate(scores), np.concatenate(positions)

    def _pair_similarity(self, Q, G):
        """The estimator's similarity of query embeddings ``Q`` to gallery embeddings ``G`` (queries x items)."""
        if self.modality_ == "text":  # queries are images
            return np.asarray(self._similarity(Q, G))
        return np.asarray(self._similarity(G, Q)).T

    def _search_block(self, Q, k):
        """Top ``k`` of query embeddings ``Q``: the backend's top (cosine candidates when re-ranking), re-ranked."""
        rerank = self.reranks
        depth = min(max(k, self.n_candidates) if rerank else k, len(self.ids_))
        scores, positions = self._backend.top(self, Q, depth, cosine=self._cosine or rerank)
        if rerank:
            scores, positions = self._rerank(Q, positions)
        return scores[:, :k], positions[:, :k]

    def _rerank(self, Q, candidates):
        """Exact re-ranking of each query's candidates by the estimator's similarity."""
        scores = np.empty(candidates.shape, dtype=np.float64)
        for row in range(len(Q)):
            scores[row] = self._pair_similarity(Q[row:row + 1], self.embeddings_[candidates[row]])[0]
        order = np.lexsort((candidates, -scores), axis=1)
        return np.take_along_axis(scores, order, axis=1), np.take_along_axis(candidates, order, axis=1)

    # ------------------------------------------------------------------ persistence
    def __getstate__(self):
        state = self.__dict__.copy()
        for adapted in ("_embed", "_similarity", "_final"):  # read again from the estimator
            state.pop(adapted, None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._adapt(self.estimator)

    def save(self, path):
        """Write the index (estimator, ids, embeddings, faiss index) to ``path`` with joblib.

        Load it only from a trusted source: like any pickle, loading runs code.
        """
        joblib.dump(self, path)
        return path

    @classmethod
    def load(cls, path):
        """Read an index written by :meth:`save` (a trusted file: loading unpickles it)."""
        index = joblib.load(path)
        if not isinstance(index, cls):
            raise TypeError(f"{path} holds a {type(index).__name__}, not a {cls.__name__}.")
        return index


class _ExactBackend:
    """Every query compared with every item, one block of ``batch_size`` items at a time, keeping a running top.

    The exact search: equal scores keep insertion order, as
    :func:`~skcross.metrics.top_k` ranks them. Cosine blocks are multiplied
    and cut with torch where it is installed (its ``topk`` is about ten times
    faster than NumPy's ``argpartition``); any other similarity is the
    estimator's on each block. The index keeps the embeddings it searches.
    """

    needs_embeddings = True

    def __init__(self):
        self._unit_gallery_cache = None

    def add(self, index, E):
        pass  # the index keeps the embeddings

    def top(self, index, Q, depth, cosine):
        """``(scores, positions)`` of the top ``depth`` items of each query embedding of ``Q``, best first.

        Each block's own top (torch's ``topk`` or :func:`~skcross.metrics.top_k`)
        is merged with the running best, so memory is about ``len(Q) x
        batch_size`` similarities whatever the gallery size.
        """
        torch_device = _torch_device(index)
        if cosine:  # the gallery is normalised (and uploaded) once, not once per query batch
            Q, gallery = normalize(Q), self._unit_gallery(index.embeddings_, torch_device)
        if cosine and torch_device is not None:
            import torch

            Q = torch.as_tensor(np.ascontiguousarray(Q, dtype=np.float32), device=torch_device)
        best_scores = np.empty((len(Q), 0))
        best_positions = np.empty((len(Q), 0), dtype=np.int64)
        for start in range(0, len(index.embeddings_), index.batch_size):
            items = slice(start, start + index.batch_size)
            if cosine and torch_device is not None:
                scores, positions = _block_top_torch(Q @ gallery[items].T, depth)
            else:
                S = Q @ gallery[items].T if cosine else index._pair_similarity(Q, index.embeddings_[items])
                scores, positions = top_k(np.asarray(S), depth)
            scores = np.concatenate([best_scores, scores], axis=1)
            positions = np.concatenate([best_positions, positions + start], axis=1)
            order = np.lexsort((positions, -scores), axis=1)[:, :depth]
            best_scores = np.take_along_axis(scores, order, axis=1)
            best_positions = np.take_along_axis(positions, order, axis=1)
        return best_scores, best_positions

    def _unit_gallery(self, embeddings, torch_device):
        """The gallery's unit-normalised embeddings, kept between searches: a float32 tensor on
        ``torch_device`` (a view of the array on the CPU), or an array when torch is not used."""
        key = (torch_device, len(embeddings))
        if self._unit_gallery_cache is None or self._unit_gallery_cache[0] != key:
            unit = normalize(embeddings)
            if torch_device is not None:
                import torch

                unit = torch.as_tensor(np.ascontiguousarray(unit, dtype=np.float32), device=torch_device)
            self._unit_gallery_cache = (key, unit)
        return self._unit_gallery_cache[1]

    def __getstate__(self):
        return {"_unit_gallery_cache": None}  # rebuilt at the first search


def _torch_device(index):
    """The torch device of the exact search: ``device``, else the (deep) estimator's, else the CPU; None
    without torch."""
    if index.device is not None:
        return index.device
    try:
        import torch  # noqa: F401
    except ImportError:
        return None
    return getattr(index._final, "device_", "cpu")


def _block_top_torch(S, depth):
    """:func:`~skcross.metrics.top_k` of a torch block: ``topk``, and the stable top where a tie crosses the cut."""
    import torch

    if depth >= S.shape[1]:
        S = S.cpu().numpy()
        return S, np.broadcast_to(np.arange(S.shape[1]), S.shape)
    values, positions = torch.topk(S, depth, dim=1)
    # rows where an item left out equals the last one kept: the stable top-k decides the cut (ties
    # inside the kept items are ordered by the running merge)
    ambiguous = ((S >= values[:, -1:]).sum(dim=1) > depth).cpu().numpy()
    values, positions = values.cpu().numpy(), positions.cpu().numpy()
    if ambiguous.any():
        rows = np.flatnonzero(ambiguous)
        values[rows], positions[rows] = top_k(S[torch.as_tensor(rows, device=S.device)].cpu().numpy(), depth)
    return values, positions


class _FaissBackend:
    """A faiss index over the unit-normalised embeddings, searched by inner product (= cosine).

    Built by the first ``add`` (flat, IVF or HNSW); on a CUDA ``device`` it
    moves to the GPU when faiss has GPU support. Pickled in faiss's own
    serialisation (a GPU index as its CPU copy).
    """

    needs_embeddings = False

    def __init__(self):
        self.index_type_ = None
        self.faiss_index = None

    def add(self, index, E):
        """Add the unit embeddings ``E``; the first call builds the faiss index from ``index``'s settings."""
        faiss = _import_faiss()
        vectors = np.ascontiguousarray(normalize(E), dtype=np.float32)
        if self.faiss_index is None:
            params, device, d = index.index_params or {}, index.device, vectors.shape[1]
            self.index_type_ = index.index_type
            if index.index_type == "auto":
                self.index_type_ = "flat" if len(vectors) < _FLAT_BELOW else "hnsw"
            if self.index_type_ == "flat":
                built = faiss.IndexFlatIP(d)
            elif self.index_type_ == "ivf":
                nlist = params.get("nlist", max(1, int(4 * np.sqrt(len(vectors)))))
                built = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
                built.train(vectors)
                built.nprobe = params.get("nprobe", 16)
            else:
                built = faiss.IndexHNSWFlat(d, params.get("M", 32), faiss.METRIC_INNER_PRODUCT)
                built.hnsw.efConstruction = params.get("ef_construction", 200)
                built.hnsw.efSearch = params.get("ef_search", 128)
            if device is not None and device.startswith("cuda") and hasattr(faiss, "StandardGpuResources"):
                self._gpu_resources = faiss.StandardGpuResources()
                gpu = int(device.partition(":")[2] or 0)
                built = faiss.index_cpu_to_gpu(self._gpu_resources, gpu, built)
            self.faiss_index = built
        self.faiss_index.add(vectors)

    def top(self, index, Q, depth, cosine):
        """faiss's top ``depth`` of each query embedding, searched deeper where the approximate index returns
        fewer results (``cosine`` is always true here: faiss searches the unit embeddings)."""
        Q = np.ascontiguousarray(normalize(Q), dtype=np.float32)
        faiss_index = self.faiss_index
        hnsw = getattr(faiss_index, "hnsw", None)
        if hnsw is not None and hnsw.efSearch < depth:  # HNSW returns at most ef_search results
            ef_search = hnsw.efSearch
            hnsw.efSearch = depth
            try:
                scores, positions = faiss_index.search(Q, depth)
            finally:
                hnsw.efSearch = ef_search
        else:
            scores, positions = faiss_index.search(Q, depth)
        short = np.flatnonzero((positions < 0).any(axis=1))
        if len(short) and hasattr(faiss_index, "nprobe") and hasattr(faiss_index, "nlist"):  # IVF: probe every list
            nprobe = faiss_index.nprobe
            faiss_index.nprobe = faiss_index.nlist
            try:
                scores[short], positions[short] = faiss_index.search(np.ascontiguousarray(Q[short]), depth)
            finally:
                faiss_index.nprobe = nprobe
        if (positions < 0).any():
            raise RuntimeError(
                f"faiss found fewer than {depth} results for some queries even searching exhaustively "
                f"(index_type_={self.index_type_!r}); use index_type='flat' or backend='exact'."
            )
        return scores, positions

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_gpu_resources", None)
        if state["faiss_index"] is not None:
            faiss = _import_faiss()
            index = state["faiss_index"]
            if hasattr(faiss, "index_gpu_to_cpu") and "Gpu" in type(index).__name__:
                index = faiss.index_gpu_to_cpu(index)
            state["faiss_index"] = faiss.serialize_index(index)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if self.faiss_index is not None:
            self.faiss_index = _import_faiss().deserialize_index(self.faiss_index)



def _joined_ids(ids_so_far, ids, n):
    """``ids_so_far`` followed by the ids of ``n`` new items (``ids``, or numbers after the largest integer id).

    Integers stay int64 and strings stay strings; a mix of kinds becomes an
    object array, so that no id is ever converted into another (``5`` never
    becomes ``"5"``).
    """
    if ids is None:
        if ids_so_far.dtype.kind not in "iu":
            raise ValueError(
                f"this index holds ids of your choosing (e.g. {ids_so_far.tolist()[0]!r}); pass ids= for these "
                f"{n} rows too (numbering them 0, 1, 2, ... could repeat or mix kinds)."
            )
        start = int(ids_so_far.max()) + 1 if len(ids_so_far) else 0
        return np.concatenate([ids_so_far, np.arange(start, start + n, dtype=np.int64)])
    try:
        given = np.asarray(ids)
    except ValueError:  # e.g. a list mixing strings and tuples
        given = None
    if (given is None or given.ndim != 1) and isinstance(ids, (list, tuple)) and len(ids) == n:
        given = np.empty(n, dtype=object)  # one id per element, tuples included
        for position, value in enumerate(ids):
            given[position] = value
    if given.ndim != 1 or len(given) != n:
        raise ValueError(f"ids must hold {n} ids, one per row of X, got shape {given.shape}.")
    if given.dtype.kind == "f" or (given.dtype.kind == "O" and any(isinstance(i, float) for i in given)):
        raise ValueError(
            f"ids must be integers, strings or other hashable objects, not floating-point numbers (got dtype "
            f"{given.dtype}): float ids are not exact keys. Pass whole numbers as integers, e.g. ids.astype(int)."
        )
    if given.dtype.kind in "iub":
        given = given.astype(np.int64)
    elif given.dtype.kind == "O" and len(given) and all(isinstance(i, str) for i in given):
        given = given.astype(str)  # strings held as objects (a pandas Index): the same strings
    elif given.dtype.kind == "O":
        for value in given:
            try:
                hash(value)
            except TypeError:
                raise ValueError(f"ids must be hashable (integers, strings, tuples...); {value!r} is not.") from None
    elif given.dtype.kind not in "US":
        raise ValueError(f"ids must be integers, strings or other hashable objects, got dtype {given.dtype}.")
    if len(ids_so_far) == 0:
        joined = given
    elif ids_so_far.dtype.kind == given.dtype.kind and given.dtype.kind != "O":
        joined = np.concatenate([ids_so_far, given])
    else:  # different kinds: objects, each id as given
        joined = np.empty(len(ids_so_far) + n, dtype=object)
        joined[:len(ids_so_far)], joined[len(ids_so_far):] = list(ids_so_far.tolist()), list(given.tolist())
    unique = len(np.unique(joined)) if joined.dtype.kind != "O" else len(set(joined.tolist()))
    if unique != len(joined):
        raise ValueError("ids must be unique across the index; some are already used or repeated.")
    return joined
