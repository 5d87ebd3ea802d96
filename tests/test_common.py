"""The common checks, every estimator through both: skcross's own contract and scikit-learn's checks.

skcross's checks (``skcross.utils.estimator_checks``) test the cross-modal
contract on two modalities; scikit-learn's own estimator checks run over
every skcross estimator too.

A cross-modal estimator learns from two modalities (``fit(X_img, X_txt, y)``
or ``fit(PairedData, y)``), so every scikit-learn check that fits or
transforms a single feature matrix ``X`` cannot apply: those are listed in
``expected_failed_checks`` with that reason and the skcross check in
``skcross.utils.estimator_checks`` (run over every estimator by
``test_estimator_contract`` below) that tests the same property on two modalities.
imbalanced-learn runs scikit-learn's checks on its samplers the same way. The
checks that do not fit on a single ``X`` (cloning, tags, ``get_params`` /
``set_params``, ``__init__`` conventions, repr, errors before fit) must pass;
with ``xfail_strict=True`` an expected failure that starts passing is
reported too, so this list cannot go stale.
"""

import inspect

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

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


# ---------------------------------------------------------------- scikit-learn's checks
ONE_X = (
    "calls fit or transform with one feature matrix X; a cross-modal estimator takes two modalities "
    "(fit(X_img, X_txt, y) or fit(PairedData, y))"
)

# scikit-learn check -> the skcross check (skcross.utils.estimator_checks) testing that property on two modalities
COVERED_BY = {
    "check_dict_unchanged": "check_does_not_modify_input",
    "check_dont_overwrite_parameters": "check_fit_does_not_mutate_params",
    "check_dtype_object": "check_invalid_data",
    "check_estimator_sparse_array": "check_sparse_input",
    "check_estimator_sparse_matrix": "check_sparse_input",
    "check_estimator_sparse_tag": "check_sparse_input",
    "check_estimators_dtypes": "check_float32_preserved",
    "check_estimators_empty_data_messages": "check_invalid_data",
    "check_estimators_fit_returns_self": "check_fit_returns_self",
    "check_estimators_nan_inf": "check_invalid_data",
    "check_estimators_overwrite_params": "check_fit_does_not_mutate_params",
    "check_estimators_pickle": "check_pickle_roundtrip",
    "check_f_contiguous_array_estimator": "check_readonly_and_fortran_input",
    "check_fit2d_1feature": "check_invalid_data",
    "check_fit2d_1sample": "check_invalid_data",
    "check_fit2d_predict1d": "check_invalid_data",
    "check_fit_check_is_fitted": "check_not_fitted",
    "check_fit_idempotent": "check_deterministic",
    "check_fit_score_takes_y": "check_fit_forms_equivalent",
    "check_methods_sample_order_invariance": "check_paired_slicing_roundtrip",
    "check_methods_subset_invariance": "check_paired_slicing_roundtrip",
    "check_n_features_in": "check_embedding_shapes",
    "check_n_features_in_after_fitting": "check_invalid_data",
    "check_pipeline_consistency": "check_deterministic",
    "check_positive_only_tag_during_fit": None,
    "check_readonly_memmap_input": "check_readonly_and_fortran_input",
    "check_requires_y_none": "check_supervision",
    "check_transformer_data_not_an_array": None,
    "check_transformer_general": "check_transform_paired",
    "check_transformer_n_iter": None,
    "check_transformer_preserve_dtypes": "check_float32_preserved",
}


def _reason(check):
    covered = COVERED_BY[check]
    return ONE_X + (f"; skcross's {covered} tests this on two modalities" if covered else "")


def expected_failed_checks(estimator):
    """The single-X checks that apply to ``estimator`` (scikit-learn generates some only for some estimators)."""
    checks = set(COVERED_BY)
    if not estimator._requires_labels:
        checks.discard("check_requires_y_none")  # generated for supervised estimators only
    if "max_iter" not in estimator.get_params():
        checks.discard("check_transformer_n_iter")  # generated only for estimators with max_iter
    return {check: _reason(check) for check in sorted(checks)}


# scikit-learn >= 1.8 can make the expected failures strict; on 1.6-1.7 they are plain xfails
STRICT = {"xfail_strict": True} if "xfail_strict" in inspect.signature(parametrize_with_checks).parameters else {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks, **STRICT)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
