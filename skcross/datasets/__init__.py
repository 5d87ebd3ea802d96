"""Dataset loaders, fetchers and the synthetic generator."""

from ._base import DATASETS, fetch_dataset, get_data_home, load_dataset
from ._samples_generator import make_cross_modal

__all__ = ["DATASETS", "fetch_dataset", "get_data_home", "load_dataset", "make_cross_modal"]
