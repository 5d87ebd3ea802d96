"""Put the committed benchmark results beside the numbers printed in the papers.

Reads ``benchmarks/results/<dataset>/`` (written by ``python -m skcross.benchmark
--output ...``) and writes ``benchmarks/results/README.md`` (every dataset's
table, and skcross's numbers beside the published ones, marking where
features or protocol differ and where a paper selected on test data) and
``benchmarks/results/method_rows/*.rst`` (each method's rows, included by its
documentation page). Fits nothing.

Run: ``python benchmarks/compare_to_papers.py [--results DIR]``.
"""

import argparse
from pathlib import Path

import numpy as np

from skcross.benchmark import load_results, summarize, to_markdown
from skcross.benchmark._report import table

RESULTS = Path(__file__).resolve().parent / "results"
DATASETS = {  # folder -> how to describe it
    "wikipedia": "Wikipedia, SIFT-128 BoW + LDA-10 (the features of Rasiwasia et al. 2010; bundled)",
    "wikipedia_minilm": "Wikipedia, SIFT-128 BoW + MiniLM-384 sentence embeddings (same pairs and split)",
    "cub10": "CUB-10, GoogLeNet-1024 + doc2vec-300 (600 pairs, our stratified split; no published table)",
    "pascal_sentence_fixture": "Pascal Sentence fixture: 100 DSCMR test pairs re-split 60/40 (NOT a benchmark)",
    "flickr8k": "Flickr8k, EfficientNet-Lite0-1280 + MiniLM-384 captions (5 per image, standard split; instance-level "
                "retrieval: R@k, ranks, rsum; no class labels)",
    "flickr8k_select_dev": "Flickr8k, each method's grid searched on the dev split (--select dev; DCCA left out: "
                           "its 4 settings cost about 24 minutes a seed here)",
}
# Published Flickr8k figures (DeFrag, m-RNN, Fisher-vector CCA...) use other features; none is quoted until each
# number has been checked in its paper, which could not be done where these results were made (no paper text).
FLICKR8K_PUBLISHED_NOTE = (
    "Published Flickr8k figures (Karpathy et al. 2014, DeFrag; Mao et al. 2015, m-RNN; Klein et al. 2015, "
    "Fisher-vector CCA) use other image and sentence features; they are not quoted here because no number could be "
    "checked in its paper yet. The dataset's own sanity reference, regularised CCA-64 on these features, is "
    "reproduced by `benchmarks/bench_contrastive.py`.")
SAME = "same features and split"
OWN = "paper's own features"
# (dataset, method, paper i2t, paper t2i, source, comparability)
PUBLISHED = [
    ("wikipedia", "CCA", 0.249, 0.196, "Rasiwasia et al. 2010 (CM)", SAME),
    ("wikipedia", "SM", 0.225, 0.223, "Rasiwasia et al. 2010", SAME),
    ("wikipedia", "SCM", 0.277, 0.226, "Rasiwasia et al. 2010", SAME),
    ("wikipedia", "CCA", 0.124, 0.120, "UNCSM paper", OWN + " (DBN + softmax-refined)"),
    ("wikipedia", "KCCA", 0.245, 0.219, "UNCSM paper", OWN),
    ("wikipedia", "DCCA", 0.248, 0.221, "UNCSM paper", OWN),
    ("wikipedia", "UNCSM", 0.360, 0.310, "UNCSM paper", OWN),
    ("wikipedia", "DSCMR", 0.521, 0.478, "DSCMR paper",
     OWN + " (VGG19 + sentence CNN); the authors' code keeps the epoch with the best TEST mAP"),
    ("wikipedia", "DSE", 0.4767, 0.4040, "DSE paper (DSE-DS)", OWN + " (ResNet-50 fine-tuned end to end + LDA)"),
    ("wikipedia", "SSM-AL", 0.2575, 0.2273, "SSM-AL paper (SSM-ALT, N = 50; cosine)", OWN),
    ("pascal_sentence_fixture", "DSCMR", 0.710, 0.722, "DSCMR paper (Pascal Sentence)",
     "same feature kind, but 60 of the 800 training pairs and 40 of the 100 test pairs; test-set epoch selection"),
    ("pascal_sentence_fixture", "UNCSM", 0.304, 0.282, "UNCSM paper (Pascal Sentences)", OWN + ", standard split"),
]


