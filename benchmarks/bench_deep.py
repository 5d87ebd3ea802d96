"""DSCMR and DCCA on real features, and the skorch engine's overhead.

Table 1: DSCMR (paper defaults, 500 epochs) and DCCA on Wikipedia
(SIFT128 + LDA10) and CUB-10 (GoogLeNet 1024 + doc2vec 300), mean +- std over
seeds, with CCA and the datasets' label-aware reference beside them. The model
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
from _utils import evaluate, find_data_home, parse_args, print_table
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from skcross import paired
from skcross.datasets import load_dataset, make_cross_modal
from skcross.deep import DCCA, DSCMR, resolve_device
from skcross.deep._dscmr import DSCMRLoss, DSCMRModule
from skcross.linear import CCA
from skcross.metrics import cross_modal_map, get_scorer


def dcca_search(d, smoke, device):
    grid = {"reg": [1e-2, 1.0], "cca_reg": [1e-3, 1.0]}
    base = DCCA(
        10, layer_sizes=(512,), max_epochs=3 if smoke else 50, batch_size=400, verbose=0, device=device, random_state=0
    )
    search = GridSearchCV(base, grid, scoring=get_scorer("map"), cv=StratifiedKFold(3, shuffle=True, random_state=0))
    search.fit(paired(d.X_img_train, d.X_txt_train), d.y_train)
    return search.best_params_, base.get_params()


def real_data_table(data_home, smoke, device):
    seeds = [0] if smoke else [0, 1, 2]
    rows = []
    for name in ("wikipedia", "cub10"):
        d = load_dataset(name, data_home=data_home, download_if_missing=False)
        if smoke:
            d.X_img_train, d.X_txt_train, d.y_train = d.X_img_train[:200], d.X_txt_train[:200], d.y_train[:200]
        train, test = (d.X_img_train, d.X_txt_train, d.y_train), (d.X_img_test, d.X_txt_test, d.y_test)
        unsupervised = train[:2] + (None,)
        reference = d.metadata["sanity_check"]
        if "sm_logreg" in reference:
            sm = reference["sm_logreg"]["i2t"], reference["sm_logreg"]["t2i"]
        else:
            sm = reference["sm_logreg_i2t"], reference["sm_logreg_t2i"]
        rows.append({"dataset": name, "method": "label-aware matcher (dataset JSON)", "i2t": sm[0], "t2i": sm[1]})
        for reg in (1e-3, 10.0):
            row = evaluate(lambda seed, reg=reg: CCA(10, reg=reg), unsupervised, test, [0])[""]
            rows.append({"dataset": name, "method": f"CCA(10, reg={reg:g})", **row})
        epochs = 2 if smoke else 500
        row = evaluate(
            lambda seed: DSCMR(max_epochs=epochs, verbose=0, device=device, random_state=seed), train, test, seeds
        )[""]
        rows.append({"dataset": name, "method": f"DSCMR (paper defaults, {epochs} epochs)", **row})
        best, params = dcca_search(d, smoke, device)
        params.update(best)
        row = evaluate(lambda seed: DCCA(**{**params, "random_state": seed}), unsupervised, test, seeds)[""]
        rows.append({"dataset": name, "method": f"DCCA (512, CV: {best})", **row})
    print(f"mAP@all on the test split, mean +- std over seeds {seeds}; device {device}")
    print_table(rows, ["dataset", "method", "i2t", "t2i", "mean", "epochs", "fit s", "s/epoch"])


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
