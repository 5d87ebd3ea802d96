"""What fitting in a child process costs: Wikipedia's 16 fits in this process and in a child, side by side.

The benchmark runs each fit in a child process by default (a segfault or an
out-of-memory kill then fails one row, not the run). This script fits every
installed method on Wikipedia (paper defaults, seed 0) both ways in one run,
method by method: ``run_benchmark(methods=[m], in_process=True)`` and
``in_process=False``, in alternating order (so that a change in the machine's
load hits both alike). Each child-process call starts its own child, so its
wall time includes a start, the imports and the data's transfer for every
method, where a real run starts one child for all its fits: the ratio is an
upper bound. The table gives each method's wall seconds and peak MiB both
ways and whether every score is bit-identical; the last lines the summed wall
times and their ratio (the issue's bound: at most 1.1).

Run: ``python benchmarks/bench_isolation.py [--smoke]`` (``--smoke``: CCA and
PLS, ``--quick``). Writes ``benchmarks/results/isolation/bench_isolation.txt``.
"""

import contextlib
import io
import os
import time

from _utils import parse_args, print_table, results_path

from skcross.benchmark import available_methods, run_benchmark
from skcross.benchmark._run import _environment
from skcross.datasets import load_wikipedia

COSTS = {"fit_s", "inference_s", "peak_mib", "peak_gpu_mib"}


def _timed_run(data, methods, quick, in_process):
    start = time.perf_counter()
    result = run_benchmark(data, methods=methods, quick=quick, progress=False, in_process=in_process)
    return result, time.perf_counter() - start


def main():
    args = parse_args(__doc__.splitlines()[0])
    methods = ["CCA", "PLS"] if args.smoke else available_methods()
    data = load_wikipedia()
    load = os.getloadavg()[0]
    rows, identical, inside_s, child_s = [], 0, 0.0, 0.0
    for i, method in enumerate(methods):
        order = (True, False) if i % 2 == 0 else (False, True)
        runs = {in_process: _timed_run(data, [method], args.smoke, in_process) for in_process in order}
        (inside, inside_wall), (child, child_wall) = runs[True], runs[False]
        a, b = inside.runs[0], child.runs[0]
        same = {key: value for key, value in a.items() if key not in COSTS} == {
            key: value for key, value in b.items() if key not in COSTS}
        identical += same
        inside_s, child_s = inside_s + inside_wall, child_s + child_wall
        rows.append({"method": method, "wall s in process": inside_wall, "wall s in child": child_wall,
                     "fit s in process": a.get("fit_s", float("nan")), "fit s in child": b.get("fit_s", float("nan")),
                     "peak MiB in process": a.get("peak_mib", float("nan")),
                     "peak MiB in child": b.get("peak_mib", float("nan")),
                     "scores bit-identical": "yes" if same else "NO"})
    environment = _environment()
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        print(f"Wikipedia, {len(methods)} methods, seed 0, papers' defaults{' (--quick)' if args.smoke else ''}; "
              f"{environment['machine']}; Python {environment['python']}; "
              + ", ".join(f"{package} {version}" for package, version in environment["versions"].items())
              + f"; load average at start {load:.2f}")
        print_table(rows, list(rows[0]), title="Each method in process and in a child process of its own "
                    "(wall = the whole run_benchmark call)")
        print(f"\nwall, summed over the methods: in process {inside_s:.1f} s, in child processes {child_s:.1f} s "
              f"(a child's start, imports and the data's transfer counted once per method): ratio "
              f"{child_s / inside_s:.3f}")
        print(f"scores bit-identical: {identical} of {len(rows)} fits")
    print(buffer.getvalue(), end="")
    folder = results_path("isolation", args.smoke)
    folder.mkdir(exist_ok=True)
    (folder / "bench_isolation.txt").write_text(buffer.getvalue())
    if identical != len(rows):
        raise SystemExit("a child-process fit scored differently from the same fit in process")


if __name__ == "__main__":
    main()
