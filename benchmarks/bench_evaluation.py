"""The benchmark command's own evaluation time: everything after the fits, on Wikipedia.

Two parts, each best of 3:

- in-run scoring: ``run_benchmark`` on the bundled Wikipedia features for the
  classical methods (CCA, PLS, SM, SCM, GMLDA, GMMFA, ml-CCA; fitted once
  each, whatever the seeds) and the class-prior row, minus the fits and
  inference it reports (``fit_s + inference_s``). Since issue 43,
  ``inference_s`` includes ranking both directions' 693 x 693 test matrices
  (``rank_both_ways``, as instance runs always did), so what is left here
  is the run's own work: the reference rankings, the reductions, the
  records and the progress. Per fit it does not depend on the method, so
  the deep methods' runs cost the same each.
- rendering: ``save_results`` on the committed all-methods, 3-seed
  Wikipedia results (34 fits): summaries, significance tests, markdown,
  reStructuredText, LaTeX, JSON, CSV, with and without the curve plots.

Run against another checkout of skcross with ``PYTHONPATH=<checkout>`` to
compare versions side by side.

Run: ``python benchmarks/bench_evaluation.py [--smoke]`` (``--smoke``: one
round, CCA only).
"""

import shutil
import tempfile
import time
import warnings
from pathlib import Path

from _utils import print_table

RESULTS = Path(__file__).resolve().parent / "results" / "wikipedia"
CLASSICAL = ["CCA", "PLS", "SM", "SCM", "GMLDA", "GMMFA", "ml-CCA"]


def main():
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="one round, CCA only, for CI")
    args = parser.parse_args()
    import skcross
    from skcross.benchmark import load_results, run_benchmark, save_results
    from skcross.datasets import load_wikipedia

    methods, rounds = (["CCA"], 1) if args.smoke else (CLASSICAL, 3)
    data = load_wikipedia()
    in_run, save_plots, save_tables = [], [], []
    for _ in range(rounds):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            result = run_benchmark(data, methods=methods, seeds=(0, 1, 2), progress=False)
            total = time.perf_counter() - start
        in_run.append(total - sum(run["fit_s"] + run["inference_s"] for run in result.runs))
        for plots, times in ((True, save_plots), (False, save_tables)):
            directory = tempfile.mkdtemp()
            committed = load_results(RESULTS)  # a fresh load: nothing computed before is reused
            start = time.perf_counter()
            save_results(committed, directory, plots=plots)
            times.append(time.perf_counter() - start)
            shutil.rmtree(directory)
    n_runs, n_committed = len(result.runs), len(committed.runs)
    per_fit = min(in_run) / n_runs
    print(f"skcross {skcross.__version__} from {Path(skcross.__file__).parent}")
    print_table([{
        "fits scored": n_runs,
        "in-run scoring s": min(in_run),
        "per fit s": per_fit,
        f"render {n_committed} fits s": min(save_tables),
        "render + plots s": min(save_plots),
        f"evaluation, {n_committed} fits s": per_fit * n_committed + min(save_plots),
    }], ["fits scored", "in-run scoring s", "per fit s", f"render {n_committed} fits s", "render + plots s",
         f"evaluation, {n_committed} fits s"],
        title=f"Evaluation time after the fits (best of {rounds}; the last column: per-fit scoring x "
              f"{n_committed} fits + rendering with plots)")


if __name__ == "__main__":
    main()
