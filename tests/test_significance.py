"""Significance between methods on per-query AP: paired tests, Holm's correction, bootstrap intervals."""

import numpy as np
import pytest
from scipy import stats

from skcross.metrics import bootstrap_interval, compare_to_best, holm_adjust, paired_test


def test_paired_randomization_test_matches_an_exact_enumeration():
    """On 10 queries every one of the 2**10 sign flips can be enumerated: the Monte Carlo p-value agrees."""
    rng = np.random.default_rng(1)
    a, b = rng.random(10), rng.random(10)
    d = a - b
    signs = np.array(np.meshgrid(*[[1, -1]] * 10)).reshape(10, -1).T
    exact = np.mean(np.abs((signs * d).mean(axis=1)) >= abs(d.mean()) - 1e-12)
    assert paired_test(a, b, n_resamples=20_000, random_state=0) == pytest.approx(exact, abs=0.02)
    assert paired_test(a, a) == 1.0
    assert paired_test(a, b, test="wilcoxon") == pytest.approx(stats.wilcoxon(a, b).pvalue)


@pytest.mark.parametrize("n_queries, n_resamples", [(20, 10_000), (693, 10_000), (300, 2_500)])
def test_randomization_test_gives_scipys_p_value_and_null_distribution(n_queries, n_resamples):
    """The swaps are SciPy's and so is the null distribution, bit for bit (saved benchmarks render the same)."""
    from skcross.metrics._significance import _BATCH, _randomization_p_value

    rng = np.random.default_rng(n_queries)
    for shift in (0.0, 0.01, 0.05):
        a, b = rng.random(n_queries), rng.random(n_queries) - shift
        expected = stats.permutation_test((a, b), lambda x, y, axis: np.mean(x - y, axis=axis),
                                          permutation_type="samples", vectorized=True, n_resamples=n_resamples,
                                          alternative="two-sided", batch=_BATCH, rng=np.random.default_rng(7))
        assert _randomization_p_value(a, b, n_resamples, np.random.default_rng(7)) == float(expected.pvalue)
        assert paired_test(a, b, n_resamples=n_resamples, random_state=7) == float(expected.pvalue)


def test_holm_adjust_matches_its_definition():
    p = np.array([0.01, 0.04, 0.03, 0.005, 0.5])
    order = np.argsort(p)
    expected = np.empty(5)
    running = 0.0
    for i, j in enumerate(order):
        running = max(running, min(1.0, (5 - i) * p[j]))
        expected[j] = running
    np.testing.assert_allclose(holm_adjust(p), expected)


def test_bootstrap_interval_covers_the_mean_and_narrows_with_more_queries():
    rng = np.random.default_rng(0)
    small, large = rng.random(50), rng.random(5000)
    lo_s, hi_s = bootstrap_interval(small, random_state=0)
    lo_l, hi_l = bootstrap_interval(large, random_state=0)
    assert lo_s < small.mean() < hi_s and lo_l < large.mean() < hi_l
    assert hi_l - lo_l < (hi_s - lo_s) / 5


def test_compare_to_best_marks_ties_and_errors():
    rng = np.random.default_rng(0)
    base = rng.random(400)
    rows = {r.method: r for r in compare_to_best({"A": base + 0.05, "A'": base + 0.05 + rng.normal(0, 0.2, 400),
                                                   "B": base})}
    assert rows["A"].best and rows["A'"].tied_with_best and not rows["B"].tied_with_best
    assert rows["B"].p_adjusted >= rows["B"].p_value
    with pytest.raises(ValueError, match="same queries"):
        compare_to_best({"A": base, "B": base[:10]})
    with pytest.raises(ValueError, match="scores_a and scores_b must score the same queries"):
        paired_test(base, base[:5])
    with pytest.raises(ValueError, match="test must be one of"):
        paired_test(base, base + 1, test="t")
