"""Rate budgets every process of an account shares: rows in PostgreSQL, a locked file beside a SQLite store.

The HTTP layer defines the `RateBudget` protocol and never imports the store; `Store.rate_budget()` hands one
of these to `build_adapter(..., rate_budget=...)`, so webhook replicas, sync and rebalance jobs on one store
spend from one window per account.

- **PostgreSQL:** one `rate_budgets` row per key, locked `FOR UPDATE` while a process decides, and the window's
  spends in `rate_budget_spends`; times come from the database (`clock_timestamp()`), so machines whose
  clocks disagree still share one window. A decision is one short transaction.
- **SQLite:** the budget is per host (a SQLite store is one machine's file). It lives in a JSON file next to
  the store, `<store>.ratebudget`, under an exclusive `flock`; not in the store itself, because every spend
  would then take the store's write lock, and the webhook receiver's group commits would wait behind it (and
  SQLite's busy handler waits in sleeps of up to 100 ms). The lock is released by the kernel when a process
  dies, so a killed process never leaves it held.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import sqlalchemy as sa

from ..clock import SYSTEM_CLOCK, Clock
from ..errors import StoreError
from ..http.ratelimit import Spend, drain_spend, plan_spend

if TYPE_CHECKING:
    from .store import Store

__all__ = ["BUDGET_FILE_SUFFIX", "FileRateBudget", "PostgresRateBudget"]

BUDGET_FILE_SUFFIX: Final = ".ratebudget"

_LOCK_ROW: Final = sa.text(
    "SELECT extract(epoch from clock_timestamp()), blocked_until FROM rate_budgets WHERE key = :key FOR UPDATE"
)
_READ_ROW: Final = sa.text(
    "SELECT extract(epoch from clock_timestamp()), blocked_until FROM rate_budgets WHERE key = :key"
)
_PRUNE: Final = sa.text("DELETE FROM rate_budget_spends WHERE key = :key AND at <= :cut")
_USED: Final = sa.text("SELECT coalesce(sum(cost), 0), count(*) FROM rate_budget_spends WHERE key = :key AND at > :cut")


class PostgresRateBudget:
    """Spends in the store's `rate_budget_spends`, one locked `rate_budgets` row per key, on the database clock."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._known: set[str] = set()

    def __repr__(self) -> str:
        return f"PostgresRateBudget({self._store.url!r})"

    @contextmanager
    def _locked(self, key: str) -> Iterator[tuple[sa.Connection, float, float | None]]:
        """A transaction holding the key's row: (connection, database now in epoch seconds, blocked_until)."""
        with self._store.begin() as conn:
            if key not in self._known:
                conn.execute(
                    sa.text("INSERT INTO rate_budgets (key) VALUES (:key) ON CONFLICT (key) DO NOTHING"), {"key": key}
                )
                self._known.add(key)
            row = conn.execute(_LOCK_ROW, {"key": key}).one()
            yield conn, float(row[0]), None if row[1] is None else float(row[1])

    @staticmethod
    def _live(conn: sa.Connection, key: str, cut: float) -> list[Spend]:
        conn.execute(
            sa.text("DELETE FROM rate_budget_spends WHERE key = :key AND at <= :cut"), {"key": key, "cut": cut}
        )
        rows = conn.execute(
            sa.text("SELECT at, cost FROM rate_budget_spends WHERE key = :key ORDER BY at"), {"key": key}
        ).all()
        return [Spend(float(at), float(cost)) for at, cost in rows]

    @staticmethod
    def _record(conn: sa.Connection, key: str, spend: Spend) -> None:
        conn.execute(
            sa.text("INSERT INTO rate_budget_spends (key, at, cost) VALUES (:key, :at, :cost)"),
            {"key": key, "at": spend.at, "cost": spend.cost},
        )

    def spend(self, key: str, *, cost: float, limit: float, window: float) -> float:
        with self._locked(key) as (conn, now, blocked_until):
            if blocked_until is not None and blocked_until > now:
                return blocked_until - now
            used = conn.execute(
                sa.text(
                    "SELECT coalesce(sum(cost), 0), count(*) FROM rate_budget_spends WHERE key = :key AND at > :cut"
                ),
                {"key": key, "cut": now - window},
            ).one()
            if int(used[1]) == 0 or float(used[0]) + cost <= limit + 1e-9:
                self._record(conn, key, Spend(now, cost))
                if int(used[1]) % 50 == 0:  # prune the aged-out spends now and then, not on every request
                    conn.execute(_PRUNE, {"key": key, "cut": now - window})
                return 0.0
            live = self._live(conn, key, now - window)
            return plan_spend(live, now=now, cost=cost, limit=limit, window=window)[1]

    def drain(
        self, key: str, *, remaining: float, limit: float, window: float, expires_in: float | None = None
    ) -> None:
        with self._locked(key) as (conn, now, _):
            live = self._live(conn, key, now - window)
            extra = drain_spend(live, now=now, remaining=remaining, limit=limit, window=window, expires_in=expires_in)
            if extra is not None:
                self._record(conn, key, extra)

    def block(self, key: str, seconds: float) -> None:
        if not (seconds > 0 and math.isfinite(seconds)):
            return
        with self._locked(key) as (conn, now, blocked_until):
            until = max(blocked_until or 0.0, now + seconds)
            conn.execute(
                sa.text("UPDATE rate_budgets SET blocked_until = :until WHERE key = :key"), {"key": key, "until": until}
            )

    def blocked_for(self, key: str) -> float:
        with self._store.connect() as conn:
            row = conn.execute(_READ_ROW, {"key": key}).first()
        if row is None or row[1] is None:
            return 0.0
        return max(0.0, float(row[1]) - float(row[0]))


