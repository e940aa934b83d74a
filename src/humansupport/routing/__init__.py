"""Routing: affinity from the history store, a staged preferred-agent router, pluggable fallbacks, and the
nightly rebalance planner (`routing.rebalance`, `routing.solver`) and its applier (`routing.rebalance_apply`)."""

from .affinity import AffinityConfig, AffinityIndex, AffinityScore, wilson_lower_bound
from .rebalance_apply import JournalEntry, JournalState, RebalanceApplyReport, apply_rebalance, rebalance_lock
from .rebalance_store import IndexAffinity, plan_from_store
from .router import Candidate, Router, RouterConfig, RoutingDecision
from .strategies import LeastLoaded, RoundRobin

__all__ = [
    "AffinityConfig",
    "AffinityIndex",
    "AffinityScore",
    "Candidate",
    "IndexAffinity",
    "JournalEntry",
    "JournalState",
    "LeastLoaded",
    "RebalanceApplyReport",
    "RoundRobin",
    "Router",
    "RouterConfig",
    "RoutingDecision",
    "apply_rebalance",
    "plan_from_store",
    "rebalance_lock",
    "wilson_lower_bound",
]
