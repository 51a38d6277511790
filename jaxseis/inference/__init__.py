"""Bayesian location of an event: priors, the global stage, NUTS, nested sampling, Laplace.

One entry point, :func:`locate`, gives the posterior of the event parameters
``(x, y, z, t0, log_amplitude)`` (:data:`PARAMS`) under a uniform :class:`BoxPrior` for any
:class:`~jaxseis.likelihood.Likelihood`:

* :mod:`~jaxseis.inference.prior`: the prior, its free parameters and unconstrained coordinates;
* :mod:`~jaxseis.inference.global_stage`: the dominant modes (against cycle skipping);
* :mod:`~jaxseis.inference.nuts`: NUTS in the modes' whitened coordinates (BlackJAX);
* :mod:`~jaxseis.inference.nested`: nested sampling with the evidence (jaxns);
* :mod:`~jaxseis.inference.laplace`: the maximum and the inverse Hessian;
* :mod:`~jaxseis.inference.importance`: the Laplace approximation reweighed to the posterior;
* :mod:`~jaxseis.inference.summary`: InferenceData, summaries, tables;
* :mod:`~jaxseis.inference.diagnostics`: convergence problems (:func:`diagnose`);
* :mod:`~jaxseis.inference.programs`: the compiled programs, run in pieces with progress;
* :mod:`~jaxseis.inference.posterior`: :func:`locate`.
"""

from jaxseis.inference.diagnostics import ESS_MIN, RHAT_MAX, ConvergenceWarning, diagnose
from jaxseis.inference.global_stage import Bank, GlobalStage
from jaxseis.inference.importance import ImportanceOptions
from jaxseis.inference.laplace import LaplaceOptions
from jaxseis.inference.nested import NestedOptions
from jaxseis.inference.nuts import NutsOptions
from jaxseis.inference.posterior import METHODS, locate
from jaxseis.inference.prior import (
    DEFAULT_LOG_AMPLITUDE_RANGE,
    DEFAULT_T0_WINDOW_S,
    BoxPrior,
    Space,
    event_prior,
    paper_prior,
    validate_prior,
)
from jaxseis.inference.summary import (
    posterior_draws,
    relative_magnitude,
    summary_dict,
    summary_table,
)
from jaxseis.likelihood.base import PARAMS

__all__ = [
    "DEFAULT_LOG_AMPLITUDE_RANGE",
    "DEFAULT_T0_WINDOW_S",
    "ESS_MIN",
    "METHODS",
    "PARAMS",
    "RHAT_MAX",
    "Bank",
    "BoxPrior",
    "ConvergenceWarning",
    "GlobalStage",
    "ImportanceOptions",
    "LaplaceOptions",
    "NestedOptions",
    "NutsOptions",
    "Space",
    "diagnose",
    "event_prior",
    "locate",
    "paper_prior",
    "posterior_draws",
    "relative_magnitude",
    "summary_dict",
    "summary_table",
    "validate_prior",
]