class FileRateBudget:
    """Spends in a JSON file under an exclusive `flock`: one budget per key for every process on this host.

    Times are the clock's wall time (`now()`), the one clock the processes of a host share.
    """

    def __init__(self, path: str | os.PathLike[str], *, clock: Clock = SYSTEM_CLOCK) -> None:
        self._path = Path(path)
        self._clock = clock
        self._thread_lock = threading.Lock()  # flock excludes processes, not threads sharing the descriptor

    def __repr__(self) -> str:
        return f"FileRateBudget({str(self._path)!r})"

    @property
    def path(self) -> Path:
        return self._path

    @contextmanager
    def _state(self, *, write: bool) -> Iterator[dict[str, Any]]:
        with self._thread_lock:
            try:
                fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as exc:
                raise StoreError(
                    f"cannot open the rate budget file {self._path}: {exc.strerror}; check the store directory's "
                    "permissions"
                ) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX if write else fcntl.LOCK_SH)
                with os.fdopen(os.dup(fd), "r+", encoding="utf-8") as fh:
                    text = fh.read()
                    try:
                        state = json.loads(text) if text.strip() else {}
                    except ValueError:
                        state = {}  # a torn or foreign file: start a fresh window rather than fail the job
                    if not isinstance(state, dict):
                        state = {}
                    yield state
                    if write:
                        fh.seek(0)
                        fh.truncate()
                        fh.write(json.dumps(state, separators=(",", ":")))
                        fh.flush()
            finally:
                os.close(fd)  # closing the last descriptor releases the flock

    @staticmethod
    def _entry(state: dict[str, Any], key: str) -> dict[str, Any]:
        entry = state.setdefault(key, {})
        if not isinstance(entry, dict):
            entry = state[key] = {}
        return entry

    @staticmethod
    def _spends(entry: dict[str, Any]) -> list[Spend]:
        raw = entry.get("spends")
        out = []
        for item in raw if isinstance(raw, list) else []:
            if isinstance(item, list) and len(item) == 2:
                out.append(Spend(float(item[0]), float(item[1])))
        return out

    def _now(self) -> float:
        return self._clock.now().timestamp()

    def spend(self, key: str, *, cost: float, limit: float, window: float) -> float:
        with self._state(write=True) as state:
            now = self._now()
            entry = self._entry(state, key)
            blocked = float(entry.get("blocked_until") or 0.0) - now
            if blocked > 0:
                return blocked
            live, wait = plan_spend(self._spends(entry), now=now, cost=cost, limit=limit, window=window)
            if wait == 0.0:
                live.append(Spend(now, cost))
            entry["spends"] = [[s.at, s.cost] for s in live]
            return wait

    def drain(
        self, key: str, *, remaining: float, limit: float, window: float, expires_in: float | None = None
    ) -> None:
        with self._state(write=True) as state:
            now = self._now()
            entry = self._entry(state, key)
            spends = [s for s in self._spends(entry) if s.at > now - window]
            extra = drain_spend(spends, now=now, remaining=remaining, limit=limit, window=window, expires_in=expires_in)
            if extra is not None:
                spends.append(extra)
            entry["spends"] = [[s.at, s.cost] for s in spends]

    def block(self, key: str, seconds: float) -> None:
        if not (seconds > 0 and math.isfinite(seconds)):
            return
        with self._state(write=True) as state:
            entry = self._entry(state, key)
            entry["blocked_until"] = max(float(entry.get("blocked_until") or 0.0), self._now() + seconds)

    def blocked_for(self, key: str) -> float:
        with self._state(write=False) as state:
            entry = state.get(key)
            until = float(entry.get("blocked_until") or 0.0) if isinstance(entry, dict) else 0.0
        return max(0.0, until - self._now())