def method_rows_rst(results, methods):
    """A list-table of ``methods``' rows on every dataset (mAP i2t / t2i / mean, fit s), each dataset's
    query-independent class-prior ranking first."""
    columns = ("mAP i2t", "mAP t2i", "mAP mean", "bal. mAP i2t", "bal. mAP t2i", "fit s")
    lines = [".. list-table::", "   :header-rows: 1", "", "   * - dataset", "     - method"]
    lines += [f"     - {column}" for column in columns]
    for dataset, result in results.items():
        headers, body = table(result)
        index = {h: i for i, h in enumerate(headers)}
        if any(h not in index for h in columns):  # an instance-level table has no class-level mAP columns
            continue
        for cells in body:
            if cells[0] in methods or cells[0].startswith("class prior"):  # what ignoring the query gets
                seeds = len(result.protocol["seeds"])
                stale = result.protocol.get("fits_predate")  # results kept from before a fix, said so
                when = f"; fits predate {stale}" if stale else ""
                lines += [f"   * - {dataset} ({seeds} seed{'s' if seeds > 1 else ''}{when})", f"     - {cells[0]}"]
                lines += [f"     - {cells[index[h]]}" for h in columns]
    lines += ["", "▲ the best mAP on that dataset in that direction among all methods; † not significantly below it "
              "(paired randomisation test over the test queries, Holm-corrected, α = 0.05); ≤ prior: not above the "
              "query-independent class-prior ranking; bal. mAP: class-balanced mAP (the mean over query classes). "
              "The dataset's full table, with p-values and bootstrap intervals, is in benchmarks/results."]
    return "\n".join(lines) + "\n"


def instance_rows_rst(result):
    """A list-table of an instance-level run: every method's recalls, ranks and rsum (the random ranking first)."""
    headers, body = table(result)
    columns = [h for h in headers if h.startswith(("R@", "medr")) or h in ("rsum", "fit s")]
    index = {h: i for i, h in enumerate(headers)}
    lines = [".. list-table::", "   :header-rows: 1", "", "   * - method"] + [f"     - {h}" for h in columns]
    for cells in body:
        if len(cells) <= index["rsum"] or not cells[index["rsum"]]:  # a method without scores (no class labels)
            lines += [f"   * - {cells[0]}", f"     - {cells[3]}"] + ["     -"] * (len(columns) - 1)
            continue
        lines += [f"   * - {cells[0]}"] + [f"     - {cells[index[h]]}" for h in columns]
    seeds = len(result.protocol["seeds"])
    lines += ["", f"Recalls as fractions (×100 for the papers' percentages), rsum their sum; {seeds} seed(s), mean ± "
              "std; ▲ / † mark the best instance mAP of a direction and those not significantly below it (the full "
              "table has the mAP columns and the tests)."]
    return "\n".join(lines) + "\n"


