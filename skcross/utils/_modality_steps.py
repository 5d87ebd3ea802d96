"""A pipeline's transformers applied to one modality at a time: the one place that peels a Pipeline."""

from .validation import _is_passthrough

__all__ = ["modality_steps", "through_steps"]


def modality_steps(steps):
    """The transformers of ``steps`` (a Pipeline's ``(name, step)`` list, last one excluded), passthrough dropped.

    Each must transform one modality alone (``transform_image`` and
    ``transform_text``), as :class:`~skcross.preprocessing.ModalityTransformer`
    does; anything else is refused with a message saying so.
    """
    transformers = []
    for name, step in steps[:-1]:
        if _is_passthrough(step):
            continue
        if not (hasattr(step, "transform_image") and hasattr(step, "transform_text")):
            raise TypeError(
                f"Pipeline step {name!r} ({type(step).__name__}) cannot transform one modality at a time "
                "(it has no transform_image/transform_text); wrap per-modality transformers in "
                "skcross.preprocessing.ModalityTransformer."
            )
        transformers.append(step)
    return transformers


def through_steps(transformers, X, modality):
    """``X`` of one ``modality`` ("image" or "text") through each transformer in turn."""
    for step in transformers:
        X = getattr(step, f"transform_{modality}")(X)
    return X
