import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.model_selection import (
    GroupKFold,
    KFold,
    LeaveOneOut,
    PredefinedSplit,
    RepeatedStratifiedKFold,
    ShuffleSplit,
    StratifiedKFold,
    StratifiedShuffleSplit,
    TimeSeriesSplit,
    train_test_split,
)
from sklearn.utils import _safe_indexing

from skcross import PairedData, paired


@pytest.fixture
def data():
    X_img = np.arange(40, dtype=float).reshape(10, 4)
    X_txt = -np.arange(20, dtype=float).reshape(10, 2)
    return X_img, X_txt, np.arange(10) % 2


def assert_pairs_intact(X):
    # Row i of the fixture pairs image row r (values 4r..4r+3) with text row r (values -2r, -2r-1).
    np.testing.assert_array_equal(X.image[:, 0] / 4, -X.text[:, 0] / 2)


def test_basic_properties(data):
    X = paired(*data[:2])
    assert isinstance(X, PairedData)
    assert X.shape == (10, 6) and len(X) == 10 and X.ndim == 2
    assert "n_pairs=10" in repr(X)


@pytest.mark.parametrize(
    "key",
    [[3, 1], np.array([3, 1]), slice(2, 8, 2), np.arange(10) % 3 == 0, 4, -1, ([3, 1], Ellipsis),
     (slice(None), slice(None)), (np.array([0, 5]),)],
)
def test_row_indexing_keeps_pairs(data, key):
    X = paired(*data[:2])
    sub = X[key]
    assert isinstance(sub, PairedData)
    assert_pairs_intact(sub)
    rows = key[0] if isinstance(key, tuple) else key
    expected = data[0][np.atleast_1d(np.arange(10)[rows])]
    np.testing.assert_array_equal(sub.image, expected)


@pytest.mark.parametrize("key", [(slice(None), 0), (slice(None), np.array([0, 1])), "a", np.array([0.5]), np.ones(3, bool), 10])
def test_bad_keys(data, key):
    with pytest.raises(IndexError):
        paired(*data[:2])[key]


def test_construction_errors(data):
    X_img, X_txt, _ = data
    with pytest.raises(ValueError, match="same number of rows"):
        paired(X_img, X_txt[:-1])
    with pytest.raises(ValueError, match="image must be a 2-D"):
        paired(X_img[:, 0], X_txt)
    with pytest.raises(TypeError, match="cannot be turned into one array"):
        np.asarray(paired(X_img, X_txt))


def test_sparse_text(data):
    X_img, X_txt, _ = data
    X = paired(X_img, sp.coo_matrix(X_txt))
    assert sp.issparse(X.text) and X.text.format == "csr"
    sub = X[np.arange(10) > 4]
    np.testing.assert_array_equal(sub.text.toarray(), X_txt[5:])
    assert "sparse" in repr(X)
    assert isinstance(pickle.loads(pickle.dumps(X)).text, sp.csr_matrix)


def test_pickle_and_safe_indexing(data):
    X = paired(*data[:2])
    restored = pickle.loads(pickle.dumps(X))
    np.testing.assert_array_equal(restored.image, X.image)
    assert_pairs_intact(_safe_indexing(X, np.array([7, 2, 2])))


@pytest.mark.parametrize(
    "cv",
    [KFold(3, shuffle=True, random_state=0), StratifiedKFold(2), ShuffleSplit(3, random_state=0),
     StratifiedShuffleSplit(2, test_size=4, random_state=0), LeaveOneOut(), TimeSeriesSplit(3),
     RepeatedStratifiedKFold(n_splits=2, n_repeats=2, random_state=0), GroupKFold(2),
     PredefinedSplit([0, 1] * 5)],
)
def test_splitters_slice_pairs(data, cv):
    X_img, X_txt, y = data
    X = paired(X_img, X_txt)
    groups = np.arange(10) // 5 if isinstance(cv, GroupKFold) else None
    for train, test in cv.split(X, y, groups=groups):
        for idx in (train, test):
            sub = _safe_indexing(X, idx)
            np.testing.assert_array_equal(sub.image, X_img[idx])
            np.testing.assert_array_equal(sub.text, X_txt[idx])


def test_train_test_split(data):
    X_img, X_txt, y = data
    X_train, X_test, y_train, y_test = train_test_split(paired(X_img, X_txt), y, test_size=3, random_state=0)
    assert len(X_train) == 7 and len(X_test) == 3
    assert_pairs_intact(X_train)
    assert_pairs_intact(X_test)
