"""Dataset loaders, fetchers and the synthetic generator."""

from ._base import DATASETS, fetch_dataset, get_data_home, load_dataset, load_wikipedia
from ._raw import load_image_captions
from ._samples_generator import make_cross_modal

__all__ = ["DATASETS", "fetch_dataset", "get_data_home", "load_dataset", "load_image_captions", "load_wikipedia", "make_cross_modal"]
