"""Retrieval benchmark on skcross's synthetic image-text data (the main job).

Fits every linear baseline (and a PCA + CCA pipeline tuned by grid search on
the training split only) on ``make_cross_modal`` data and prints mAP@all in
both directions, fit time and peak memory.

Run: ``python benchmarks/bench_synthetic.py`` (``--smoke`` for a tiny run).
"""

import numpy as np
from _utils import measure, parse_args, print_table
from sklearn.decomposition import PCA
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline

from skcross import paired
from skcross.datasets import make_cross_modal
from skcross.linear import CCA, PLS
from skcross.metrics import cross_modal_map, get_scorer, mean_average_precision
from skcross.preprocessing import ModalityTransformer


def main():
    args = parse_args(__doc__.splitlines()[0])
    n_samples, n_classes = (300, 4) if args.smoke else (4000, 10)
    X_img, X_txt, y = make_cross_modal(
        n_samples, n_classes, n_features_image=128, n_features_text=64, n_latent=12, random_state=0
    )
    X = paired(X_img, X_txt)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)

    search = GridSearchCV(
        make_pipeline(ModalityTransformer(image=PCA(random_state=0), text=PCA(random_state=0)), CCA()),
        {
            "modalitytransformer__image__n_components": [0.9, 0.99],
            "modalitytransformer__text__n_components": [0.9, 0.99],
            "cca__n_components": [4, 8, 12],
        },
        scoring=get_scorer("map"),
        cv=3,
        n_jobs=1,  # in-process, so that the peak-memory column covers the whole search
    )
    models = {
        "CCA(n_components=8)": CCA(n_components=8),
        "CCA(n_components=8, reg=1)": CCA(n_components=8, reg=1.0),
        "PLS(n_components=8)": PLS(n_components=8),
        "PCA+CCA, grid-searched (3-fold CV on train)": search,
    }
    rng = np.random.default_rng(0)
    S_random = rng.random((len(y_test), len(y_test)))
    chance = mean_average_precision(S_random, y_test, y_test)
    rows = [{"method": "random ranking", "i2t": chance, "t2i": chance, "mean": chance}]
    for name, model in models.items():
        _, seconds, peak = measure(model.fit, X_train, y_train)
        scores = cross_modal_map(model.best_estimator_ if model is search else model, X_test.image, X_test.text, y_test)
        rows.append({"method": name, **scores, "fit s": seconds, "peak MiB": peak})
    print(
        f"make_cross_modal: {len(y_train)} train / {len(y_test)} test pairs, {n_classes} classes, "
        f"128-d image, 64-d text; mAP@all, cosine similarity"
    )
    print_table(rows, ["method", "i2t", "t2i", "mean", "fit s", "peak MiB"])
    print(f"\ngrid search picked {search.best_params_} (CV mAP {search.best_score_:.4f})")


if __name__ == "__main__":
    main()
