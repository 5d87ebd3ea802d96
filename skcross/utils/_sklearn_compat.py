"""Every private scikit-learn name skcross uses, imported in this one module.

skcross validates constructor parameters the way scikit-learn's own estimators
do (``_parameter_constraints`` checked by ``_fit_context``, with the
``Interval`` / ``StrOptions`` / ``HasMethods`` constraint objects, and
``validate_params`` for public functions). Those helpers are private in
scikit-learn, so they may change in any release. The decision (see the user
guide, "Compatibility with scikit-learn"): import them here only, bound the
supported scikit-learn versions in ``setup.cfg`` to the releases the test
suite has run against, and test this module's names at import. Vendoring the
~900 lines of ``_param_validation`` (imbalanced-learn's choice) would copy
another project's code into ours and freeze its bugs; when a new
scikit-learn release breaks a name here, this module is the one place to
adapt before raising the upper bound.
"""

from sklearn.base import _fit_context
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions, validate_params

__all__ = ["HasMethods", "Interval", "StrOptions", "_fit_context", "validate_params"]
