"""Base class for stateful fake helpdesk APIs: an `httpx.MockTransport` handler with faults and limits.

A vendor fake subclasses `FakeHelpdesk`, declares its endpoints with `@route`, and renders the shared
state (core models, seeded from the synthetic history) in the vendor's JSON. The base gives it a request
log, credential revocation, a per-minute rate limit on the injected clock, fault injection (status codes,
dropped connections, latency), unknown-field noise, and an ASGI wrapper to serve it over real HTTP.
"""

from __future__ import annotations

import asyncio
import copy
import json
import random
import re
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, TypeVar

import httpx

from ..models import Agent, Conversation, Customer, Group, Message, SatisfactionRating
from .clock import FakeClock
from .saved_replies import SAMPLE_SAVED_REPLIES, SampleSavedReply
from .synthetic import SyntheticHistory

__all__ = ["Fault", "FakeBadRequest", "FakeHelpdesk", "RecordedRequest", "route"]

Handler = Callable[..., httpx.Response]
F = TypeVar("F", bound=Callable[..., httpx.Response])
_ROUTE_ATTR = "_humansupport_route"
NOISE_KEY = "zz_unknown_field_from_the_future"
_sleep = asyncio.sleep  # the served latency's wait; tests replace it


def route(method: str, pattern: str) -> Callable[[F], F]:
    """Declares a fake endpoint; named groups in `pattern` become keyword arguments of the handler."""

    def deco(fn: F) -> F:
        routes = list(getattr(fn, _ROUTE_ATTR, []))
        routes.append((method.upper(), re.compile(pattern + r"\Z")))
        setattr(fn, _ROUTE_ATTR, routes)
        return fn

    return deco


