"""Torch device names: shared by the deep estimators, the metrics and the index (torch is imported when used)."""

__all__ = ["resolve_device"]


def resolve_device(device):
    """``"auto"`` becomes ``"cuda"`` when a GPU is available, else ``"cpu"``.

    Parameters
    ----------
    device : str
        ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

    Returns
    -------
    device : str
        A concrete torch device name.

    Examples
    --------
    >>> from skcross.deep import resolve_device
    >>> resolve_device("cpu")
    'cpu'
    """
    import torch  # an optional dependency: needed only where a device is named

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device={device!r} is not a torch device ('auto', 'cpu', 'cuda' or 'cuda:N'): {exc}") from None
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            why = (
                f"this torch build ({torch.__version__}) has no CUDA support"
                if torch.version.cuda is None
                else "no CUDA GPU is visible to this process"
            )
            raise ValueError(
                f"device={device!r}, but {why}; use device='auto' (CUDA when available, else CPU) or device='cpu'."
            )
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise ValueError(f"device={device!r}, but only {torch.cuda.device_count()} CUDA device(s) are visible.")
    return device
