"""The defaults matrix: every estimator, default parameters, every dataset; it runs and beats chance.

Deep estimators train about 200 optimizer steps per stage (UNCSM's metric
network on 20,000 pairs instead of 300,000); their other parameters are the
defaults.
The real-data part skips, with the reason, when ../shared/datasets is absent.
``benchmarks/bench_defaults.py`` prints the same matrix with the scores.
"""

import warnings

import numpy as np
import pytest

from conftest import shared_datasets_dir
from skcross.datasets import load_dataset, make_cross_modal
from skcross.metrics import cross_modal_map, mean_average_precision
from skcross.utils import all_estimators
from skcross.utils._testing import few_iterations_params

ESTIMATORS = all_estimators()
REAL = [
    "wikipedia_sift128_lda10",
    "wikipedia_sift128_minilm384",
    "cub10_googlenet1024_doc2vec300",
    "pascal_sentence_vgg19_test100_resplit",
]


def default_estimator(cls, n_samples):
    """Default parameters; deep methods train about 200 steps per stage (see few_iterations_params)."""
    est = cls()
    return est.set_params(**few_iterations_params(est, n_samples))


def random_ranking_map(y):
    n = len(y)
    return np.mean([mean_average_precision(np.random.RandomState(s).rand(n, n), y, y) for s in range(5)])


def fit_and_score(cls, train, test):
    est = default_estimator(cls, len(train[0]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # e.g. n_components clipped to the rank: allowed
        est.fit(*train)
    return cross_modal_map(est, *test)


def _synthetic(multilabel):
    X_img, X_txt, y = make_cross_modal(300, n_classes=4, multilabel=multilabel, random_state=0)
    return (X_img[:200], X_txt[:200], y[:200]), (X_img[200:], X_txt[200:], y[200:])


@pytest.mark.parametrize("multilabel", [False, True], ids=["single-label", "multi-label"])
@pytest.mark.parametrize("name, cls", ESTIMATORS, ids=[name for name, _ in ESTIMATORS])
def test_defaults_beat_chance_on_synthetic_data(name, cls, multilabel):
    train, test = _synthetic(multilabel)
    if multilabel and not cls._allows_multilabel:
        with pytest.raises(ValueError, match="single-label"):
            default_estimator(cls, len(train[0])).fit(*train)
        return
    scores = fit_and_score(cls, train, test)
    chance = random_ranking_map(test[2])
    assert scores["i2t"] > chance + 0.02 and scores["t2i"] > chance + 0.02, (name, scores, chance)


@pytest.fixture(scope="module", params=REAL)
def real_dataset(request):
    path = shared_datasets_dir()
    if not (path / f"{request.param}.npz").exists():
        pytest.skip(f"real benchmark features not found in {path} (set SKCROSS_SHARED_DATASETS)")
    d = load_dataset(request.param, data_home=path, download_if_missing=False)
    return request.param, (d.X_img_train, d.X_txt_train, d.y_train), (d.X_img_test, d.X_txt_test, d.y_test)


@pytest.mark.parametrize("name, cls", ESTIMATORS, ids=[name for name, _ in ESTIMATORS])
def test_defaults_beat_chance_on_real_data(name, cls, real_dataset):
    dataset, train, test = real_dataset
    scores = fit_and_score(cls, train, test)
    chance = random_ranking_map(test[2])
    assert scores["mean"] > chance, (name, dataset, scores, chance)
