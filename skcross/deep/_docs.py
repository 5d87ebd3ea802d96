"""The docstring paragraphs every deep estimator shares, written once.

A deep estimator's docstring holds a line ``{name}`` (alone, indented as its
neighbours) where a shared paragraph goes; :func:`fill_shared_docs` puts the
paragraph there when the class is defined, so ``help()``, the API pages and
numpydoc see the whole text. Only such whole-line placeholders are filled:
braces elsewhere (``{"adam", "sgd"}``) are left alone, and a placeholder with
no paragraph fails at import.
"""

import re
import textwrap

__all__ = ["SHARED_DOCS", "fill_shared_docs"]

SHARED_DOCS = {
    "optimizer_params": """\
optimizer_params : dict, default=None
    Extra optimizer arguments.""",
    "device": """\
device : str, default="auto"
    "auto" trains on CUDA when available, else on the CPU.""",
    "verbose": """\
verbose : int, default=1
    0 is silent; 1 shows one compact progress bar per training stage
    (epochs done, last training loss), removed when the stage ends; 2
    prints skorch's epoch table.""",
    "device_": """\
device_ : str
    Device used.""",
    "n_features_in_": """\
n_features_image_in_ : int
    Number of image features seen in ``fit``.
n_features_text_in_ : int
    Number of text features seen in ``fit``.""",
}

_PLACEHOLDER = re.compile(r"^(?P<indent>[ ]*)\{(?P<name>\w+)\}$", re.MULTILINE)


def fill_shared_docs(cls):
    """Class decorator: replace each docstring line ``{name}`` by ``SHARED_DOCS[name]``, indented alike.

    Parameters
    ----------
    cls : type
        A class whose docstring may hold placeholder lines.

    Returns
    -------
    cls : type
        The same class, its ``__doc__`` filled in.

    Raises
    ------
    KeyError
        When a placeholder names no shared paragraph.

    Examples
    --------
    >>> from skcross.deep._docs import fill_shared_docs
    >>> @fill_shared_docs
    ... class Net:
    ...     '''A net.
    ...
    ...     Parameters
    ...     ----------
    ...     {device}
    ...     '''
    >>> print(Net.__doc__.splitlines()[-3])
        device : str, default="auto"
    """
    if cls.__doc__ is None:  # python -OO strips docstrings
        return cls

    def paragraph(match):
        name = match.group("name")
        if name not in SHARED_DOCS:
            raise KeyError(f"{cls.__name__}'s docstring asks for the shared paragraph {{{name}}}, which "
                           f"skcross.deep._docs.SHARED_DOCS does not hold; it holds {sorted(SHARED_DOCS)}.")
        return textwrap.indent(SHARED_DOCS[name], match.group("indent"))

    cls.__doc__ = _PLACEHOLDER.sub(paragraph, cls.__doc__)
    return cls
