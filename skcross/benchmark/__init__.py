"""One benchmark over every method: ``python -m skcross.benchmark`` (or ``skcross-benchmark``).

:func:`run_benchmark` fits each method of :data:`METHODS` on a dataset's
training split and measures it on the test split (mAP@all, mAP@50 and
precision@10 in both directions, fit and inference time, peak memory);
:func:`save_results` writes the CSV, markdown, reStructuredText, LaTeX
(:func:`to_latex`) and JSON (:func:`to_json`) tables, with class-balanced mAP
and significance marks, and the curve plots; :func:`load_results` reads them
back to render again without refitting. The command line is :func:`main`;
``python -m skcross.benchmark --help`` lists its options.
"""

from ._cli import main
from ._methods import METHODS, Method, available_methods
from ._report import load_results, save_results, to_json, to_latex, to_markdown, to_rst
from ._run import BenchmarkResult, run_benchmark, summarize

__all__ = [
    "METHODS",
    "BenchmarkResult",
    "Method",
    "available_methods",
    "load_results",
    "main",
    "run_benchmark",
    "save_results",
    "summarize",
    "to_json",
    "to_latex",
    "to_markdown",
    "to_rst",
]
