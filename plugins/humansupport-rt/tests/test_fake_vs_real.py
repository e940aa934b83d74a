"""FakeRT answers as the real RT does: the same adapter calls on both, holding the same history, map alike."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from humansupport_rt import FakeRT, RTAdapter

from humansupport.errors import ConflictError
from humansupport.testing import FakeClock, generate_history

from .conftest import RT_HISTORY, RTLive
from .live import LiveRT


def _reverse(*maps: dict[str, str]) -> dict[str, str]:
    return {rt: ours for m in maps for ours, rt in m.items()}


async def _read(adapter: RTAdapter) -> dict[str, Any]:
    async with adapter:
        convs = [c async for c in adapter.iter_conversations()]
        return {
            "conversations": convs,
            "messages": [m async for m in adapter.iter_all_messages()],
            "one": [m async for m in adapter.iter_messages(convs[0].id)],
            "agents": [a async for a in adapter.iter_agents()],
            "groups": [g async for g in adapter.iter_groups()],
            "open": [c.id async for c in adapter.iter_conversations(status=["new", "open", "pending"])],
        }


def test_fake_and_real_rt_answer_alike(rt_live: RTLive) -> None:
    history = generate_history(RT_HISTORY)
    clock = FakeClock(start=history.config.end + timedelta(hours=1))
    live = LiveRT(rt_live.server, rt_live.loaded, rt_live.snapshot, clock=clock)
    live.load(history)
    fake = FakeRT(clock=clock, history=history)
    server = rt_live.server
    real = asyncio.run(_read(RTAdapter(base_url=server.url, username="root", password="password", clock=clock)))
    ours = asyncio.run(_read(RTAdapter(**FakeRT.adapter_settings(), transport=fake.transport(), clock=clock)))
    m = rt_live.loaded
    back = _reverse(m.agents, m.customers, m.groups, m.messages)

    def person(value: str | None) -> str | None:
        return back.get(value or "", value)

    def conv_key(c: Any) -> tuple[Any, ...]:
        return (c.id, c.status, c.subject, person(c.customer_id), person(c.assignee_id), person(c.group_id),
                c.tags, c.custom_fields, c.created_at, c.updated_at)  # fmt: skip

    assert [conv_key(c) for c in real["conversations"]] == [conv_key(c) for c in ours["conversations"]]

    def msg_key(x: Any) -> tuple[Any, ...]:
        return (back[x.id], x.conversation_id, person(x.author_id), x.author_role, x.public, x.body, x.created_at)

    assert sorted(msg_key(x) for x in real["messages"]) == sorted(
        (x.id, x.conversation_id, x.author_id, x.author_role, x.public, x.body, x.created_at) for x in ours["messages"]
    )
    assert [msg_key(x) for x in real["one"]] == [
        (x.id, x.conversation_id, x.author_id, x.author_role, x.public, x.body, x.created_at) for x in ours["one"]
    ]
    assert sorted((a.name, a.email, a.active, [person(g) for g in a.group_ids]) for a in real["agents"]) == sorted(
        (a.name, a.email, a.active, a.group_ids) for a in ours["agents"]
    )
    assert sorted((g.name, sorted(person(a) or "" for a in g.agent_ids)) for g in real["groups"]) == sorted(
        (g.name, sorted(g.agent_ids)) for g in ours["groups"]
    )
    assert real["open"] == ours["open"]


@pytest.mark.parametrize("where", ["real", "fake"])
def test_a_stale_etag_is_refused_alike(rt_live: RTLive, where: str) -> None:
    """A write carrying an old ETag: 412 at RT, ConflictError from the adapter, the owner untouched, on both."""
    history = generate_history(RT_HISTORY)
    clock = FakeClock(start=history.config.end + timedelta(hours=1))
    conv = next(c for c in history.conversations if c.status.is_open)
    if where == "real":
        live = LiveRT(rt_live.server, rt_live.loaded, rt_live.snapshot, clock=clock)
        live.load(history)
        adapter = RTAdapter(base_url=rt_live.server.url, username="root", password="password", clock=clock)
        state = live
    else:
        state = FakeRT(clock=clock, history=history)
        adapter = RTAdapter(**FakeRT.adapter_settings(), transport=state.transport(), clock=clock)
    before = state.conversations[conv.id].assignee_id

    async def go() -> None:
        async with adapter:
            seen = await adapter.get_conversation(conv.id)
            state.touch_conversation(conv.id)
            agent = next(a for a in await adapter._agents() if a.active and a.id != before)
            with pytest.raises(ConflictError):
                await adapter.assign(conv.id, agent.id, expected_version=seen.version)
            # and the 412 itself: a PUT with the old ETag
            status = (await adapter.http._http.put(f"/ticket/{conv.id}", json={"Owner": agent.id},
                                                   headers={"If-Match": f'"{seen.version}"'})).status_code  # fmt: skip
            assert status == 412

    asyncio.run(go())
    assert state.conversations[conv.id].assignee_id == before
