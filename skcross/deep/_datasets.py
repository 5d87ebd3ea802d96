"""Training sets of the deep methods: torch ``Dataset`` views that gather items on access.

Each stores indices, not copies: :class:`ClassMatchedDataset` pairs images
and texts by class (unpaired training), :class:`PairIndexDataset` serves
image-text pairs given by index, and :class:`SampledRound` serves one of
SSPE's sampling rounds.
"""

import numpy as np
import torch

__all__ = ["ClassMatchedDataset", "PairIndexDataset", "SampledRound"]


class ClassMatchedDataset(torch.utils.data.Dataset):
    """Image-text training items matched by class, not by pairing.

    Each epoch enumerates every item of the larger modality once (the
    images when both have the same size) and gives each one a partner drawn
    uniformly at random, afresh at every access, among the items of the other
    modality with the same class. A batch therefore holds as many images as
    texts with the same class labels, and the two modalities need no pairs
    and may have different sizes. Item ``k`` is ``({"image": x, "text": t},
    class_code)``.

    Parameters
    ----------
    X_img, X_txt : ndarray
        Features (or image tensors) of each modality, float32.
    codes_img, codes_txt : ndarray of int
        Class codes of the rows of each modality; every class must occur in both.
    seed : int
        Seeds the draws of partners.
    """

    def __init__(self, X_img, X_txt, codes_img, codes_txt, seed):
        self.X_img, self.X_txt = X_img, X_txt
        self.codes_img, self.codes_txt = codes_img, codes_txt
        self.images_lead = len(X_img) >= len(X_txt)
        self.codes = codes_img if self.images_lead else codes_txt
        other = codes_txt if self.images_lead else codes_img
        order = np.argsort(other, kind="stable")
        bounds = np.searchsorted(other[order], np.arange(self.codes.max() + 2))
        self._members = [order[bounds[c] : bounds[c + 1]] for c in range(len(bounds) - 1)]
        self.rng = np.random.default_rng(seed)

    def __len__(self):
        return len(self.codes)

    def __getitem__(self, k):
        code = self.codes[k]
        members = self._members[code]
        partner = members[self.rng.integers(len(members))]
        i, j = (k, partner) if self.images_lead else (partner, k)
        return {"image": self.X_img[i], "text": self.X_txt[j]}, code


class PairIndexDataset(torch.utils.data.Dataset):
    """Image-text pairs ``(Z_img[i], Z_txt[j])`` given by index, with a 0/1 similarity target."""

    def __init__(self, Z_img, Z_txt, image_index, text_index, targets):
        self.Z_img, self.Z_txt = Z_img, Z_txt
        self.image_index, self.text_index, self.targets = image_index, text_index, targets

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, k):
        return {"image": self.Z_img[self.image_index[k]], "text": self.Z_txt[self.text_index[k]]}, self.targets[k]


class SampledRound(torch.utils.data.Dataset):
    """One round of Algorithm 1's samples, as training items of one image anchor and one text anchor.

    Item ``i`` holds, for its image anchor and its text anchor, the
    features of the anchor and of its samples gathered on access (only
    indices are stored): ``own`` (anchor, semantic same-modality positives
    and negatives, feature-graph positives and negatives) in the anchor's
    modality, ``other`` (semantic other-modality positives and negatives)
    in the other modality, and a mask of the samples that exist. The target
    is both anchors' label vectors.
    """

    def __init__(self, X, Z, anchors, own, other, masks):
        self.X, self.Z = X, Z  # per modality: features, label vectors
        self.anchors, self.own, self.other, self.masks = anchors, own, other, masks

    def __len__(self):
        return len(self.anchors[0])

    def __getitem__(self, i):
        X_img, X_txt = self.X
        item = {
            "image_own": X_img[self.own[0][i]],
            "image_other": X_txt[self.other[0][i]],
            "image_mask": self.masks[0][i],
            "text_own": X_txt[self.own[1][i]],
            "text_other": X_img[self.other[1][i]],
            "text_mask": self.masks[1][i],
        }
        return item, np.stack([self.Z[0][self.anchors[0][i]], self.Z[1][self.anchors[1][i]]])
