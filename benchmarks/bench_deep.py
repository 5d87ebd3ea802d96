"""DSCMR and DCCA on real features, and the skorch engine's overhead.

Table 1 (a preset of ``python -m skcross.benchmark``): DSCMR (paper defaults,
500 epochs) and DCCA on Wikipedia (SIFT128 + LDA10) and CUB-10 (GoogLeNet
1024 + doc2vec 300), mean +- std over seeds, with CCA beside them. The model
reported is the one training ends with: no epoch is ever picked on test data.
DCCA's regularisation is chosen by 3-fold CV on the training split.

Table 2: seconds per epoch of DSCMR trained through the engine versus a plain
PyTorch loop over the same module, loss, optimizer and batch size.

Run: ``python benchmarks/bench_deep.py [--smoke] [--overhead-only]``; features from
``$SKCROSS_DATA`` or ``../shared/datasets``.
"""

import sys
import time

import numpy as np
import torch
from _utils import find_data_home, parse_args, print_table

from skcross.benchmark import run_benchmark, to_markdown
from skcross.datasets import load_dataset, make_cross_modal
from skcross.deep import DSCMR, resolve_device
from skcross.deep._dscmr import DSCMRLoss, DSCMRModule


def real_data_table(data_home, smoke, device):
    """A preset of the benchmark command: DSCMR with its paper's settings, DCCA chosen by CV on train."""
    for name in ("wikipedia", "cub10"):
        d = load_dataset(name, data_home=data_home, download_if_missing=False)
        common = {"seeds": [0] if smoke else [0, 1, 2], "device": device, "quick": smoke, "progress": False,
                  "dataset_name": name}
        paper = run_benchmark(d, methods=["CCA", "DSCMR"], **common)
        searched = run_benchmark(d, methods=["DCCA"], select="paper" if smoke else "cv", **common)
        paper.runs += searched.runs
        print(f"\n{name}: DSCMR with the paper's settings; DCCA's reg/cca_reg chosen by 3-fold CV on train")
        print(to_markdown(paper))


def plain_pytorch_epochs(X_img, X_txt, targets, n_epochs, batch_size, device, seed):
    """The same DSCMR training written as a bare PyTorch loop."""
    torch.manual_seed(seed)
    module = DSCMRModule(X_img.shape[1], X_txt.shape[1], 2048, 1024, targets.shape[1]).to(device)
    loss_fn = DSCMRLoss(1e-3, 0.1)
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-4, betas=(0.5, 0.999))
    dataset = torch.utils.data.TensorDataset(*(torch.as_tensor(a) for a in (X_img, X_txt, targets)))
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True)
    start = time.perf_counter()
    for _ in range(n_epochs):
        module.train()
        for image, text, labels in loader:
            image, text, labels = image.to(device), text.to(device), labels.to(device)
            optimizer.zero_grad()
            loss = loss_fn(module(image, text), labels)
            loss.backward()
            optimizer.step()
    return (time.perf_counter() - start) / n_epochs


def overhead_table(smoke, device):
    n, epochs = (300, 2) if smoke else (2000, 20)
    X_img, X_txt, y = make_cross_modal(n, n_classes=10, n_features_image=128, n_features_text=64, random_state=0)
    X_img, X_txt = X_img.astype(np.float32), X_txt.astype(np.float32)
    targets = np.eye(10, dtype=np.float32)[y]
    rows = []
    for repeat in range(1 if smoke else 3):  # alternate the two, so machine noise hits both
        plain = plain_pytorch_epochs(X_img, X_txt, targets, epochs, 100, device, seed=repeat)
        model = DSCMR(max_epochs=epochs, verbose=0, device=device, random_state=repeat)
        start = time.perf_counter()
        model.fit(X_img, X_txt, y)
        engine = (time.perf_counter() - start) / epochs
        rows.append({"run": repeat, "plain PyTorch s/epoch": plain, "skcross engine s/epoch": engine,
                     "engine / plain": engine / plain})
    rows.append({"run": "median", **{key: float(np.median([r[key] for r in rows])) for key in list(rows[0])[1:]}})
    print(f"\nEngine overhead: DSCMR (2048/1024), {n} pairs, batch 100, {epochs} epochs, device {device}")
    print_table(rows, list(rows[0]))


def main():
    args = parse_args(__doc__.splitlines()[0], extra=("overhead-only",))
    device = resolve_device("auto")
    data_home = find_data_home()
    if args.overhead_only:
        overhead_table(args.smoke, device)
        return 0
    if data_home is None:
        print("skipped real-data table: ../shared/datasets not found")
    else:
        real_data_table(data_home, args.smoke, device)
    overhead_table(args.smoke, device)
    return 0


if __name__ == "__main__":
    sys.exit(main())
