"""UNCSM on real features: metric network vs cosine, with and without pre-training; stage and similarity times.

Table 1: UNCSM with its defaults (four stages; SGD lr 1e-3, momentum 0.9,
weight decay 4e-3; 300,000 metric pairs), each fit scored with its metric
network and with cosine on the same representation, and UNCSM without
pre-training, beside CCA; mean +- std over seeds. Table 2: seconds per stage.
Table 3: time and peak memory of the learned similarity for 693 x 693 (the
Wikipedia test set) and 5,000 x 5,000 image-text combinations.

Nothing is chosen on the test split. Run:
``python benchmarks/bench_uncsm.py [--smoke] [--datasets ...]``; features from
``$SKCROSS_DATA`` or ``../shared/datasets``.
"""

import argparse
import resource
import sys
import time

import numpy as np
from _utils import evaluate, find_data_home, print_table

from skcross.datasets import load_dataset
from skcross.deep import UNCSM, resolve_device
from skcross.linear import CCA

DATASETS = ("wikipedia", "wikipedia_minilm", "cub10")


def uncsm(device, smoke, **params):
    quick = {"max_epochs": 2, "n_metric_pairs": 2000} if smoke else {}
    return lambda seed: UNCSM(verbose=0, device=device, random_state=seed, **quick, **params)


def similarity_timing(model, n, seed=0):
    """Seconds and peak resident memory (MiB) of ``model._similarity`` on n x n random embeddings."""
    rng = np.random.default_rng(seed)
    Z_img, Z_txt = (rng.standard_normal((n, 256)).astype(np.float32) for _ in range(2))
    start = time.perf_counter()
    S = model._similarity(Z_img, Z_txt)
    seconds = time.perf_counter() - start
    assert S.shape == (n, n) and np.isfinite(S).all()
    return seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI: checks the script runs")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds (0, 1, ...)")
    parser.add_argument("--similarity-sizes", type=int, nargs="*", default=[693, 5000],
                        help="n for the n x n similarity timings (none to skip)")
    args = parser.parse_args()
    data_home = find_data_home()
    if data_home is None:
        print("skipped: the shared datasets were not found in $SKCROSS_DATA or ../shared/datasets")
        return 0
    device = resolve_device("auto")
    seeds = [0] if args.smoke else list(range(args.seeds))
    rows, stage_rows, model = [], [], None
    for name in args.datasets[:1] if args.smoke else args.datasets:
        d = load_dataset(name, data_home=data_home, download_if_missing=False)
        train, test = (d.X_img_train, d.X_txt_train, d.y_train), (d.X_img_test, d.X_txt_test, d.y_test)
        if args.smoke:
            train, test = tuple(a[:200] for a in train), tuple(a[:100] for a in test)
        rows.append({"dataset": name, "method": "CCA(10)", **evaluate(lambda s: CCA(10), train[:2] + (None,), test, [0])[""]})
        fitted = []

        def keep(seed, **params):
            fitted.append(uncsm(device, args.smoke, **params)(seed))
            return fitted[-1]

        result = evaluate(keep, train, test, seeds,
                          variants={"network": {"similarity_metric": "network"}, "cosine": {"similarity_metric": "cosine"}})
        for label, row in result.items():
            rows.append({"dataset": name, "method": f"UNCSM ({label} similarity)", **row})
        row = evaluate(lambda seed: keep(seed, pretrain=False), train, test, seeds)[""]
        rows.append({"dataset": name, "method": "UNCSM without pre-training (network)", **row})
        for stage in ("features", "pretrain", "finetune", "metric"):
            seconds = [float(np.sum(m.stage_nets_[stage].history[:, "dur"])) for m in fitted[: len(seeds)]]
            stage_rows.append({"dataset": name, "stage": stage, "epochs": fitted[0].stage_epochs_[stage],
                               "seconds": float(np.mean(seconds))})
        model = fitted[0].set_params(similarity_metric="network")
    print(f"Table 1. mAP@all on the test split, mean +- std over seeds {seeds}; device {device}")
    print_table(rows, ["dataset", "method", "i2t", "t2i", "mean", "fit s"])
    print("\nTable 2. seconds per stage (mean over seeds)")
    print_table(stage_rows, ["dataset", "stage", "epochs", "seconds"])
    timing = []
    for n in (50, 100) if args.smoke else args.similarity_sizes:
        seconds, peak = similarity_timing(model, n)
        timing.append({"images x texts": f"{n} x {n}", "seconds": seconds, "process peak RSS MiB": peak})
    if timing:
        print(f"\nTable 3. learned similarity (metric network, blocks of 65,536 pairs), device {device}")
        print_table(timing, list(timing[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
