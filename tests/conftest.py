import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_datasets_dir():
    """The shared benchmark features: $SKCROSS_SHARED_DATASETS or ../shared/datasets."""
    return Path(os.environ.get("SKCROSS_SHARED_DATASETS", REPO_ROOT.parent / "shared" / "datasets"))


@pytest.fixture
def shared_datasets():
    path = shared_datasets_dir()
    if not (path / "wikipedia_sift128_lda10.npz").exists():
        pytest.skip(
            f"real benchmark features not found in {path} (set SKCROSS_SHARED_DATASETS to the "
            "folder holding the .npz/.json files to run this test)"
        )
    return path


@pytest.fixture(scope="session")
def small_data():
    """120 image-text pairs of 4 classes (``make_cross_modal``, seed 0), for tests that need only some data."""
    from skcross.datasets import make_cross_modal

    return make_cross_modal(120, n_classes=4, random_state=0)