class FakeBadRequest(Exception):
    """Raised by a handler to answer the vendor's validation error (400 or 422) for a bad request body."""

    def __init__(self, message: str, *, status: int = 400, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.field = field


@dataclass(kw_only=True)
class Fault:
    """An injected failure: the next `times` matching requests (after skipping `skip`) get it."""

    status: int | None = None
    times: int = 1
    skip: int = 0
    match: Callable[[httpx.Request], bool] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    drop: bool = False  # a dropped connection instead of a response

    def applies(self, request: httpx.Request) -> bool:
        return self.match is None or self.match(request)


@dataclass(frozen=True, kw_only=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    json: Any
    headers: Mapping[str, str]
    status: int | None

    @property
    def url_params(self) -> dict[str, str]:
        return {k: v[-1] for k, v in self.query.items()}


class FakeHelpdesk:
    """Stateful fake of a helpdesk API; call it with an `httpx.Request` (it is a MockTransport handler)."""

    vendor: ClassVar[str] = "fake"
    default_page_size: ClassVar[int] = 100

    def __init__(
        self,
        *,
        clock: FakeClock | None = None,
        history: SyntheticHistory | None = None,
        rate_limit_per_minute: int | None = None,
    ) -> None:
        self.clock = clock or FakeClock()
        self.rate_limit_per_minute = rate_limit_per_minute
        self.page_size = self.default_page_size
        self.latency = 0.0
        #: seconds each request served over HTTP waits before its answer (real time: for trying clients' timeouts)
        self.served_latency = 0.0
        #: the share of requests (0..1) answered with a random 500/502/503, drawn from `fault_seed`
        self.fail_rate = 0.0
        self._fault_rng = random.Random(0)
        self.random_failures = 0
        self.unknown_fields = False
        self.credentials_revoked = False
        self.requests: list[RecordedRequest] = []
        self.faults: list[Fault] = []
        self.rate_limited = 0
        self._window_start = 0.0
        self._window_count = 0
        self.conversations: dict[str, Conversation] = {}
        self.messages: dict[str, list[Message]] = {}
        self.customers: dict[str, Customer] = {}
        self.agents: dict[str, Agent] = {}
        self.groups: dict[str, Group] = {}
        self.ratings: dict[str, SatisfactionRating] = {}
        self._routes = list(self._collect_routes())
        self._snapshots: dict[str, dict[str, Any]] = {}
        if history is not None:
            self.load(history)

    @classmethod
    def adapter_settings(cls) -> dict[str, Any]:
        """Settings under which the vendor's adapter talks to this fake (used by `humansupport demo`)."""
        return {}

    @classmethod
    def client_settings(cls, url: str) -> dict[str, dict[str, Any]]:
        """How the vendor's popular Python clients reach this fake served at `url`: per client, the
        `environment` to export and a `python` line that builds the client. Vendor fakes override."""
        return {}

    # -- state ---------------------------------------------------------------------------------------

    def load(self, history: SyntheticHistory) -> None:
        """Replaces the state with a synthetic history (vendor fakes may extend to build vendor fields)."""
        self.groups = {g.id: g for g in history.groups}
        self.agents = {a.id: a for a in history.agents}
        self.customers = {c.id: c for c in history.customers}
        self.conversations = {c.id: c for c in history.conversations}
        self.messages = {k: list(v) for k, v in history.messages.items()}
        self.ratings = {r.id: r for r in history.ratings}
        self.seed_saved_replies()

    def seed_saved_replies(self, replies: Iterable[SampleSavedReply] = SAMPLE_SAVED_REPLIES) -> list[str]:
        """Replaces the saved replies with `replies` (the samples by default); returns their ids.

        A fake whose vendor has no saved replies (no `add_saved_reply`) seeds nothing.
        """
        try:
            self.clear_saved_replies()
            return [self.add_saved_reply(title=reply.title, body=reply.body) for reply in replies]
        except NotImplementedError:
            return []

    def add_saved_reply(self, *, title: str, body: str) -> str:
        """Stores a saved reply / macro / canned response (plain-text `body`, kept as the vendor keeps it).

        Returns its vendor id. Vendor fakes override; the base has none.
        """
        raise NotImplementedError(f"{type(self).__name__} has no saved replies")

    def clear_saved_replies(self) -> None:
        """Removes every saved reply (vendor fakes override with `add_saved_reply`)."""
        raise NotImplementedError(f"{type(self).__name__} has no saved replies")

    def touch_conversation(self, conversation_id: str, **changes: Any) -> Conversation:
        """Simulates a human editing the conversation in the helpdesk UI (bumps updated_at and version)."""
        conv = self.conversations[conversation_id]
        now = max(self.clock.now(), conv.updated_at or self.clock.now())
        if conv.updated_at is not None and now <= conv.updated_at:
            now = conv.updated_at.replace(microsecond=0) + _ONE_SECOND
        bumped = conv.model_copy(update={"updated_at": now, "version": _next_version(conv.version), **changes})
        self.conversations[conversation_id] = bumped
        return bumped

    # -- snapshots -----------------------------------------------------------------------------------

    _NOT_STATE: ClassVar[frozenset[str]] = frozenset(
        {"clock", "requests", "faults", "_routes", "_snapshots", "_fault_rng", "rate_limited", "random_failures"}
    )

    def snapshot(self, name: str | None = None) -> str:
        """Saves the helpdesk's state (conversations, people, settings the fake keeps) under `name`; returns it.

        Requests, faults and limits are not state: restoring does not undo the request log.
        """
        name = name or f"snapshot-{len(self._snapshots) + 1}"
        state = {k: v for k, v in vars(self).items() if k not in self._NOT_STATE and not k.startswith("_window")}
        self._snapshots[name] = copy.deepcopy(state)
        return name

    def restore(self, name: str) -> None:
        """Puts back the state saved by `snapshot(name)` (KeyError naming the saved ones when unknown)."""
        if name not in self._snapshots:
            raise KeyError(f"no snapshot {name!r}; saved: {', '.join(self._snapshots) or 'none'}")
        for key, value in copy.deepcopy(self._snapshots[name]).items():
            setattr(self, key, value)

    def snapshots(self) -> list[str]:
        return list(self._snapshots)

    def is_write(self, request: RecordedRequest) -> bool:
        """Whether a recorded request changed the helpdesk (a token exchange is a POST that changes nothing)."""
        return request.method in {"POST", "PUT", "PATCH", "DELETE"}

    def write_count(self) -> int:
        """Requests so far that changed the helpdesk: what a dry run must leave unchanged."""
        return sum(1 for r in self.requests if self.is_write(r))

    def custom_field_key(self, name: str) -> str:
        """The key under which the adapter reports the history's conversation custom field `name` (the vendor's
        field id or label where the vendor keys fields that way)."""
        return name

    def revoke_credentials(self) -> None:
        """Every later request gets the vendor's 401."""
        self.credentials_revoked = True

    def signed_webhook(
        self, *, secret: str, conversation_id: str, event: str = "conversation.created"
    ) -> tuple[dict[str, str], bytes]:
        """Headers and body of a webhook delivery signed as the vendor signs it."""
        raise NotImplementedError(f"{type(self).__name__} does not sign webhooks")

    # -- faults --------------------------------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        *,
        times: int = 1,
        skip: int = 0,
        match: Callable[[httpx.Request], bool] | str | None = None,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> Fault:
        """The next `times` matching requests (after `skip` of them pass) get `status`."""
        fault = Fault(
            status=status,
            times=times,
            skip=skip,
            match=_matcher(match),
            headers=dict(headers or {}),
            body=body,
        )
        self.faults.append(fault)
        return fault

    def fail_randomly(self, rate: float, *, seed: int = 0) -> None:
        """Answers a share `rate` (0..1) of later requests with a 500, 502 or 503, reproducibly from `seed`."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"fail rate must be between 0 and 1, not {rate}")
        self.fail_rate = rate
        self._fault_rng = random.Random(seed)

    def drop_next(
        self, *, times: int = 1, skip: int = 0, match: Callable[[httpx.Request], bool] | str | None = None
    ) -> Fault:
        """The next matching requests fail with a dropped connection (httpx.ConnectError)."""
        fault = Fault(drop=True, times=times, skip=skip, match=_matcher(match))
        self.faults.append(fault)
        return fault

    # -- vendor hooks (override) ---------------------------------------------------------------------

    def authenticate(self, request: httpx.Request) -> bool:
        """Whether the request carries valid credentials (vendor fakes check their auth scheme)."""
        return True

    def error_body(self, status: int, message: str, *, field: str | None = None) -> Any:
        """The vendor's error JSON for a status."""
        return {"error": message}

    def rate_limit_headers(self, *, limit: int, remaining: int, reset_seconds: float) -> dict[str, str]:
        """The vendor's rate-limit headers."""
        return {"X-Rate-Limit": str(limit), "X-Rate-Limit-Remaining": str(remaining)}

    def request_id_headers(self) -> dict[str, str]:
        return {"X-Request-Id": f"fake-{len(self.requests)}"}

    # -- responses -----------------------------------------------------------------------------------

    def json_response(
        self, data: Any, status: int = 200, *, headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        return httpx.Response(status, json=data, headers=dict(headers or {}))

    def error(
        self, status: int, message: str, *, headers: Mapping[str, str] | None = None, field: str | None = None
    ) -> httpx.Response:
        return httpx.Response(status, json=self.error_body(status, message, field=field), headers=dict(headers or {}))

    def paginate_list(self, items: list[Any], *, page: int, per_page: int | None = None) -> tuple[list[Any], bool]:
        """Slices a page (1-based); returns the page and whether more follow."""
        size = per_page or self.page_size
        start = (page - 1) * size
        return items[start : start + size], start + size < len(items)

    # -- the handler ---------------------------------------------------------------------------------

    def __call__(self, request: httpx.Request) -> httpx.Response:
        response = self._handle(request)
        body: Any = None
        if request.content:
            try:
                body = json.loads(request.content)
            except ValueError:
                body = request.content.decode("utf-8", "replace")
        self.requests.append(
            RecordedRequest(
                method=request.method,
                path=request.url.path,
                query=_query(request.url),
                json=body,
                headers={k.lower(): v for k, v in request.headers.items()},
                status=response.status_code,
            )
        )
        response.headers.update(self.request_id_headers())
        return response

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        if self.latency:
            self.clock.advance(self.latency)
        fault = self._take_fault(request)
        if fault is not None:
            if fault.drop:
                raise httpx.ConnectError("connection dropped by fault injection", request=request)
            status = fault.status or 500
            if fault.body is not None:
                return httpx.Response(status, json=fault.body, headers=dict(fault.headers))
            return self.error(status, f"injected {status}", headers=fault.headers)
        if self.fail_rate and self._fault_rng.random() < self.fail_rate:
            self.random_failures += 1
            status = self._fault_rng.choice((500, 502, 503))
            return self.error(status, f"injected {status} (fail rate {self.fail_rate:g})")
        if self.credentials_revoked or not self.authenticate(request):
            return self.error(401, "Couldn't authenticate you")
        limited = self._rate_limit()
        if isinstance(limited, httpx.Response):
            return limited
        handler, params = self._match(request)
        if handler is None:
            allowed = params.get("_allowed")
            if allowed:
                return self.error(405, f"method {request.method} not allowed")
            return self.error(404, f"no such endpoint {request.method} {request.url.path}")
        try:
            response = handler(request, **params)
        except FakeBadRequest as exc:
            return self.error(exc.status, str(exc), field=exc.field)
        response.headers.update(limited)
        if self.unknown_fields and response.headers.get("content-type", "").startswith("application/json"):
            noisy = _add_noise(json.loads(response.content))
            response = httpx.Response(response.status_code, json=noisy, headers=_plain_headers(response))
        return response

    def _collect_routes(self) -> Iterator[tuple[str, re.Pattern[str], Handler]]:
        seen: set[str] = set()
        for klass in type(self).__mro__:
            for name, member in vars(klass).items():
                if name in seen:
                    continue
                seen.add(name)
                for method, pattern in getattr(member, _ROUTE_ATTR, []):
                    yield method, pattern, getattr(self, name)

    def _match(self, request: httpx.Request) -> tuple[Handler | None, dict[str, Any]]:
        path = request.url.path
        allowed = False
        for method, pattern, handler in self._routes:
            m = pattern.match(path)
            if m is None:
                continue
            if method != request.method:
                allowed = True
                continue
            return handler, m.groupdict()
        return None, {"_allowed": allowed}

    def _take_fault(self, request: httpx.Request) -> Fault | None:
        for fault in list(self.faults):
            if not fault.applies(request):
                continue
            if fault.skip > 0:
                fault.skip -= 1
                continue
            fault.times -= 1
            if fault.times <= 0:
                self.faults.remove(fault)
            return fault
        return None

    def _rate_limit(self) -> httpx.Response | dict[str, str]:
        limit = self.rate_limit_per_minute
        if not limit:
            return {}
        now = self.clock.monotonic()
        if now - self._window_start >= 60.0:
            self._window_start = now - ((now - self._window_start) % 60.0)
            self._window_count = 0
        reset = max(0.0, 60.0 - (now - self._window_start))
        if self._window_count >= limit:
            self.rate_limited += 1
            headers = self.rate_limit_headers(limit=limit, remaining=0, reset_seconds=reset)
            headers["Retry-After"] = str(max(1, int(reset + 0.999)))
            return self.error(429, "Rate limit exceeded", headers=headers)
        self._window_count += 1
        return self.rate_limit_headers(limit=limit, remaining=limit - self._window_count, reset_seconds=reset)

    # -- serving over HTTP ---------------------------------------------------------------------------

    def asgi_app(self) -> Callable[[dict[str, Any], Any, Any], Awaitable[None]]:
        """An ASGI app serving this fake, so any HTTP client (or `humansupport check`) can talk to it."""

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] == "lifespan":
                while True:
                    message = await receive()
                    if message["type"] == "lifespan.startup":
                        await send({"type": "lifespan.startup.complete"})
                    elif message["type"] == "lifespan.shutdown":
                        await send({"type": "lifespan.shutdown.complete"})
                        return
            if scope["type"] != "http":
                return
            chunks: list[bytes] = []
            while True:
                message = await receive()
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    break
            if scope["path"] == CONTROL_PATH or scope["path"].startswith(CONTROL_PATH + "/"):
                status, payload = self._control(scope["method"], scope["path"], b"".join(chunks))
                await send(
                    {
                        "type": "http.response.start",
                        "status": status,
                        "headers": [(b"content-type", b"application/json")],
                    }
                )
                await send({"type": "http.response.body", "body": json.dumps(payload).encode()})
                return
            if self.served_latency:
                await _sleep(self.served_latency)
            host = dict(scope.get("headers") or []).get(b"host", b"localhost").decode()
            query = scope.get("query_string", b"").decode()
            url = f"{scope.get('scheme', 'http')}://{host}{scope['path']}" + (f"?{query}" if query else "")
            request = httpx.Request(
                scope["method"],
                url,
                headers=[(k.decode(), v.decode()) for k, v in scope.get("headers", [])],
                content=b"".join(chunks),
            )
            try:
                response = self(request)
            except httpx.TransportError:
                response = httpx.Response(502, json={"error": "dropped by fault injection"})
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": [(k.encode(), v.encode()) for k, v in _plain_headers(response).items()],
                }
            )
            await send({"type": "http.response.body", "body": response.content})

        self.snapshot(INITIAL_SNAPSHOT)
        return app

    def _control(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        """The fake's own endpoints under `/_fake` (never the vendor's): state, reset, snapshot, restore, faults."""
        action = path[len(CONTROL_PATH) :].strip("/")
        try:
            args = json.loads(body) if body else {}
        except ValueError:
            return 400, {"error": "the body must be JSON"}
        if not isinstance(args, dict):
            return 400, {"error": "the body must be a JSON object"}
        if method == "GET" and action == "":
            return 200, self.state_summary()
        if method != "POST":
            return 405, {"error": f"{method} {path}: use GET {CONTROL_PATH} or POST {CONTROL_PATH}/<action>"}
        try:
            if action == "reset":
                self.restore(INITIAL_SNAPSHOT)
                self.faults.clear()
                self.fail_rate = 0.0
            elif action == "snapshot":
                return 200, {"snapshot": self.snapshot(args.get("name"))}
            elif action == "restore":
                self.restore(str(args.get("name", "")))
            elif action == "faults":
                if "fail_rate" in args:
                    self.fail_randomly(float(args["fail_rate"]), seed=int(args.get("seed", 0)))
                if "latency" in args:
                    self.served_latency = max(0.0, float(args["latency"]))
                if "status" in args:
                    self.fail_next(int(args["status"]), times=int(args.get("times", 1)), match=args.get("match"))
            else:
                return 404, {"error": f"no fake action {action!r}; use reset, snapshot, restore or faults"}
        except (KeyError, ValueError, TypeError) as exc:
            return 400, {"error": str(exc).strip("'\"")}
        return 200, self.state_summary()

    def state_summary(self) -> dict[str, Any]:
        """What `GET /_fake` answers: counts, faults in force and saved snapshots."""
        return {
            "vendor": self.vendor,
            "conversations": len(self.conversations),
            "customers": len(self.customers),
            "agents": len(self.agents),
            "groups": len(self.groups),
            "requests": len(self.requests),
            "writes": self.write_count(),
            "rate_limited": self.rate_limited,
            "fail_rate": self.fail_rate,
            "latency": self.served_latency,
            "snapshots": self.snapshots(),
        }


#: the fake's own endpoints (state, reset, snapshots, faults) when served; no vendor API lives under it
CONTROL_PATH = "/_fake"
#: the snapshot taken when a fake starts being served, which `POST /_fake/reset` restores
INITIAL_SNAPSHOT = "initial"

_ONE_SECOND = datetime(2000, 1, 1, 0, 0, 1) - datetime(2000, 1, 1)


def _next_version(version: str | None) -> str:
    try:
        return str(int(version or "0") + 1)
    except ValueError:
        return f"{version}.1"


def _matcher(match: Callable[[httpx.Request], bool] | str | None) -> Callable[[httpx.Request], bool] | None:
    if match is None or callable(match):
        return match
    pattern = re.compile(match)
    return lambda request: bool(pattern.search(request.url.path))


def _query(url: httpx.URL) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in url.params.multi_items():
        out.setdefault(key, []).append(value)
    return out


def _plain_headers(response: httpx.Response) -> dict[str, str]:
    skip = {"content-length", "content-encoding", "transfer-encoding"}
    return {k: v for k, v in response.headers.items() if k.lower() not in skip}


def _add_noise(data: Any) -> Any:
    """Adds a field no vendor has (yet) to every record-like object, as a vendor adding fields would."""
    if isinstance(data, list):
        return [_add_noise(x) for x in data]
    if isinstance(data, dict):
        out = {k: _add_noise(v) for k, v in data.items()}
        if "id" in out:
            out[NOISE_KEY] = {"nested": [1, "two", None], "flag": True}
        return out
    return data
