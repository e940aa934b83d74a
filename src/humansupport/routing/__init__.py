"""Routing: affinity from the history store, a staged preferred-agent router, pluggable fallbacks, and the
nightly rebalance planner (`routing.rebalance`, `routing.solver`)."""

from .affinity import AffinityConfig, AffinityIndex, AffinityScore, wilson_lower_bound
from .router import Candidate, Router, RouterConfig, RoutingDecision
from .strategies import LeastLoaded, RoundRobin

__all__ = [
    "AffinityConfig",
    "AffinityIndex",
    "AffinityScore",
    "Candidate",
    "LeastLoaded",
    "RoundRobin",
    "Router",
    "RouterConfig",
    "RoutingDecision",
    "wilson_lower_bound",
]
