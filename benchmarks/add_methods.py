"""Add methods to a committed benchmark run, fitting only them, under the run's own protocol.

A saved run (``python -m skcross.benchmark --output DIR``) holds every fit's
scores and per-query AP. When a new method joins skcross, its rows are fitted
here with the run's seeds and selection on the same dataset, checked against
the saved test split (the class-prior mAP and the test labels must agree),
and merged in; every table is then rendered again. The other methods' rows
are kept as they were fitted; the protocol records which rows were added,
when, and with which command and package versions.

Run: ``python benchmarks/add_methods.py benchmarks/results/wikipedia --methods Contrastive,Contrastive-labels
--data-home ../shared/datasets`` (``--smoke`` fits on a copy in a temporary folder with a few optimizer steps, for
the test suite).
"""

import argparse
import shlex
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from skcross.benchmark import load_results, run_benchmark, save_results
from skcross.benchmark._cli import _load


def add_methods(directory, methods, *, data_home=None, quick=False):
    """Fit ``methods`` with the saved run's protocol and merge them into ``directory``; return the result."""
    if (Path(directory) / "fits").is_dir():
        raise SystemExit(f"{directory} kept each fit (fits/): run its command again with the new methods added to "
                         "--methods; the kept fits are read, not refitted. This script extends older runs.")
    result = load_results(directory)
    protocol = result.protocol
    if not protocol["selection"].startswith("papers' default settings"):
        raise SystemExit(f"{directory}: only runs with the papers' defaults can be extended (this one: "
                         f"{protocol['selection']!r}); rerun the whole benchmark instead.")
    data = _load(protocol["dataset"], data_home)
    start = time.perf_counter()
    new = run_benchmark(data, methods=methods, seeds=protocol["seeds"], progress=False, quick=quick,
                        dataset_name=protocol["dataset"])
    if not quick:
        saved, now = protocol["class_prior_map"] or {}, new.protocol["class_prior_map"] or {}
        same_prior = saved.keys() == now.keys() and all(
            np.isclose(now[d][key], saved[d][key], rtol=1e-9, atol=1e-12) for d in saved for key in saved[d])
        same_labels = result.test_labels is None or np.array_equal(new.test_labels, result.test_labels)
        if not (same_prior and same_labels):
            raise SystemExit(f"{directory}: the dataset loaded now has another test split than the saved run.")
    result.runs = [run for run in result.runs if run["method"] not in methods] + new.runs
    result.curves = {key: value for key, value in result.curves.items() if key[0] not in methods}
    result.curves.update(new.curves)
    result.per_query_ap = {key: value for key, value in result.per_query_ap.items() if key[0] not in methods}
    result.per_query_ap.update(new.per_query_ap)
    protocol.setdefault("added", []).append({
        "methods": list(methods),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python benchmarks/add_methods.py " + " ".join(shlex.quote(arg) for arg in sys.argv[1:]),
        "wall_s": round(time.perf_counter() - start, 1),
        "versions": new.protocol["versions"],
        "device": new.protocol["device"],
    })
    save_results(result, directory)
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directory", help="a saved benchmark run (its --output folder)")
    parser.add_argument("--methods", required=True, help="comma-separated method names to fit and add")
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--smoke", action="store_true", help="work on a temporary copy, quick fits")
    args = parser.parse_args(argv)
    methods = [name.strip() for name in args.methods.split(",") if name.strip()]
    directory = Path(args.directory)
    if args.smoke:
        copy = Path(tempfile.mkdtemp()) / directory.name
        shutil.copytree(directory, copy)
        directory = copy
    result = add_methods(directory, methods, data_home=args.data_home, quick=args.smoke)
    print(f"added {', '.join(methods)} to {directory}: {len(result.runs)} fits in all")


if __name__ == "__main__":
    main()
