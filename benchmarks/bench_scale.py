"""Scale: mAP for 100k x 100k, exact and faiss top-k search in a 1M-item gallery.

Part "map": ``cross_modal_map`` (mAP@all, both directions) of 100,000 images
against 100,000 texts, 64-d CCA embeddings of ``make_cross_modal`` data
(20 classes single-label with ``n_jobs`` 1 and 2, and multi-label with
``n_jobs`` 2; ``device="cuda"`` too when a GPU is present); wall time and the process's peak
resident memory during the call.

Part "search": a 1,000,000-text gallery and 10,000 image queries, top-10,
64-d embeddings: ``CrossModalIndex`` exact (blockwise, ``batch_size`` 4096,
torch's top-k on the CPU) against faiss HNSW with the index's defaults
(what ``index_type="auto"`` picks at this size: M 32, efConstruction 200,
efSearch 128, 256, 512 and 1024) and IVF (nlist 4096; nprobe 32 and 128);
build and search times, queries per second, recall@10 of faiss against the
exact top-10, how far the 10th cosine found falls below the exact 10th (with
the exact top-10's own spread, printed first: where it is tiny, the exact
top-10 is nearly tied and recall is decided by noise), peak memory.

Run: ``python benchmarks/bench_scale.py [--smoke] [--part map|search] [--n-jobs 1,2]``
(``--smoke``: 3,000 x 3,000 and a 30,000-item gallery; ``--n-jobs``: the
single-label map settings, default 1,2).
"""

import argparse
import time

import numpy as np
from _utils import print_table

from skcross.benchmark._run import peak_memory
from skcross.datasets import make_cross_modal
from skcross.linear import CCA
from skcross.metrics import cross_modal_map
from skcross.retrieval import CrossModalIndex


def timed(function, *args, **kwargs):
    with peak_memory() as memory:
        start = time.perf_counter()
        result = function(*args, **kwargs)
        seconds = time.perf_counter() - start
    return result, seconds, memory["MiB"]


def map_part(n, smoke, n_jobs_settings=(1, 2)):
    rows = []
    for multilabel in (False, True):
        X_img, X_txt, y = make_cross_modal(n + 5000, n_classes=20, n_features_image=128, n_features_text=64,
                                           n_latent=64, multilabel=multilabel, random_state=0)
        X_img, X_txt = X_img.astype(np.float32), X_txt.astype(np.float32)
        model = CCA(64).fit(X_img[:5000], X_txt[:5000])
        test = X_img[5000:], X_txt[5000:], y[5000:]
        del X_img, X_txt
        settings = [("numpy", j) for j in n_jobs_settings] if not multilabel else [("numpy", 2)]
        try:
            import torch

            if torch.cuda.is_available():
                settings.append(("cuda", 1))
        except ImportError:
            pass
        for device, n_jobs in settings:
            scores, seconds, peak = timed(cross_modal_map, model, *test, n_jobs=n_jobs,
                                          device=None if device == "numpy" else device)
            rows.append({"labels": "multi" if multilabel else "single", "queries x items": f"{n:,} x {n:,}",
                         "ranking": device, "n_jobs": n_jobs, "i2t": scores["i2t"], "t2i": scores["t2i"],
                         "seconds (both directions)": seconds, "peak RSS MiB": peak})
            print_table(rows[-1:], list(rows[-1]))
    print_table(rows, list(rows[0]), title="mAP@all, both directions, 64-d CCA embeddings (float32)")


def search_part(n_gallery, n_queries, smoke):
    X_img, X_txt, y = make_cross_modal(n_gallery + n_queries, n_classes=50, n_features_image=96, n_features_text=64,
                                       n_latent=64, random_state=1)
    X_img, X_txt = X_img[:n_queries].astype(np.float32), X_txt[n_queries:].astype(np.float32)
    model = CCA(64).fit(X_img, X_txt[:n_queries])  # fitted on 10k pairs' worth of rows (not paired here)
    rows = []
    exact = CrossModalIndex(model, batch_size=4096)
    _, build, build_peak = timed(exact.add, X_txt, modality="text")
    (exact_scores, exact_ids), seconds, peak = timed(exact.search, X_img, k=10)
    rows.append({"index": "exact (batch 4096, torch top-k on the CPU)", "build s": build, "search s": seconds,
                 "queries/s": n_queries / seconds, "recall@10 vs exact": 1.0, "10th cosine below exact": 0.0,
                 "peak RSS MiB (build / search)": f"{build_peak:.0f} / {peak:.0f}"})
    spread = float(np.mean(exact_scores[:, 0] - exact_scores[:, 9]))
    print(f"exact top-10: the 1st and 10th cosines differ by {spread:.2e} on average over the queries")
    print_table(rows[-1:], list(rows[-1]))
    ivf = {"nlist": 256 if smoke else 4096, "nprobe": 32}
    for name, index_type, params, searches in [
        ("faiss HNSW, skcross defaults (M 32, efConstruction 200)", "hnsw", None,
         [("efSearch", 128), ("efSearch", 256), ("efSearch", 512), ("efSearch", 1024)]),
        (f"faiss IVF (nlist {ivf['nlist']})", "ivf", ivf, [("nprobe", 32), ("nprobe", 128)]),
    ]:
        index = CrossModalIndex(model, backend="faiss", index_type=index_type, index_params=params, batch_size=65536)
        _, build, build_peak = timed(index.add, X_txt, modality="text")
        for knob, value in searches:  # one build, several search settings (faiss's own attributes)
            if knob == "efSearch":
                index._backend.faiss_index.hnsw.efSearch = value
            else:
                index._backend.faiss_index.nprobe = value
            (scores, ids), seconds, peak = timed(index.search, X_img, k=10)
            recall = np.mean([len(np.intersect1d(a, b)) / 10 for a, b in zip(ids, exact_ids)])
            rows.append({"index": f"{name}, {knob} {value}", "build s": build, "search s": seconds,
                         "queries/s": n_queries / seconds, "recall@10 vs exact": recall,
                         "10th cosine below exact": float(np.mean(exact_scores[:, 9] - scores[:, 9])),
                         "peak RSS MiB (build / search)": f"{build_peak:.0f} / {peak:.0f}"})
            print_table(rows[-1:], list(rows[-1]))
        del index
    exact_rate = rows[0]["queries/s"]
    for row in rows:
        row["speed-up"] = row["queries/s"] / exact_rate
    print_table(rows, list(rows[0]),
                title=f"top-10 of {n_queries:,} image queries in a {n_gallery:,}-text gallery (64-d CCA embeddings)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--part", choices=("map", "search", "all"), default="all")
    parser.add_argument("--n-jobs", default="1,2", help="n_jobs settings of the single-label map runs")
    args = parser.parse_args()
    if args.part in ("map", "all"):
        map_part(3000 if args.smoke else 100_000, args.smoke, tuple(int(j) for j in args.n_jobs.split(",")))
    if args.part in ("search", "all"):
        try:
            import faiss  # noqa: F401
        except ImportError:
            print("skipped search part: faiss is not installed (pip install 'skcross[index]')")
            return 0
        search_part(30_000 if args.smoke else 1_000_000, 1000 if args.smoke else 10_000, args.smoke)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
