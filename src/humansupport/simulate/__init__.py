"""`humansupport simulate`: replay the store's own history under routing policies and settings.

history.py reads arrivals, hold times and shifts from the store; engine.py is the SimPy replay; policies.py
runs the router's own code and strategies; figures.py computes each replay's figures through
`humansupport.metrics`; sweep.py runs settings in parallel processes; report.py writes md, json or html.
"""

from __future__ import annotations

from .engine import Decision, Outcome, Replay, ReplayResult
from .history import PresenceConfig, SimAgent, SimConversation, SimHistory, load_history, shifts_from_activity
from .policies import BUILTIN_POLICIES, ReplaySettings, make_policy
from .service import SimulationReport, run_simulation, simulate_history
from .sweep import SweepPoint, parse_sweep

__all__ = [
    "BUILTIN_POLICIES",
    "Decision",
    "Outcome",
    "PresenceConfig",
    "Replay",
    "ReplayResult",
    "ReplaySettings",
    "SimAgent",
    "SimConversation",
    "SimHistory",
    "SimulationReport",
    "SweepPoint",
    "load_history",
    "make_policy",
    "parse_sweep",
    "run_simulation",
    "shifts_from_activity",
    "simulate_history",
]
