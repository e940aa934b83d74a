"""The worker: drains the webhook queue, one handler per event kind, retrying what the helpdesk refused for now.

At most one assignment per event: every assignment is guarded by the version read just before it, and a row
re-taken after a crash re-reads the conversation, finds it assigned and leaves it (router stage 0). A person's
reassignment is recorded, never reverted. Retriable helpdesk errors (429, 5xx, network) put the row back with a
delay (the server's Retry-After when it gave one); a 429 also pauses the account's work until the budget is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from ..clock import Clock
from ..errors import ConflictError, HelpdeskError, HumansupportError, NotFoundError, RateLimitError
from ..helpdesk import AsyncHelpdesk
from ..models import AgentAvailability, Conversation, WebhookEvent, WebhookEventType
from ..routing.capacity import CapacityLedger, Reservation
from ..routing.router import Router, RoutingDecision
from ..store import Store
from .queue import DONE, FAILED, QUEUED, SKIPPED, Finish, QueuedEvent, WebhookQueue
from .routing import RouterCache

__all__ = ["AccountRuntime", "Outcome", "Worker", "WorkerConfig"]

log = logging.getLogger("humansupport.webhooks")


@dataclass(kw_only=True)
class AccountRuntime:
    """One configured helpdesk account: its adapter, signing secret, and warm router."""

    vendor: str
    account: str
    adapter: AsyncHelpdesk
    secret: str
    routers: RouterCache
    paused_until: float = 0.0

    def __repr__(self) -> str:  # never the secret
        return f"AccountRuntime(vendor={self.vendor!r}, account={self.account!r})"


@dataclass(frozen=True, kw_only=True)
class WorkerConfig:
    batch: int = 50
    concurrency: int = 8
    lease: float = 60.0
    max_attempts: int = 8
    retry_base: float = 2.0
    retry_cap: float = 300.0
    #: most held conversations offered to an agent coming back, whatever their free capacity
    offer_cap: int = 5
    idle_poll: float = 0.2
    stats_every: float = 1.0
    #: seconds between looks for held conversations whose wait for their preferred agent is over
    hold_sweep_every: float = 60.0
    #: `gc.freeze()` after warm-up (the service's own process only; not under tests)
    freeze_gc: bool = False
    #: seconds an assignment's capacity reservation counts without its read-back stored (a crash in between)
    reservation_ttl: float = 600.0
    #: keep finished queue rows this many days (None: keep all); never fewer than the dedupe horizon
    retain_days: float | None = None
    #: seconds between retention sweeps
    prune_every: float = 3600.0


@dataclass(frozen=True, kw_only=True)
class Outcome:
    state: str
    outcome: str
    message: str
    assigned_agent_id: str | None = None
    held_for: str | None = None


class _Retry(Exception):
    def __init__(self, delay: float, message: str) -> None:
        super().__init__(message)
        self.delay = delay


class _HoldKept(Exception):
    """An expired hold's next best agent filled up meanwhile: it stays held for the next sweep."""


class _Full(Exception):
    """The store's count says the chosen agent has no room left (another process or event took the slot)."""

    def __init__(self, reservation: Reservation) -> None:
        super().__init__(reservation.describe())
        self.reservation = reservation


