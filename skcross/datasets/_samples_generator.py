"""Synthetic image-text data with a known shared class structure."""

import numbers

import numpy as np
from sklearn.utils import check_random_state

from ..utils._sklearn_compat import Interval, validate_params

__all__ = ["make_cross_modal"]


@validate_params(
    {
        "n_samples": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_classes": [Interval(numbers.Integral, 2, None, closed="left")],
        "n_features_image": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_features_text": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_latent": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_private": [Interval(numbers.Integral, 0, None, closed="left")],
        "class_sep": [Interval(numbers.Real, 0, None, closed="left")],
        "noise": [Interval(numbers.Real, 0, None, closed="left")],
        "multilabel": ["boolean"],
        "n_labels": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_texts_per_image": [Interval(numbers.Integral, 1, None, closed="left")],
        "return_groups": ["boolean"],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_cross_modal(
    n_samples=500,
    n_classes=5,
    *,
    n_features_image=64,
    n_features_text=32,
    n_latent=8,
    n_private=4,
    class_sep=2.0,
    noise=0.3,
    multilabel=False,
    n_labels=2,
    n_texts_per_image=1,
    return_groups=False,
    random_state=None,
):
    """Generate paired image-text features sharing a class structure.

    Each pair has a latent code ``z``: the mean of its classes' centres plus
    pair-specific variation shared by both modalities. Each modality also has
    private factors the other cannot see. The image features are
    ``tanh([z, private_img] W1) W2 + noise``; the text features are
    ``relu([z, private_txt] W3) W4 + noise``, with independent random weights,
    so the two modalities are related by a non-linear map that a linear
    method such as CCA captures only in part, while a label-aware or
    non-linear method can do better.

    Parameters
    ----------
    n_samples : int, default=500
        Number of pairs.
    n_classes : int, default=5
        Number of classes.
    n_features_image : int, default=64
        Width of the image features.
    n_features_text : int, default=32
        Width of the text features.
    n_latent : int, default=8
        Dimension of the shared latent code.
    n_private : int, default=4
        Number of modality-specific latent factors (per modality).
    class_sep : float, default=2.0
        Standard deviation of the class centres; larger separates classes more.
    noise : float, default=0.3
        Standard deviation of the additive Gaussian noise on the features.
    multilabel : bool, default=False
        Return a 0/1 indicator matrix with 1 to ``n_labels`` labels per pair
        instead of one class per pair, shaped like real tag data: label
        frequencies follow Zipf's law (label ``j`` is drawn with probability
        proportional to ``1 / (j + 1)``, so the last labels are rare); the
        number of labels per pair varies (1 plus a binomial(``n_labels - 1``,
        0.5) draw); and labels co-occur: the labels fall into random groups of
        three, and each label after a pair's first comes from its first
        label's group with probability 0.6 (otherwise by frequency).
    n_labels : int, default=2
        Maximum number of labels per pair when ``multilabel=True``.
    n_texts_per_image : int, default=1
        Captions per image, as in COCO and Flickr30k (five). Each caption of
        an image has the image's latent code plus a variation of its own
        (standard deviation 0.5, half the variation between images), so an
        image's captions resemble each other more than the other images' of
        its class. The data come as pairs, one row per caption with its image
        repeated (``n_samples * n_texts_per_image`` rows), and need
        ``return_groups=True`` to tell which rows share an image.
    return_groups : bool, default=False
        Also return ``groups``, the image of each pair (what instance-level
        metrics and group-aware splitters such as scikit-learn's
        ``GroupKFold`` need).
    random_state : int, RandomState instance or None, default=None
        Seed for reproducible output.

    Returns
    -------
    X_img : ndarray of shape (n_pairs, n_features_image)
        Image features; ``n_pairs = n_samples * n_texts_per_image``, each
        image repeated once per caption.
    X_txt : ndarray of shape (n_pairs, n_features_text)
        Text features; row ``i`` is paired with ``X_img[i]``.
    y : ndarray of shape (n_pairs,) or (n_pairs, n_classes)
        Class labels in ``range(n_classes)``, or the indicator matrix (an
        image's captions share its labels).
    groups : ndarray of shape (n_pairs,)
        Only with ``return_groups=True``: the image (in ``range(n_samples)``)
        each pair's text describes.

    Examples
    --------
    >>> from skcross.datasets import make_cross_modal
    >>> X_img, X_txt, y = make_cross_modal(100, n_classes=4, random_state=0)
    >>> X_img.shape, X_txt.shape, sorted(set(y.tolist()))
    ((100, 64), (100, 32), [0, 1, 2, 3])
    >>> _, _, Y = make_cross_modal(50, multilabel=True, random_state=0)
    >>> Y.shape, bool(Y.sum(axis=1).min() >= 1)
    ((50, 5), True)

    Five captions per image, for instance-level retrieval:

    >>> X_img, X_txt, y, groups = make_cross_modal(100, n_texts_per_image=5, return_groups=True, random_state=0)
    >>> X_img.shape, X_txt.shape, groups[:7].tolist()
    ((500, 64), (500, 32), [0, 0, 0, 0, 0, 1, 1])
    """
    if multilabel and n_labels > n_classes:
        raise ValueError(f"n_labels={n_labels} cannot exceed n_classes={n_classes}.")
    if n_texts_per_image > 1 and not return_groups:
        raise ValueError(
            f"n_texts_per_image={n_texts_per_image} repeats each image once per caption; without the groups "
            "nothing tells which rows show the same image. Pass return_groups=True and take "
            "X_img, X_txt, y, groups = make_cross_modal(...)."
        )
    rng = check_random_state(random_state)
    centres = rng.normal(scale=class_sep, size=(n_classes, n_latent))
    if multilabel:
        y = _multilabel_indicator(n_samples, n_classes, n_labels, rng)
        z = (y @ centres) / y.sum(axis=1, keepdims=True)
    else:
        y = np.arange(n_samples) % n_classes
        rng.shuffle(y)
        z = centres[y]
    z = z + rng.normal(size=(n_samples, n_latent))

    def modality(activation, n_features, codes):
        h = np.hstack([codes, rng.normal(size=(len(codes), n_private))])
        W1 = rng.normal(size=(h.shape[1], 2 * n_latent)) / np.sqrt(h.shape[1])
        W2 = rng.normal(size=(2 * n_latent, n_features)) / np.sqrt(2 * n_latent)
        return activation(h @ W1) @ W2 + rng.normal(scale=noise, size=(len(codes), n_features))

    X_img = modality(np.tanh, n_features_image, z)
    groups = np.repeat(np.arange(n_samples), n_texts_per_image)
    if n_texts_per_image > 1:  # each caption: its image's code plus a variation of its own
        z = z[groups] + rng.normal(scale=0.5, size=(len(groups), n_latent))
        X_img, y = X_img[groups], y[groups]
    X_txt = modality(lambda a: np.maximum(a, 0.0), n_features_text, z)
    return (X_img, X_txt, y, groups) if return_groups else (X_img, X_txt, y)


def _multilabel_indicator(n_samples, n_classes, n_labels, rng):
    """Tag-like labels: Zipf frequencies, a varying number per item, co-occurring groups of three."""
    frequency = 1.0 / np.arange(1, n_classes + 1)
    frequency /= frequency.sum()
    group = np.empty(n_classes, dtype=np.int64)
    group[rng.permutation(n_classes)] = np.arange(n_classes) // 3
    counts = 1 + rng.binomial(n_labels - 1, 0.5, size=n_samples)
    first = rng.choice(n_classes, size=n_samples, p=frequency)
    y = np.zeros((n_samples, n_classes), dtype=np.uint8)
    y[np.arange(n_samples), first] = 1
    for i in np.flatnonzero(counts > 1):
        for _ in range(counts[i] - 1):
            free = y[i] == 0
            partners = free & (group == group[first[i]])
            if partners.any() and rng.random_sample() < 0.6:
                y[i, rng.choice(np.flatnonzero(partners))] = 1
            else:
                p = np.where(free, frequency, 0.0)
                y[i, rng.choice(n_classes, p=p / p.sum())] = 1
    return y
