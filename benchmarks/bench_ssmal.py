"""SSM-AL with few coupled pairs, and the cost of its k-medoids step.

Table 1 (the paper's protocol on the Wikipedia features): N coupled pairs
(N = 10, 50, 100), every other training item used only as an uncoupled
sample; SSM-ALT (text references) and SSM-ALI (image references), with cosine
(eq. 32) and Pearson (eq. 33) similarity, against CCA trained on the same N
pairs, beside a random ranking and the query-independent class-prior ranking
(the test database sorted by the training frequency of its classes). A plot
of mAP against N is written to ``benchmarks/results/ssmal_map_vs_n.png``
when matplotlib is installed.

Table 2: k-medoids "alternate" against "pam" (time and retrieval mAP) on
synthetic data for n = 2,000 and 10,000 and k = 10 ... 400; PAM runs are
skipped where they would take more than a few minutes (its cost grows as
k n^2 per swap pass).

Run: ``python benchmarks/bench_ssmal.py [--smoke]``.
"""

import sys
import time
import warnings

import numpy as np
from _utils import find_data_home, parse_args, print_table, results_path

from skcross.datasets import load_dataset, make_cross_modal
from skcross.linear import CCA
from skcross.metrics import class_prior_similarity, cross_modal_map, mean_average_precision
from skcross.reference import SSMAL

PAPER = {  # SSM-AL paper, Wikipedia, its own features: (CCA, SSM-ALT, SSM-ALI) i2t / t2i
    10: ((0.1215, 0.1215), (0.2103, 0.1848), (0.1868, 0.1703)),
    50: ((0.1678, 0.1138), (0.2575, 0.2273), (0.2268, 0.2051)),
    100: ((0.1222, 0.1059), (0.2621, 0.2438), (0.2243, 0.2197)),
}


def few_pairs_table(data_home, smoke):
    d = load_dataset("wikipedia", data_home=data_home, download_if_missing=False)
    n_test = len(d.y_test)
    references = {  # rankings that ignore the query's content (the square test set scores alike both ways)
        "random ranking": mean_average_precision(np.random.default_rng(0).random((n_test, n_test)), d.y_test, d.y_test),
        "class prior (query-independent)": mean_average_precision(
            class_prior_similarity(d.y_train, d.y_test, n_test), d.y_test, d.y_test),
    }
    rows = [{"N": "-", "method": name, "i2t": value, "t2i": value, "mean": value} for name, value in references.items()]
    curves = {}
    for n_pairs in (10, 50) if smoke else (10, 50, 100):
        paper = PAPER[n_pairs]
        for name, (i2t, t2i) in zip(("paper CCA", "paper SSM-ALT", "paper SSM-ALI"), paper):
            rows.append({"N": n_pairs, "method": name, "i2t": i2t, "t2i": t2i})
        for modality, label in (("text", "SSM-ALT"), ("image", "SSM-ALI")):
            for metric in ("cosine", "pearson"):
                model = SSMAL(n_pairs, reference_modality=modality, metric=metric, random_state=0)
                start = time.perf_counter()
                model.fit(d.X_img_train, d.X_txt_train)
                seconds = time.perf_counter() - start
                scores = cross_modal_map(model, d.X_img_test, d.X_txt_test, d.y_test)
                rows.append({"N": n_pairs, "method": f"{label} ({metric})", **scores, "fit s": seconds})
                curves.setdefault(f"{label} ({metric})", []).append((n_pairs, scores["mean"]))
            pairs = model.reference_indices_  # the same N coupled pairs SSM-AL asked for
            for reg in (1e-3, 1.0):
                cca = CCA(min(10, n_pairs - 1), reg=reg).fit(d.X_img_train[pairs], d.X_txt_train[pairs])
                scores = cross_modal_map(cca, d.X_img_test, d.X_txt_test, d.y_test)
                name = f"CCA(reg={reg:g}) on {label}'s {n_pairs} pairs"
                rows.append({"N": n_pairs, "method": name, **scores})
                curves.setdefault(f"CCA(reg={reg:g}) on {label} pairs", []).append((n_pairs, scores["mean"]))
    print(
        f"Wikipedia (SIFT128 + LDA10), N coupled training pairs, the other {len(d.y_train)} - N training "
        "items uncoupled; mAP@all on the test split. Paper rows: the SSM-AL paper's own features."
    )
    print_table(rows, ["N", "method", "i2t", "t2i", "mean", "fit s"])
    plot(curves, references, smoke)


def plot(curves, references, smoke):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib not installed: no plot)")
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, points in curves.items():
        ns, maps = zip(*points)
        ax.plot(ns, maps, marker="o", linestyle="--" if name.startswith("CCA") else "-", label=name)
    for (name, value), style in zip(references.items(), ("--", ":")):
        ax.axhline(value, color="black", linestyle=style, linewidth=1.2, label=name)  # tab10 already has a gray
    ax.set_xlabel("coupled training pairs N")
    ax.set_ylabel("mean mAP (i2t, t2i)")
    ax.set_title("Wikipedia: mAP vs number of coupled pairs")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the lines, not over them
    path = results_path("ssmal_map_vs_n.png", smoke)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    print(f"plot written to {path}")


def kmedoids_table(smoke):
    settings = [(500, (10, 50))] if smoke else [(2000, (10, 100, 400)), (10000, (10, 100, 400))]
    pam_allowed = {(500, 10), (500, 50), (2000, 10), (2000, 100), (2000, 400)}  # 2000/400: ~8 min
    rows = []
    for n, ks in settings:
        X_img, X_txt, y = make_cross_modal(n + 1000, n_classes=10, random_state=0)
        train, test = slice(0, n), slice(n, None)
        for k in ks:
            for method in ("alternate", "pam"):
                if method == "pam" and (n, k) not in pam_allowed:
                    rows.append({"n": n, "k": k, "method": method, "cluster s": "skipped (PAM: minutes to hours)"})
                    continue
                model = SSMAL(k, method=method, random_state=0)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)  # PAM may stop at max_iter
                    model.fit(X_img[train], X_txt[train])
                scores = cross_modal_map(model, X_img[test], X_txt[test], y[test])
                rows.append({"n": n, "k": k, "method": method, "cluster s": model.clustering_time_, **scores})
    print("\nk-medoids of SSM-ALT on make_cross_modal (64-d image, 32-d text), 1,000 held-out pairs")
    print_table(rows, ["n", "k", "method", "cluster s", "i2t", "t2i", "mean"])


def main():
    args = parse_args(__doc__.splitlines()[0])
    data_home = find_data_home()
    if data_home is None:
        print("skipped Wikipedia table: ../shared/datasets not found")
    else:
        few_pairs_table(data_home, args.smoke)
    kmedoids_table(args.smoke)
    return 0


if __name__ == "__main__":
    sys.exit(main())