def cost_rows_rst(results, method):
    """A list-table of what one default fit of ``method`` cost on each dataset (means over the seeds)."""
    lines = [".. list-table::", "   :header-rows: 1", "",
             "   * - dataset (training pairs)", "     - device, machine", "     - epochs", "     - fit s",
             "     - s per epoch", "     - peak MiB"]
    for dataset, result in results.items():
        runs = [run for run in result.runs if run["method"] == method and "fit_s" in run]  # no failed or skipped fit
        if not runs:
            continue
        fit = np.mean([run["fit_s"] for run in runs])
        epochs = np.mean([run["epochs"] for run in runs if run.get("epochs")] or [np.nan])
        machine = result.protocol["machine"].split(", Linux")[0]
        added = {name for entry in result.protocol.get("added", []) for name in entry["methods"]}  # fitted alone later
        shared = " (cores shared, slower)" if result.protocol.get("fit_times") and method not in added else ""
        lines += [f"   * - {dataset} ({result.protocol['train']})", f"     - {result.protocol['device']}, {machine}",
                  f"     - {epochs:.0f}", f"     - {fit:.0f}{shared}", f"     - {fit / epochs:.2f}",
                  f"     - {np.mean([run['peak_mib'] for run in runs]):.0f}"]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default=str(RESULTS))
    args = parser.parse_args()
    root = Path(args.results)
    results = {name: load_results(root / name) for name in DATASETS if (root / name / "runs.csv").exists()}
    if not results:
        print(f"no results in {root}: run python -m skcross.benchmark --output {root}/<dataset> first")
        return 0
    out = ["# Benchmark results", "",
           "Written by `python benchmarks/compare_to_papers.py` from the folders below, each produced by the",
           "command quoted in its protocol (`python -m skcross.benchmark ...`). mAP@all unless marked; i2t = image",
           "query -> text database. Nothing was selected on a test split.", ""]
    stale = [name for name, result in results.items() if result.protocol.get("fits_predate")]
    if stale:
        out += [f"Not re-run after {results[stale[0]].protocol['fits_predate']}: {', '.join(stale)} "
                "(their tables say what predates the fixes).", ""]
    out += ["## Beside the published numbers", "",
            "| dataset | method | skcross i2t | skcross t2i | paper i2t | paper t2i | source | comparable? |",
            "|---|---|---|---|---|---|---|---|"]
    for dataset, method, i2t, t2i, source, note in PUBLISHED:
        if dataset not in results:
            continue
        rows = {row["method"]: row for row in summarize(results[dataset])}
        row = rows.get(method)
        if row is None or "error" in row:
            continue
        pm = " ± {:.3f}".format
        ours = [f"{row[k]:.3f}" + (pm(row[k + '_std']) if row["seeds"] > 1 else "") for k in ("map_i2t", "map_t2i")]
        out.append(f"| {dataset} | {method} | {ours[0]} | {ours[1]} | {i2t:.3f} | {t2i:.3f} | {source} | {note} |")
    out.append("")
    if "flickr8k" in results:
        out += [FLICKR8K_PUBLISHED_NOTE, ""]
    for dataset, result in results.items():
        out += [f"## {DATASETS[dataset]}", "", f"Folder: `{dataset}/` (CSV, plots, protocol).", "",
                to_markdown(result)]
        if (root / dataset / "pr_i2t.png").exists():  # instance-level runs draw no curves
            out += [f"![precision-recall, i2t]({dataset}/pr_i2t.png)"]
        if (root / dataset / "bench_contrastive.txt").exists():
            out += [f"Regularised CCA-64 (the dataset's reference) against the contrastive heads, dev and test, "
                    f"with the paired test: `{dataset}/bench_contrastive.txt` (`python benchmarks/bench_contrastive.py`)."]
        out.append("")
    (root / "README.md").write_text("\n".join(out))
    rows_dir = root / "method_rows"
    rows_dir.mkdir(exist_ok=True)
    from skcross.benchmark import METHODS

    for name, method in METHODS.items():
        if method.kind == "seed method":
            (rows_dir / f"{name.lower()}.rst").write_text(method_rows_rst(results, {name}))
        if method.deep:
            (rows_dir / f"{name.lower()}_cost.rst").write_text(cost_rows_rst(results, name))
    if "flickr8k" in results:
        (rows_dir / "flickr8k_contrastive.rst").write_text(instance_rows_rst(results["flickr8k"]))
    modern = {name for name, method in METHODS.items() if method.kind == "modern baseline"}
    (rows_dir / "contrastive.rst").write_text(method_rows_rst(results, modern))
    baselines = {name for name, method in METHODS.items() if method.kind == "baseline"}
    (rows_dir / "baselines.rst").write_text(method_rows_rst(results, baselines))
    print(f"wrote {root / 'README.md'} and {rows_dir}/*.rst from {', '.join(results)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
