"""Give a saved benchmark run its test labels, then render its tables again, fitting nothing.

Runs saved before ``test_labels.npz`` existed hold each test query's average
precision (``per_query_ap.npz``) but not the queries' labels, which the
class-balanced mAP needs. This script reloads the dataset the run names,
checks that these are the run's test labels (the number of queries, and the
class-prior ranking's mAP recomputed from them equals the one the run
recorded, to 1e-9), then adds:

- ``balanced_map_<direction>`` of every fit, from its saved per-query AP;
- the class prior's class-balanced mAP;
- ``test_labels.npz``;

and rewrites the tables (markdown, rst, LaTeX, JSON) and plots. Usage::

    python benchmarks/backfill_test_labels.py benchmarks/results/wikipedia --data-home ../shared/datasets
"""

import argparse
import sys

import numpy as np

from skcross.benchmark import load_results, save_results
from skcross.benchmark._cli import _load
from skcross.metrics import average_over_classes, class_prior_similarity, mean_average_precision


def backfill(directory, data_home):
    result = load_results(directory)
    data = _load(result.protocol["dataset"], data_home)
    y_train, y_test = np.asarray(data["y_train"]), np.asarray(data["y_test"])
    if result.protocol.get("quick"):
        sys.exit(f"{directory}: a --quick run subsamples its test split; re-run it instead.")
    if len(y_test) != result.protocol["test"] or len(y_train) != result.protocol["train"]:
        sys.exit(f"{directory}: the dataset's split sizes differ from the run's ({len(y_train)}/{len(y_test)}).")
    prior = class_prior_similarity(y_train, y_test, len(y_test))
    for direction in ("i2t", "t2i"):
        recorded = result.protocol["class_prior_map"][direction]
        recomputed = mean_average_precision(prior, y_test, y_test)
        if abs(recomputed - recorded["map"]) > 1e-9:
            sys.exit(f"{directory}: the class prior's mAP from these labels is {recomputed}, the run recorded "
                     f"{recorded['map']}: not the run's test labels.")
        recorded["balanced_map"] = mean_average_precision(prior, y_test, y_test, average="classes")
    for run in result.runs:
        for direction in ("i2t", "t2i"):
            ap = result.per_query_ap.get((run["method"], run["seed"], direction))
            if ap is None:
                continue
            if abs(ap.mean() - run[f"map_{direction}"]) > 1e-9:
                sys.exit(f"{directory}: {run['method']} seed {run['seed']}: its per-query AP does not average "
                         "to its recorded mAP.")
            run[f"balanced_map_{direction}"] = average_over_classes(ap, y_test)
    result.test_labels = y_test
    written = save_results(result, directory)
    print(f"{directory}: {len(result.runs)} runs backfilled; wrote {len(written)} files")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directories", nargs="+")
    parser.add_argument("--data-home", default=None)
    args = parser.parse_args(argv)
    for directory in args.directories:
        backfill(directory, args.data_home)


if __name__ == "__main__":
    main()
