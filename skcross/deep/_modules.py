"""Network building blocks of the deep methods: the one MLP builder and the two-tower module.

Every deep method maps each modality through its own network (a *tower*)
into a common space. :class:`TwoTowerModule` is that shape: ``embed_image``
and ``embed_text`` run one tower each and ``forward(image, text)`` returns
both embeddings. A method whose loss needs more (a classifier, a label
reconstruction, a second branch) subclasses it and extends ``forward``.
"""

from torch import nn

__all__ = ["TwoTowerModule", "mlp"]


def mlp(sizes, activation, last_activation=True, dropout=None):
    """A multilayer perceptron: ``Linear`` layers of ``sizes`` (input width first), each followed by
    ``activation()`` (the last one only when ``last_activation``) and, with ``dropout``, each hidden
    layer's activation by ``Dropout(dropout)``; the deep methods' one MLP builder."""
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        hidden = i < len(sizes) - 2
        if hidden or last_activation:
            layers.append(activation())
        if hidden and dropout is not None:
            layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class TwoTowerModule(nn.Module):
    """One network per modality into a common space.

    Parameters
    ----------
    image_tower, text_tower : nn.Module
        Map a batch of image (text) features to its embeddings. They may
        share layers (the same module object in both), as DSCMR's last layer.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from skcross.deep._modules import TwoTowerModule, mlp
    >>> module = TwoTowerModule(mlp([5, 4, 2], nn.Tanh), mlp([3, 4, 2], nn.Tanh))
    >>> u, v = module(torch.zeros(6, 5), torch.zeros(6, 3))
    >>> tuple(u.shape), tuple(v.shape)
    ((6, 2), (6, 2))
    """

    def __init__(self, image_tower, text_tower):
        super().__init__()
        self.image_tower = image_tower
        self.text_tower = text_tower

    def embed_image(self, image):
        return self.image_tower(image)

    def embed_text(self, text):
        return self.text_tower(text)

    def forward(self, image, text):
        return self.embed_image(image), self.embed_text(text)
