"""Every estimator with its default parameters on every dataset: does it run, and beat chance?

Prints the matrix estimator x dataset -> mean mAP@all (i2t and t2i averaged)
and fit time, plus the mAP of a random ranking. Deep estimators train about
``--iterations`` optimizer steps per stage (UNCSM's metric network on 20,000
pairs instead of 300,000); their other parameters are the defaults. Datasets:
the shared benchmark features ($SKCROSS_DATA, or ../shared/datasets) and
``make_cross_modal`` single- and multi-label data. The test split is only
evaluated, never used to choose anything.

    python benchmarks/bench_defaults.py [--smoke] [--iterations N]
"""

import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np

from skcross.datasets import load_dataset, make_cross_modal
from skcross.metrics import cross_modal_map, mean_average_precision
from skcross.utils import all_estimators
from skcross.utils._testing import few_iterations_params

SHARED = Path(os.environ.get("SKCROSS_DATA", Path(__file__).resolve().parents[2] / "shared" / "datasets"))
REAL = [
    ("wikipedia", "wikipedia_sift128_lda10"),
    ("wiki-minilm", "wikipedia_sift128_minilm384"),
    ("cub10", "cub10_googlenet1024_doc2vec300"),
    ("pascal-fixture", "pascal_sentence_vgg19_test100_resplit"),
]


def datasets(smoke):
    """``(name, train, test)`` of every dataset; a smoke run keeps the first ``n`` (``n // 2``) rows of each split."""
    n = 200 if smoke else 2000
    for name, multilabel in (("synthetic", False), ("synthetic-ml", True)):
        X_img, X_txt, y = make_cross_modal(n + n // 2, multilabel=multilabel, random_state=0)
        yield name, (X_img[:n], X_txt[:n], y[:n]), (X_img[n:], X_txt[n:], y[n:])
    for name, file in REAL[: 1 if smoke else None]:
        if (SHARED / f"{file}.npz").exists():
            d = load_dataset(file, data_home=SHARED, download_if_missing=False)
            train, test = (d.X_img_train, d.X_txt_train, d.y_train), (d.X_img_test, d.X_txt_test, d.y_test)
            if smoke:
                train, test = tuple(a[:n] for a in train), tuple(a[: n // 2] for a in test)
            yield name, train, test


def random_map(y, seeds=5):
    """Expected mean mAP of a random ranking, estimated over a few seeded draws."""
    n = len(y)
    scores = [mean_average_precision(np.random.RandomState(s).rand(n, n), y, y) for s in range(seeds)]
    return float(np.mean(scores))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI: checks the script runs")
    parser.add_argument("--iterations", type=int, default=200, help="optimizer steps per deep training stage")
    args = parser.parse_args()
    estimators = all_estimators()
    columns, table, times = [], {}, {}
    for data_name, train, test in datasets(args.smoke):
        columns.append(data_name)
        table[("random", data_name)] = random_map(test[2])
        for name, cls in estimators:
            est = cls()
            est.set_params(**few_iterations_params(est, len(train[0]), iterations=20 if args.smoke else args.iterations))
            start = time.perf_counter()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    est.fit(*train)
            except ValueError as exc:
                table[(name, data_name)] = "refused" if "single-label" in str(exc) else f"ERROR {exc}"
                continue
            times[(name, data_name)] = time.perf_counter() - start
            table[(name, data_name)] = cross_modal_map(est, *test)["mean"]
    rows = ["random"] + [name for name, _ in estimators]
    header = ["estimator"] + [f"{c} mAP" for c in columns] + [f"{c} fit s" for c in columns]
    cells = []
    for row in rows:
        scores = [table.get((row, c), "") for c in columns]
        fits = [times.get((row, c), "") for c in columns]
        cells.append([row] + [f"{v:.4f}" if isinstance(v, float) else v for v in scores]
                     + [f"{v:.2f}" if isinstance(v, float) else v for v in fits])
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(header)]
    print(
        "Defaults matrix: mean of i2t and t2i mAP@all on the test split; deep methods about "
        f"{args.iterations} optimizer steps per stage (UNCSM: 20,000 metric pairs)"
    )
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for r in cells:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths)))


if __name__ == "__main__":
    main()
