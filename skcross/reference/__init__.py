"""Unsupervised methods built on reference points, for data with few coupled pairs."""

from ._ssmal import SSMAL

__all__ = ["SSMAL"]
