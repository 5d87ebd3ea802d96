"""Helpers shared by the benchmark scripts: timing, peak memory and table printing."""

import argparse
import time
import tracemalloc


def parse_args(description, extra=()):
    """Parse ``--smoke`` and any ``extra`` flags (names of boolean options)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI: checks the script runs")
    for flag in extra:
        parser.add_argument(f"--{flag}", action="store_true")
    return parser.parse_args()


def measure(function, *args, repeat=1, **kwargs):
    """Run ``function``; return (result, best wall time in s, peak traced memory in MiB).

    Peak memory is what Python and NumPy allocate during the call (tracemalloc),
    measured on a separate run so that tracing does not slow the timed runs.
    """
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = function(*args, **kwargs)
        best = min(best, time.perf_counter() - start)
    tracemalloc.start()
    function(*args, **kwargs)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return result, best, peak / 2**20


def print_table(rows, columns, title=None):
    """Print ``rows`` (dicts) as an aligned plain-text table."""
    if title:
        print(f"\n{title}")
    cells = [[_format(row.get(c, "")) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    print("  ".join("-" * w for w in widths))
    for r in cells:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths)))


def _format(value):
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 100 else f"{value:.1f}"
    return str(value)
