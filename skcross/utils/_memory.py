"""How much memory one block of work may take: the single constant behind every block of rows.

The metrics rank one block of queries at a time, the scorers hold a whole
similarity matrix only when it fits in one block, and SSPE's label sampler
compares label sets block by block: all of them size their blocks from
:data:`WORKING_MEMORY_BYTES`. 32 MiB keeps a block's sort, gathers and
comparisons in cache (measured in ``benchmarks/bench_metrics.py``: blocks
four times larger were up to 20 % slower).
"""

WORKING_MEMORY_BYTES = 1 << 25  # 32 MiB: 4,194,304 float64 values


def rows_per_block(bytes_per_row):
    """How many rows of ``bytes_per_row`` bytes fit in :data:`WORKING_MEMORY_BYTES` (at least one).

    Parameters
    ----------
    bytes_per_row : int
        Memory one row of the block takes (e.g. ``8 * n_database`` for a row
        of float64 similarities).

    Returns
    -------
    n_rows : int

    Examples
    --------
    >>> from skcross.utils._memory import rows_per_block
    >>> rows_per_block(8 * 1_000_000)  # a row of a million float64 similarities
    4
    """
    return max(1, WORKING_MEMORY_BYTES // max(1, int(bytes_per_row)))


def fits_in_one_block(n_values, itemsize=8):
    """Whether ``n_values`` values of ``itemsize`` bytes fit in :data:`WORKING_MEMORY_BYTES`."""
    return n_values * itemsize <= WORKING_MEMORY_BYTES
