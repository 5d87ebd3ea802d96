"""skcross: scikit-learn-compatible image-text cross-modal retrieval."""

from ._paired import PairedData, paired

__version__ = "0.1.0.dev0"

__all__ = ["PairedData", "paired", "__version__"]
