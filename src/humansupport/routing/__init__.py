"""Routing: affinity, the preferred-agent router and the nightly rebalance planner/solver."""
