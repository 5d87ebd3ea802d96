"""CCA and PLS on the Wikipedia benchmark (SIFT128 + LDA10, official split).

Compares with the correlation matching (CM, = CCA) numbers of Rasiwasia et al.
(ACM MM 2010): 0.249 image-to-text, 0.196 text-to-image mAP@all. The ridge of
the tuned CCA is chosen by 5-fold stratified cross-validation on the training
split only (scorer: mean mAP); the test split is used once, for the table.

Run: ``python benchmarks/bench_wikipedia.py [--smoke]``. The features are read
from ``$SKCROSS_DATA`` or ``../shared/datasets`` next to the repository; when
absent, the script says so and exits without error.
"""

import os
import sys
from pathlib import Path

import numpy as np
from _utils import measure, parse_args, print_table
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from skcross import paired
from skcross.datasets import load_dataset
from skcross.linear import CCA, PLS
from skcross.metrics import cross_modal_map, get_scorer, mean_average_precision

PAPER = {"CM (CCA), Rasiwasia et al. 2010": (0.249, 0.196), "SCM, Rasiwasia et al. 2010": (0.277, 0.226)}


def find_data_home():
    for candidate in (os.environ.get("SKCROSS_DATA"), Path(__file__).resolve().parents[2] / "shared" / "datasets"):
        if candidate and (Path(candidate) / "wikipedia_sift128_lda10.npz").exists():
            return Path(candidate)
    return None


def main():
    args = parse_args(__doc__.splitlines()[0])
    data_home = find_data_home()
    if data_home is None:
        print("skipped: wikipedia_sift128_lda10.npz not found in $SKCROSS_DATA or ../shared/datasets")
        return 0
    d = load_dataset("wikipedia", data_home=data_home, download_if_missing=False)
    X_train = paired(d.X_img_train, d.X_txt_train)
    regs = [1e-3, 1.0] if args.smoke else [1e-3, 1e-2, 0.1, 0.3, 1.0, 3.0, 10.0]
    search = GridSearchCV(
        CCA(n_components=10),
        {"reg": regs},
        scoring=get_scorer("map"),
        cv=StratifiedKFold(5, shuffle=True, random_state=0),
    )
    models = {
        "CCA(n_components=10), default reg=1e-3": CCA(n_components=10),
        "CCA(n_components=10, reg=0)": CCA(n_components=10, reg=0.0),
        "CCA(n_components=10), reg by 5-fold CV on train": search,
        "PLS(n_components=10)": PLS(n_components=10),
    }
    chance = mean_average_precision(np.random.default_rng(0).random((len(d.y_test),) * 2), d.y_test, d.y_test)
    rows = [{"method": "random ranking", "i2t": chance, "t2i": chance, "mean": chance}]
    rows += [{"method": name, "i2t": a, "t2i": b, "mean": (a + b) / 2} for name, (a, b) in PAPER.items()]
    for name, model in models.items():
        _, seconds, peak = measure(model.fit, X_train, d.y_train)
        fitted = model.best_estimator_ if model is search else model
        scores = cross_modal_map(fitted, d.X_img_test, d.X_txt_test, d.y_test)
        rows.append({"method": name, **scores, "fit s": seconds, "peak MiB": peak})
    print(
        f"Wikipedia (SIFT128 + LDA10): {len(d.y_train)} train / {len(d.y_test)} test pairs, "
        "mAP@all, cosine similarity; paper rows are the published numbers"
    )
    print_table(rows, ["method", "i2t", "t2i", "mean", "fit s", "peak MiB"])
    cv = search.cv_results_
    print("\nCV on train (mean mAP per reg): " + ", ".join(
        f"{p['reg']:g}: {s:.4f}" for p, s in zip(cv["params"], cv["mean_test_score"])
    ))
    print(f"chosen reg = {search.best_params_['reg']:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
