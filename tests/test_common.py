"""Every estimator against scikit-learn's applicable checks and skcross's own."""

import pytest

from skcross.utils import all_estimators
from skcross.utils._testing import FAST_PARAMS
from skcross.utils.estimator_checks import yield_checks

# check name -> reason, per estimator; empty today, and a reason is required to add one.
EXPECTED_FAILED_CHECKS = {}

ESTIMATORS = [cls(**FAST_PARAMS.get(name, {})) for name, cls in all_estimators()]


def test_every_estimator_has_fast_params():
    assert {name for name, _ in all_estimators()} <= set(FAST_PARAMS)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("check", list(yield_checks()), ids=lambda c: c.__name__)
def test_estimator_contract(estimator, check):
    name = type(estimator).__name__
    reason = EXPECTED_FAILED_CHECKS.get(name, {}).get(check.__name__)
    if reason:
        pytest.xfail(reason)
    check(name, estimator)