class Worker:
    """Runs in the ASGI lifespan; `run()` loops until `stop()`."""

    def __init__(
        self,
        *,
        queue: WebhookQueue,
        accounts: Mapping[str, AccountRuntime],
        clock: Clock,
        config: WorkerConfig | None = None,
    ) -> None:
        self.queue = queue
        self.store: Store = queue.store
        self.accounts = dict(accounts)
        self.clock = clock
        self.config = config or WorkerConfig()
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._finished: list[Finish] = []
        self._conversations: dict[tuple[str, str], Conversation] = {}
        #: reservations whose read-back is waiting in `_conversations`: released once that is stored
        self._reserved: list[tuple[str, str]] = []
        self.ledger = CapacityLedger(self.store, ttl=self.config.reservation_ttl)
        self._stopping = False
        self._next_sweep = 0.0
        self._next_prune = 0.0
        self.running = False
        self.ready = False

    def wake(self) -> None:
        """New events were queued: look now rather than at the next poll (callable from any thread)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            if loop is asyncio.get_running_loop():
                self._wake.set()
                return
        except RuntimeError:
            pass
        with contextlib.suppress(RuntimeError):  # the loop closed in between
            loop.call_soon_threadsafe(self._wake.set)

    def stop(self) -> None:
        self._stopping = True
        self.wake()

    async def warm_up(self) -> None:
        """Builds each account's router (affinity index, team) before the first event needs it."""
        for rt in self.accounts.values():
            try:
                await rt.routers.get()
            except Exception as exc:  # the helpdesk is down at start: the first event builds it (and retries)
                log.warning("webhook worker: warming up %s failed: %s", rt.account, exc)
        if self.config.freeze_gc:
            # the index and history are long-lived: keep them out of every later full collection (~100s of ms)
            gc.collect()
            gc.freeze()
        self.ready = True

    async def run(self, *, parent_pid: int | None = None, on_ready: Callable[[], object] | None = None) -> None:
        """Loops until `stop()`; in a worker process, also ends when its parent (the receiver) is gone."""
        self._loop = asyncio.get_running_loop()
        self.running = True
        try:
            await self.warm_up()
            if on_ready is not None:
                on_ready()
            while not self._stopping:
                if parent_pid is not None and os.getppid() != parent_pid:
                    log.warning("webhook worker: the receiver (pid %d) is gone; stopping", parent_pid)
                    return
                try:
                    if self.clock.monotonic() >= self._next_sweep:
                        self._next_sweep = self.clock.monotonic() + self.config.hold_sweep_every
                        await self.sweep_expired_holds()
                    if self.config.retain_days is not None and self.clock.monotonic() >= self._next_prune:
                        self._next_prune = self.clock.monotonic() + self.config.prune_every
                        await self.prune()
                    worked = await self.run_once()
                except HumansupportError as exc:  # the store was locked or away for a moment: wait, go on
                    log.warning("webhook worker: taking work failed (%s); retrying", exc)
                    worked = 0
                except Exception:  # a bug: keep the traceback for the report, keep serving
                    log.exception("webhook worker: taking work failed; retrying")
                    worked = 0
                if worked == 0 and not self._stopping:
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), timeout=self.config.idle_poll)
        finally:
            self.running = False

    def ready_accounts(self) -> list[str]:
        """Accounts whose rate budget is not exhausted (back-pressure: their events wait in the queue)."""
        mono = self.clock.monotonic()
        ready = []
        for name, rt in self.accounts.items():
            limiter = getattr(getattr(rt.adapter, "http", None), "limiter", None)
            blocked = limiter.blocked_for() if limiter is not None and hasattr(limiter, "blocked_for") else 0.0
            if rt.paused_until <= mono and not blocked:
                ready.append(name)
        return ready

    async def run_once(self) -> int:
        """Claims one batch and processes it; returns how many events were taken."""
        accounts = self.ready_accounts()
        if not accounts:
            return 0
        cfg = self.config
        batch = await asyncio.to_thread(
            self.queue.claim, accounts=accounts, now=self.clock.now(), limit=cfg.batch, lease=cfg.lease
        )
        if not batch:
            return 0
        # one conversation's events in order; different conversations side by side
        chains: dict[tuple[str, str | None], list[QueuedEvent]] = {}
        for item in batch:
            key = (item.account, item.event.conversation_id or f"row-{item.id}")
            chains.setdefault(key, []).append(item)
        semaphore = asyncio.Semaphore(max(1, cfg.concurrency))

        async def chain(items: list[QueuedEvent]) -> None:
            async with semaphore:
                for item in items:
                    await self.process(item)

        results = await asyncio.gather(*(chain(items) for items in chains.values()), return_exceptions=True)
        for failure in (r for r in results if isinstance(r, BaseException)):
            log.error("webhook worker: %s: %s", type(failure).__name__, failure)
        # the batch's outcomes and conversations in two transactions: the receiver's commits rarely wait on ours.
        # Should this fail (the store), the rows' leases run out and they are taken again: the guarded assign and
        # the fresh read make that safe
        finished, self._finished = self._finished, []
        conversations, self._conversations = self._conversations, {}
        reserved, self._reserved = self._reserved, []
        await asyncio.to_thread(self._flush, finished, conversations, reserved)
        return len(batch)

    def _flush(
        self,
        finished: list[Finish],
        conversations: dict[tuple[str, str], Conversation],
        reserved: list[tuple[str, str]] | None = None,
    ) -> None:
        by_account: dict[str, list[tuple[Conversation, None]]] = {}
        for (account, _), conv in conversations.items():
            by_account.setdefault(account, []).append((conv, None))
        for account, items in by_account.items():
            self.queue.write(self.store.write_conversations, account, items)
        # the read-backs are stored: those assignments now count as conversations, not as reservations
        released: dict[str, list[str]] = {}
        for account, conversation_id in reserved or ():
            released.setdefault(account, []).append(conversation_id)
        for account, ids in released.items():
            self.queue.write(self.ledger.release, account, ids)
        self.queue.apply(finished, now=self.clock.now())

    async def prune(self) -> int:
        """Deletes finished queue rows older than `retain_days` (never younger than the dedupe horizon)."""
        days = self.config.retain_days
        if days is None:
            return 0
        deleted = await asyncio.to_thread(self.queue.prune, retain_days=days, now=self.clock.now())
        if deleted:
            log.info("webhook queue: pruned %d finished rows older than %g days", deleted, days)
        return deleted

    # -- one event -----------------------------------------------------------------------------------

    async def process(self, item: QueuedEvent) -> None:
        rt = self.accounts[item.account]
        try:
            outcome = await self.handle(rt, item)
        except _Retry as retry:
            await self._retry_or_fail(item, retry.delay, str(retry))
            return
        except RateLimitError as exc:
            wait = exc.retry_after if exc.retry_after is not None else self._backoff(item.attempts)
            rt.paused_until = max(rt.paused_until, self.clock.monotonic() + wait)
            await self._retry_or_fail(item, wait, str(exc))
            return
        except HelpdeskError as exc:
            if exc.retriable:
                wait = max(exc.retry_after or 0.0, self._backoff(item.attempts))
                await self._retry_or_fail(item, wait, str(exc))
                return
            outcome = Outcome(state=FAILED, outcome="helpdesk_error", message=str(exc))
        except Exception as exc:  # a bug must not stop the queue: the row fails with the error, the loop goes on
            log.exception("webhook event %s (%s) failed", item.id, item.event.type)
            outcome = Outcome(state=FAILED, outcome="error", message=f"{type(exc).__name__}: {exc}")
        self._finished.append(
            Finish(
                row_id=item.id,
                state=outcome.state,
                outcome=outcome.outcome,
                message=outcome.message,
                assigned_agent_id=outcome.assigned_agent_id,
                held_for=outcome.held_for,
                claim_token=item.claim_token or None,
            )
        )
        if outcome.state == FAILED:
            log.warning("webhook event %s failed: %s", item.id, outcome.message)
        else:  # one line per event: what an operator greps for when asked "why did this go to Ana?"
            log.info(
                "%s %s conversation %s: %s%s (%s)",
                item.account,
                item.event.type,
                item.event.conversation_id,
                outcome.outcome,
                f" to {outcome.assigned_agent_id}" if outcome.assigned_agent_id else "",
                outcome.message,
            )

    def _backoff(self, attempts: int) -> float:
        cfg = self.config
        return float(min(cfg.retry_cap, cfg.retry_base * 2 ** max(0, attempts - 1)))

    async def _retry_or_fail(self, item: QueuedEvent, delay: float, message: str) -> None:
        if item.attempts >= self.config.max_attempts:
            self._finished.append(
                Finish(
                    row_id=item.id,
                    state=FAILED,
                    outcome="gave_up",
                    message=f"gave up after {item.attempts} attempts: {message}",
                    claim_token=item.claim_token or None,
                )
            )
            log.warning("webhook event %s failed after %d attempts: %s", item.id, item.attempts, message)
            return
        at = self.clock.now() + timedelta(seconds=max(0.0, delay))
        self._finished.append(
            Finish(
                row_id=item.id,
                state=QUEUED,
                outcome=None,
                message=message,
                retry_at=at,
                claim_token=item.claim_token or None,
            )
        )

    async def handle(self, rt: AccountRuntime, item: QueuedEvent) -> Outcome:
        event = item.event
        kind = event.type
        if kind is WebhookEventType.AGENT_AVAILABILITY_CHANGED:
            return await self._agent_availability(rt, event)
        if not event.conversation_id:
            return Outcome(state=SKIPPED, outcome="ignored", message=f"{kind} without a conversation id")
        if item.assigned_agent_id:  # taken again after a crash that followed our assignment: never twice
            return Outcome(
                state=DONE,
                outcome="already_applied",
                message=f"assigned to {item.assigned_agent_id} on an earlier attempt",
                assigned_agent_id=item.assigned_agent_id,
            )
        if kind is WebhookEventType.CONVERSATION_CREATED:
            return await self._route(rt, item, event.conversation_id)
        if kind is WebhookEventType.CONVERSATION_ASSIGNED:
            return await self._assigned(rt, event)
        if kind is WebhookEventType.CUSTOMER_REPLIED:
            return await self._customer_replied(rt, item, event)
        if kind is WebhookEventType.CONVERSATION_UPDATED:
            return await self._updated(rt, event.conversation_id)
        return Outcome(state=SKIPPED, outcome="ignored", message=f"event kind {event.raw_type or kind} not handled")

    # -- handlers ------------------------------------------------------------------------------------

    async def _fresh(self, rt: AccountRuntime, conversation_id: str, *, keep: bool = True) -> Conversation | None:
        """The conversation as the helpdesk has it now (None when deleted); `keep` also stores it."""
        try:
            conv = await rt.adapter.get_conversation(conversation_id)
        except NotFoundError:
            return None
        if keep:
            await self._keep(rt, conv)
        return conv

    async def _keep(self, rt: AccountRuntime, conv: Conversation) -> None:
        """Stores the conversation with the batch's outcomes (one write per batch, not per event)."""
        self._conversations[(rt.account, conv.id)] = conv

    async def _route(
        self, rt: AccountRuntime, item: QueuedEvent, conversation_id: str, *, prefer: str | None = None
    ) -> Outcome:
        conv = await self._fresh(rt, conversation_id, keep=False)  # stored after the assignment's read-back
        if conv is None:
            return Outcome(state=SKIPPED, outcome="not_found", message="deleted in the helpdesk")
        router = await rt.routers.get()
        # each agent the store finds full (another process or event took the slot) is counted as such and the
        # router decides again; every try marks one more agent full, so this ends
        for _ in range(len(router.agents) + 1):
            decision = self._decide(router, conv, prefer=prefer)
            if decision.action != "assign" or not decision.agent_id:
                break
            try:
                return await self._assign(rt, item.id, conv, decision, router)
            except _Full as full:
                router.loads[full.reservation.agent_id] = full.reservation.load
                prefer = None
        await self._keep(rt, conv)
        if decision.action == "wait" and decision.agent_id:
            return Outcome(state=DONE, outcome="held", message=decision.reason, held_for=decision.agent_id)
        return Outcome(
            state=DONE,
            # "already_assigned" (stage 0: a person's or an earlier attempt's assignment), "closed", "unrouted"
            outcome={"assigned": "already_assigned"}.get(decision.stage, decision.stage)
            if decision.action == "leave"
            else "unrouted",
            message=decision.reason,
        )

    def _decide(self, router: Router, conv: Conversation, *, prefer: str | None) -> RoutingDecision:
        if prefer is not None and conv.status.is_open and router.why_not(prefer, _groups(router, conv)) is None:
            return RoutingDecision(
                conversation_id=conv.id,
                customer_id=conv.customer_id,
                action="assign",
                stage="previous_agent",
                agent_id=prefer,
                agent_name=_name(router, prefer),
                reason=f"the customer replied again: back to {_name(router, prefer)}, who handled it before",
            )
        return router.route(conv.model_copy(update={"assignee_id": None}) if prefer else conv, now=self.clock.now())

    async def _assign(
        self, rt: AccountRuntime, row_id: int, conv: Conversation, decision: RoutingDecision, router: Router
    ) -> Outcome:
        agent = decision.agent_id
        assert agent is not None
        try:
            fresh = await self._assign_guarded(rt, router, conv, decision)
        except ConflictError:
            # changed since our read (a person got there first): the retry re-reads and, if assigned, leaves it
            raise _Retry(0.0, "changed in the helpdesk since it was read; re-reading") from None
        if fresh is not None and fresh.assignee_id != agent:
            return Outcome(
                state=DONE,
                outcome="mismatch",
                message=f"assigned {agent}, read back {fresh.assignee_id!r}",
                assigned_agent_id=agent,
            )
        return Outcome(state=DONE, outcome="assigned", message=decision.reason, assigned_agent_id=agent)

    async def _assign_guarded(
        self, rt: AccountRuntime, router: Router, conv: Conversation, decision: RoutingDecision
    ) -> Conversation | None:
        """Reserves a slot of the agent in the store (`_Full` when another process or event took the last one),
        assigns as decided unless the conversation changed since `conv` was read (`ConflictError`), counts it in
        the router's loads, and returns it read back (and kept for the store); None when deleted meanwhile.

        No mark before the read-back: a crash here leaves the row to be taken again, and that attempt reads the
        conversation assigned and leaves it (the guarded write, not a mark, is what makes this at most once). The
        reservation is released once the read-back is stored; after a crash it stops counting when it expires.
        """
        agent = decision.agent_id
        assert agent is not None
        reservation = await asyncio.to_thread(
            self.queue.write,
            self.ledger.reserve,
            rt.account,
            conv.id,
            agent,
            capacity=router.capacity_of(agent),
            now=self.clock.now(),
        )
        if not reservation.taken:
            raise _Full(reservation)
        try:
            await rt.adapter.assign(conv.id, agent, expected_updated_at=conv.updated_at, expected_version=conv.version)
        except HelpdeskError as exc:
            if not (exc.retriable and not isinstance(exc, RateLimitError)):  # surely not written: free the slot
                await asyncio.to_thread(self.queue.write, self.ledger.release, rt.account, [conv.id])
            raise
        router.loads[agent] = max(router.loads.get(agent, 0), reservation.load - 1) + 1
        self._reserved.append((rt.account, conv.id))
        return await self._fresh(rt, conv.id)

    async def _assigned(self, rt: AccountRuntime, event: WebhookEvent) -> Outcome:
        """A reassignment: record it (store and loads), never revert it."""
        assert event.conversation_id is not None
        ours = await asyncio.to_thread(self.queue.we_assigned, rt.account, event.conversation_id)
        stored = await asyncio.to_thread(self.store.conversation, rt.account, event.conversation_id)
        previous = event.previous_agent_id or (stored.assignee_id if stored else None)
        if stored is not None and event.agent_id is not None:
            await asyncio.to_thread(
                self.queue.write,
                self.store.set_assignee,
                rt.account,
                stored.model_copy(
                    update={"assignee_id": event.agent_id, "updated_at": event.occurred_at or stored.updated_at}
                ),
            )
        else:
            await self._fresh(rt, event.conversation_id)
        router = await rt.routers.get()
        if previous and previous != event.agent_id and router.loads.get(previous):
            router.loads[previous] -= 1
        if event.agent_id and previous != event.agent_id:
            router.loads[event.agent_id] = router.loads.get(event.agent_id, 0) + 1
        if ours is not None and ours == event.agent_id and event.actor != "human":
            return Outcome(state=DONE, outcome="own_assignment", message=f"our assignment to {ours}, confirmed")
        who = "a person" if event.actor == "human" or ours is not None else "the helpdesk"
        return Outcome(
            state=DONE,
            outcome="recorded",
            message=f"reassigned by {who} from {previous!r} to {event.agent_id!r}; recorded, left as is",
        )

    async def _customer_replied(self, rt: AccountRuntime, item: QueuedEvent, event: WebhookEvent) -> Outcome:
        """A reply on a closed conversation goes back to the agent who had it, when they are available."""
        assert event.conversation_id is not None
        stored = await asyncio.to_thread(self.store.conversation, rt.account, event.conversation_id)
        conv = await self._fresh(rt, event.conversation_id)
        if conv is None:
            return Outcome(state=SKIPPED, outcome="not_found", message="deleted in the helpdesk")
        router = await rt.routers.get()
        current = conv.assignee_id
        if current and router.why_not(current, ()) is None:
            return Outcome(state=DONE, outcome="assigned_already", message=f"stays with {_name(router, current)}")
        previous = current or event.previous_agent_id or (stored.assignee_id if stored else None)
        if not conv.status.is_open:
            return Outcome(state=DONE, outcome="closed", message=f"conversation is {conv.status}")
        return await self._route(rt, item, conv.id, prefer=previous)

    async def _updated(self, rt: AccountRuntime, conversation_id: str) -> Outcome:
        """Keeps the store fresh (status, assignee, messages) so loads and affinity stay true between syncs."""
        try:
            conv = await rt.adapter.get_conversation(conversation_id)
        except NotFoundError:
            return Outcome(state=SKIPPED, outcome="not_found", message="deleted in the helpdesk")
        messages = [m async for m in rt.adapter.iter_messages(conversation_id)]
        await asyncio.to_thread(self.queue.write, self.store.write_conversations, rt.account, [(conv, messages)])
        return Outcome(state=DONE, outcome="stored", message=f"{len(messages)} messages stored")

    async def sweep_expired_holds(self, *, limit: int = 100) -> int:
        """Routes conversations held longer than the router's wait for their preferred agent, who never came back.

        The router no longer waits for them (the wait is over), so they go to the next best agent; one that was
        assigned, closed or deleted meanwhile only ends its hold. Returns how many holds ended.
        """
        ended = 0
        for name in self.ready_accounts():
            rt = self.accounts[name]
            router = await rt.routers.get()
            hours = router.config.wait_for_preferred_hours
            before = self.clock.now() - timedelta(hours=hours)
            for row_id, conversation_id in await asyncio.to_thread(
                self.queue.expired_holds, rt.account, before=before, limit=limit
            ):
                try:
                    outcome, message, agent = await self._route_expired(rt, router, conversation_id, hours=hours)
                except (HelpdeskError, _HoldKept) as exc:  # left held: the next sweep tries again
                    log.warning("webhook worker: routing expired hold %s failed: %s", conversation_id, exc)
                    continue
                await asyncio.to_thread(
                    self.queue.release_hold, row_id, outcome=outcome, message=message, assigned_agent_id=agent
                )
                log.info("%s hold on conversation %s ended: %s (%s)", rt.account, conversation_id, outcome, message)
                ended += 1
        conversations, self._conversations = self._conversations, {}
        reserved, self._reserved = self._reserved, []
        if conversations or reserved:
            await asyncio.to_thread(self._flush, [], conversations, reserved)
        return ended

    async def _route_expired(
        self, rt: AccountRuntime, router: Router, conversation_id: str, *, hours: float
    ) -> tuple[str, str, str | None]:
        conv = await self._fresh(rt, conversation_id)
        if conv is None or conv.assignee_id or not conv.status.is_open:
            return "hold_ended", "assigned, closed or deleted meanwhile", None
        decision = router.route(conv, now=self.clock.now())
        if decision.action != "assign" or not decision.agent_id:
            return "hold_expired", f"waited {hours:g} h; {decision.reason}", None
        try:
            await self._assign_guarded(rt, router, conv, decision)
        except ConflictError:
            return "hold_ended", "changed in the helpdesk meanwhile; left as is", None
        except _Full as full:  # left held: the next sweep decides again with the store's count
            router.loads[full.reservation.agent_id] = full.reservation.load
            raise _HoldKept(str(full)) from None
        return "hold_expired_assigned", f"waited {hours:g} h; {decision.reason}", decision.agent_id

    async def _agent_availability(self, rt: AccountRuntime, event: WebhookEvent) -> Outcome:
        """An agent is back: offer them what the wait stage held for them, at most `offer_cap` and their room."""
        rt.routers.invalidate_agents()
        router = await rt.routers.get()
        agent_id = event.agent_id
        if not agent_id:
            return Outcome(state=SKIPPED, outcome="ignored", message="availability event without an agent id")
        agent = router.agents.get(agent_id)
        if agent is None or agent.availability in (AgentAvailability.AWAY, AgentAvailability.OFFLINE):
            state = "unknown" if agent is None else str(agent.availability)
            return Outcome(state=DONE, outcome="agent_away", message=f"agent {agent_id} is {state}; nothing offered")
        room = self.config.offer_cap
        capacity = agent.capacity if agent.capacity is not None else router.config.default_capacity
        if capacity is not None:
            room = min(room, max(0, capacity - router.loads.get(agent_id, 0)))
        held = await asyncio.to_thread(self.queue.held_for, rt.account, agent_id, limit=max(room, 0) or 0)
        offered: list[str] = []
        for row_id, conversation_id in held:
            conv = await self._fresh(rt, conversation_id)
            if conv is None or conv.assignee_id or not conv.status.is_open:
                await asyncio.to_thread(
                    self.queue.release_hold, row_id, outcome="hold_ended", message="assigned, closed or gone meanwhile"
                )
                continue
            decision = RoutingDecision(
                conversation_id=conv.id,
                customer_id=conv.customer_id,
                action="assign",
                stage="offered",
                agent_id=agent_id,
                agent_name=_name(router, agent_id),
                reason=f"held for {_name(router, agent_id)}, who is back",
            )
            try:
                await self._assign_guarded(rt, router, conv, decision)
            except ConflictError:
                await asyncio.to_thread(
                    self.queue.release_hold, row_id, outcome="hold_ended", message="changed in the helpdesk meanwhile"
                )
                continue
            except _Full as full:  # their room went to other work meanwhile: the rest stays held
                router.loads[agent_id] = full.reservation.load
                break
            await asyncio.to_thread(
                self.queue.release_hold, row_id, outcome="offered", message=decision.reason, assigned_agent_id=agent_id
            )
            offered.append(conv.id)
        if not offered:
            return Outcome(state=DONE, outcome="nothing_held", message=f"nothing held for {agent_id} (room {room})")
        return Outcome(
            state=DONE,
            outcome="offers_made",
            message=f"offered {len(offered)} held conversation(s) to {agent_id}: {', '.join(offered)}",
        )


def _name(router: Router, agent_id: str) -> str:
    agent = router.agents.get(agent_id)
    return (agent.name or agent_id) if agent is not None else agent_id


def _groups(router: Router, conv: Conversation) -> tuple[str, ...]:
    return (conv.group_id,) if conv.group_id else router.config.groups
