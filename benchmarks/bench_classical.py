"""Classical baselines on the Wikipedia benchmark, tuned on the training split only.

Every method's hyper-parameters are chosen by 5-fold stratified
cross-validation on the training split (scorer: mean of image-to-text and
text-to-image mAP@all); the test split is used once, for the table. Published
numbers (Rasiwasia et al., ACM MM 2010, same features and split) are printed
beside them. A second table fits KCCA's Nyström mode on synthetic pairs and
reports time and peak memory.

Run: ``python benchmarks/bench_classical.py [--smoke]``. The Wikipedia features
are read from ``$SKCROSS_DATA`` or ``../shared/datasets``; without them only
the KCCA scaling table is printed.
"""

import resource
import sys
import time

import numpy as np
from _utils import find_data_home, measure, parse_args, print_table
from sklearn.decomposition import PCA
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline

from skcross import paired
from skcross.datasets import load_dataset, make_cross_modal
from skcross.linear import CCA, GMLDA, GMMFA, KCCA, MLCCA, PLS, SCM, SM
from skcross.metrics import cross_modal_map, get_scorer
from skcross.preprocessing import ModalityTransformer

PAPER = {
    "CM (CCA), Rasiwasia et al. 2010": (0.249, 0.196),
    "SM, Rasiwasia et al. 2010": (0.225, 0.223),
    "SCM, Rasiwasia et al. 2010": (0.277, 0.226),
}


def pca95(estimator):
    """The seeds' preprocessing, PCA keeping 95% of the energy, on the image features.

    The 10-d LDA text is left as is: PCA(0.95) would keep 8 of its
    dimensions, fewer than the 10 components compared here.
    """
    return make_pipeline(ModalityTransformer(image=PCA(0.95), text=None), estimator)


def searches(smoke):
    """(name, estimator, grid) for every method; small grids in smoke mode."""
    if smoke:
        return [
            ("CCA", CCA(10), {"reg": [1e-3, 1.0]}),
            ("KCCA (rbf, Nystroem 300)", KCCA(10, nystroem_components=300, random_state=0), {"reg": [1.0]}),
            ("SCM", SCM(10), {"C": [1.0]}),
            ("GMLDA", GMLDA(10), {"alpha": [10.0]}),
        ]
    return [
        ("CCA", CCA(10), {"reg": [1e-3, 0.1, 1.0, 10.0]}),
        ("PLS", PLS(10), {"scale": [True, False]}),
        ("PCA95(image) + CCA", pca95(CCA(10)), {"cca__reg": [1e-3, 0.1, 1.0, 10.0]}),
        ("KCCA (rbf, exact)", KCCA(10, nystroem_components=None, random_state=0), {"reg": [0.3, 1.0, 3.0, 10.0]}),
        ("KCCA (chi2, exact)", KCCA(10, kernel="chi2", nystroem_components=None, random_state=0), {"reg": [1.0, 3.0, 10.0, 30.0]}),
        (
            "KCCA (chi2, Nystroem 1000)",
            KCCA(10, kernel="chi2", nystroem_components=1000, random_state=0),
            {"reg": [1.0, 3.0, 10.0, 30.0]},
        ),
        ("SM", SM(), {"C": [0.1, 1.0, 10.0], "metric": ["normalized_correlation", "centered_correlation"]}),
        (
            "SCM",
            SCM(10),
            {"reg": [1e-3, 1.0], "C": [0.1, 1.0, 10.0], "metric": ["normalized_correlation", "centered_correlation"]},
        ),
        ("GMLDA", GMLDA(10), {"alpha": [1.0, 10.0, 100.0], "alignment": ["class_means", "pairs"]}),
        ("PCA95(image) + GMLDA", pca95(GMLDA(10)), {"gmlda__alpha": [1.0, 10.0, 100.0]}),
        (
            "GMMFA",
            GMMFA(10),
            {"alpha": [1.0, 10.0, 100.0], "alignment": ["class_means", "pairs"], "n_neighbors": [10, 50]},
        ),
        ("ml-CCA (9 components: rank <= classes - 1)", MLCCA(9), {"reg": [0.01, 0.25, 1.0]}),
    ]


def wikipedia_table(data_home, smoke):
    d = load_dataset("wikipedia", data_home=data_home, download_if_missing=False)
    X_train = paired(d.X_img_train, d.X_txt_train)
    cv = StratifiedKFold(3 if smoke else 5, shuffle=True, random_state=0)
    rows = [{"method": name, "i2t": a, "t2i": b, "mean": (a + b) / 2} for name, (a, b) in PAPER.items()]
    chosen = []
    for name, estimator, grid in searches(smoke):
        search = GridSearchCV(estimator, grid, scoring=get_scorer("map"), cv=cv, n_jobs=1)
        _, seconds, peak = measure(search.fit, X_train, d.y_train)
        scores = cross_modal_map(search.best_estimator_, d.X_img_test, d.X_txt_test, d.y_test)
        rows.append(
            {
                "method": name,
                **scores,
                "CV mAP": search.best_score_,
                "fit s": search.refit_time_,
                "search s": seconds,
                "peak MiB": peak,
            }
        )
        chosen.append(f"{name}: {search.best_params_}")
    print(
        f"Wikipedia (SIFT128 + LDA10): {len(d.y_train)} train / {len(d.y_test)} test pairs, mAP@all, "
        "hyper-parameters by CV on train; first rows are published numbers"
    )
    print_table(rows, ["method", "i2t", "t2i", "mean", "CV mAP", "fit s", "search s", "peak MiB"])
    print("\nchosen hyper-parameters:\n  " + "\n  ".join(chosen))


def kcca_scaling_table(smoke):
    sizes = (2000,) if smoke else (10000, 50000)
    rows = []
    for n in sizes:
        X_img, X_txt, y = make_cross_modal(
            n + 2000, n_classes=10, n_features_image=128, n_features_text=64, random_state=0
        )
        model = KCCA(10, nystroem_components=500 if smoke else 1000, reg=1.0, random_state=0)
        start = time.perf_counter()
        _, seconds, peak = measure(model.fit, X_img[:n], X_txt[:n])
        scores = cross_modal_map(model, X_img[n:], X_txt[n:], y[n:])
        rows.append(
            {
                "pairs": n,
                "landmarks": model.nystroem_components,
                "fit s": seconds,
                "peak traced MiB": peak,
                "mAP mean (2000 held-out)": scores["mean"],
                "total s": time.perf_counter() - start,
            }
        )
    print("\nKCCA Nystroem mode on make_cross_modal (128-d image, 64-d text), rbf kernel")
    print_table(rows, list(rows[0]))
    print(f"process peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


def main():
    args = parse_args(__doc__.splitlines()[0])
    data_home = find_data_home()
    if data_home is None:
        print("skipped Wikipedia table: wikipedia_sift128_lda10.npz not found")
    else:
        wikipedia_table(data_home, args.smoke)
    kcca_scaling_table(args.smoke)
    return 0


if __name__ == "__main__":
    sys.exit(main())
