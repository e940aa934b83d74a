"""The `humansupport` command line: fits cron (JSON on stdout, documented exit codes, no tracebacks)."""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from enum import IntEnum, StrEnum
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final, NoReturn, TypeVar

import typer
from typer.core import TyperGroup

from . import __version__
from ._lazy import Console, Table, escape, lazy_console, lazy_module  # rich and asyncio load on first use
from .clock import SYSTEM_CLOCK
from .errors import (
    AuthenticationError,
    ConfigError,
    HumansupportError,
    LockHeldError,
    PermissionDeniedError,
    PluginError,
    RateLimitError,
    ServerError,
    StoreConflictError,
    TransportError,
)

# Start-up time: `--version` and `--help` must not import pydantic, httpx, SQLAlchemy, asyncio or the plugins.
# Commands import what they need inside their bodies; these are module names so tests can patch them.
if TYPE_CHECKING:
    import asyncio

    from .connect import build_adapter
    from .plugins import get_registry
else:
    asyncio = lazy_module("asyncio")

    def build_adapter(*args: Any, **kwargs: Any) -> Any:
        """`humansupport.connect.build_adapter`, imported on first use."""
        from .connect import build_adapter as build

        return build(*args, **kwargs)

    def get_registry() -> Any:
        """`humansupport.plugins.get_registry`, imported on first use."""
        from .plugins import get_registry as registry

        return registry()


__all__ = ["EXIT_FOR", "ExitCode", "app", "main"]

DEBUG_ENV = "HUMANSUPPORT_DEBUG"
T = TypeVar("T")


class ExitCode(IntEnum):
    """What a cron job can tell apart: retry later, fix credentials, or look at a partial run."""

    OK = 0
    ERROR = 1
    USAGE = 2
    CONFIG = 3
    AUTH = 4
    RETRY_LATER = 5
    PARTIAL = 6
    LOCKED = 7
    INTERRUPTED = 130
    TERMINATED = 143


# checked in order: subclasses before their bases
EXIT_FOR: Final[tuple[tuple[type[Exception], ExitCode], ...]] = (
    (ConfigError, ExitCode.CONFIG),
    (PluginError, ExitCode.CONFIG),
    (AuthenticationError, ExitCode.AUTH),
    (PermissionDeniedError, ExitCode.AUTH),
    (RateLimitError, ExitCode.RETRY_LATER),
    (ServerError, ExitCode.RETRY_LATER),
    (TransportError, ExitCode.RETRY_LATER),
    (LockHeldError, ExitCode.LOCKED),
    (StoreConflictError, ExitCode.RETRY_LATER),
    (HumansupportError, ExitCode.ERROR),
)

#: typer's click raises these for bad options and missing arguments; BadParameter is the public subclass
_UsageError: type[Exception] = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")
JSON_META: Final = "humansupport.json"


def _wants_json(args: Sequence[str]) -> bool:
    """Whether the command line asks for JSON, read before (or without) parsing it: usage errors need it too."""
    words = list(args)
    if "--" in words:
        words = words[: words.index("--")]
    if "--json" in words or "--format=json" in words:
        return True
    return any(a == "--format" and b == "json" for a, b in pairwise(words))


class _RootGroup(TyperGroup):
    """The `humansupport` group: with `--json`, a usage error is a JSON document too (exit 2)."""

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        as_json = _wants_json(args)
        try:
            ctx = super().make_context(info_name, args, parent=parent, **extra)
        except _UsageError as exc:
            _usage_error(exc, as_json=as_json)
        ctx.meta[JSON_META] = as_json
        return ctx

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except _UsageError as exc:
            _usage_error(exc, as_json=bool(ctx.meta.get(JSON_META)))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """A built-in command, else one a plugin adds through the `register_commands` hook (loaded only then)."""
        return super().get_command(ctx, cmd_name) or plugin_commands().get(cmd_name)


def plugin_commands() -> dict[str, Any]:
    """The commands plugins add (`register_commands`), by name: asked of the registry each time a name is not
    built in, so `--help` and the built-in commands never import a plugin. A built-in name always wins."""
    extra = new_typer()
    get_registry().register_commands(extra)
    if not extra.registered_commands and not extra.registered_groups:
        return {}
    return dict(typer.main.get_group(extra).commands)


def _usage_error(exc: Exception, *, as_json: bool) -> NoReturn:
    """Bad options or arguments: click's own message for people, the error document under --json."""
    if not as_json:
        raise exc
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    emit_json({"error": {"type": "UsageError", "message": message, "exit_code": int(ExitCode.USAGE)}})
    raise typer.Exit(int(ExitCode.USAGE))


def new_typer(**kwargs: Any) -> typer.Typer:
    """Every command group of the CLI: help text is plain (rich markup would eat "[least_loaded]")."""
    return typer.Typer(rich_markup_mode=None, add_completion=False, pretty_exceptions_enable=False, **kwargs)


app = new_typer(
    cls=_RootGroup,
    name="humansupport",
    help="Human-centric support on top of your helpdesk: routing, rebalance, profiles, metrics.",
    epilog="Plugins may add commands of their own (`humansupport plugins` lists the plugins; see their docs).",
    no_args_is_help=True,
)
fake_app = new_typer(help="Serve the plugins' fake helpdesk APIs over HTTP (for trying clients).", no_args_is_help=True)
app.add_typer(fake_app, name="fake")

err_console = lazy_console(stderr=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Write one JSON document to stdout.")]
VendorArgument = Annotated[
    str | None,
    typer.Argument(
        metavar="VENDOR|ACCOUNT",
        help="Helpdesk vendor (its single account), or an account named in humansupport.toml.",
        show_default=False,
    ),
]
AccountOption = Annotated[
    str | None,
    typer.Option(
        "--account",
        help="An account named in humansupport.toml ([accounts.NAME]), or a label for the vendor's single account "
        "in the store (default: the vendor name).",
    ),
]


def exit_code_for(exc: BaseException) -> ExitCode:
    for cls, code in EXIT_FOR:
        if isinstance(exc, cls):
            return code
    return ExitCode.ERROR


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", exclude={"raw"})
    if isinstance(value, set | frozenset):
        return sorted(value)
    return str(value)


def emit_json(data: Any, *, line: bool = False) -> None:
    """One JSON document on stdout, stable keys, ISO-8601 times; `line`: compact, one per line (servers)."""
    typer.echo(json.dumps(data, default=_json_default, indent=None if line else 2, sort_keys=True))


def fail(exc: BaseException, *, as_json: bool, lines: bool = False) -> NoReturn:
    """Prints a known error as a message (or JSON) with its exit code; no traceback unless debugging."""
    code = exit_code_for(exc)
    if os.environ.get(DEBUG_ENV):
        raise exc
    if as_json:
        emit_json({"error": {"type": type(exc).__name__, "message": str(exc), "exit_code": int(code)}}, line=lines)
    else:
        # the message is plain text (it may hold "[enrichment]" or vendor text): never read it as rich markup
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, markup=True, soft_wrap=True)
        err_console.print(f"(set {DEBUG_ENV}=1 for the full traceback)", style="dim")
    raise typer.Exit(int(code))


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so every `finally`, transaction and `async with` unwinds before exit 143."""


class _SigtermGuard:
    """While a command runs, SIGTERM unwinds it (store transactions roll back) instead of killing the process.

    Inside a running event loop the handler cancels the loop's tasks, as asyncio does for Ctrl-C: they stop
    at an `await`, never halfway through a store write, and no task is left with an unretrieved exception.
    Outside one (or on a second SIGTERM) it raises `Terminated` at once.
    """

    def __init__(self) -> None:
        self.terminating = False
        self._previous: Any = None

    def _handle(self, signum: int, frame: Any) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None or self.terminating:
            self.terminating = True
            raise Terminated
        self.terminating = True
        for task in asyncio.all_tasks(loop):
            task.cancel()
        loop.call_soon_threadsafe(lambda: None)  # wake the selector

    def __enter__(self) -> _SigtermGuard:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)


def _interrupted(exc: KeyboardInterrupt, *, as_json: bool, lines: bool) -> NoReturn:
    """Ctrl-C (130) or SIGTERM (143): what was written stays written; the next run resumes from it."""
    terminated = isinstance(exc, Terminated)
    code = ExitCode.TERMINATED if terminated else ExitCode.INTERRUPTED
    what = "terminated (SIGTERM)" if terminated else "interrupted (Ctrl-C)"
    message = f"{what}: work saved so far is kept; run the command again to resume"
    if as_json:
        error = {"type": "Terminated" if terminated else "Interrupted", "message": message, "exit_code": int(code)}
        emit_json({"error": error}, line=lines)
    else:
        err_console.print(message, highlight=False, markup=False)
    raise typer.Exit(int(code)) from None


def run_command(body: Callable[[], T], *, as_json: bool, lines: bool = False) -> T:
    """Runs a command body, turning known errors and signals into messages and exit codes.

    `lines` is for the servers: under `--json` each document (start-up info, the error) is one line.
    """
    guard = _SigtermGuard()
    try:
        with guard:
            result = body()
    except HumansupportError as exc:
        if guard.terminating:  # e.g. a request cut short by the cancellation
            _interrupted(Terminated(), as_json=as_json, lines=lines)
        fail(exc, as_json=as_json, lines=lines)
    except KeyboardInterrupt as exc:
        _interrupted(exc, as_json=as_json, lines=lines)
    except asyncio.CancelledError:
        if not guard.terminating:
            raise
        _interrupted(Terminated(), as_json=as_json, lines=lines)
    if guard.terminating:  # the body swallowed the cancellation: still report the signal
        _interrupted(Terminated(), as_json=as_json, lines=lines)
    return result


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"humansupport {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Human-centric support on top of your helpdesk."""


@app.command("plugins")
def plugins_command(as_json: JsonOption = False) -> None:
    """List installed plugins with version, vendors and capabilities (failed ones with their error)."""

    def body() -> list[dict[str, Any]]:
        rows = [p.to_dict() for p in get_registry().plugins()]
        if as_json:
            emit_json(rows)
            return rows
        if not rows:
            typer.echo("No plugins installed.")
            return rows
        table = Table("plugin", "version", "vendors", "capabilities", "error")
        for row in rows:
            caps = "; ".join(f"{v}: {', '.join(c)}" for v, c in row["capabilities"].items())
            table.add_row(row["name"], row["version"] or "", ", ".join(row["vendors"]), caps, row["error"] or "")
        Console().print(table)
        for row in rows:
            if row["error"]:
                err_console.print(f"plugin {row['name']} failed to load: {row['error']}", highlight=False, markup=False)
        return rows

    if any(row["error"] for row in run_command(body, as_json=as_json)):
        raise typer.Exit(int(ExitCode.CONFIG))  # a broken plugin is a configuration problem, listed above


@app.command("check")
def check_command(
    vendor: VendorArgument = None,
    base_url: Annotated[str | None, typer.Option(help="Override the API base URL (proxy, test server).")] = None,
    account: AccountOption = None,
    as_json: JsonOption = False,
) -> None:
    """Validate the account's settings, call one cheap endpoint, and print rate-limit headroom."""

    def body() -> None:
        acct = _account(vendor, account)
        adapter = build_adapter(
            acct.vendor,
            account=acct.name,
            settings={"base_url": base_url} if base_url else None,
            clock=SYSTEM_CLOCK,
        )

        async def go() -> Any:
            async with adapter:
                return await adapter.check()

        checked = asyncio.run(go())
        report = checked.to_dict()
        if as_json:
            emit_json(report)
            return
        typer.echo(f"{acct.name}: ok")
        typer.echo(checked.rate_line())  # either rate figure may be missing: never formatted blindly
        for key, value in sorted((report.get("details") or {}).items()):
            typer.echo(f"{key}: {value}")

    run_command(body, as_json=as_json)


@app.command("demo")
def demo_command(
    vendor: Annotated[
        str | None, typer.Option(help="Fake helpdesk to run on (default: the first published plugin installed).")
    ] = None,
    customers: Annotated[int, typer.Option(min=10, max=5000, help="Synthetic customers to seed.")] = 300,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic history.")] = 7,
    as_json: JsonOption = False,
) -> None:
    """Run on a fake helpdesk seeded with a synthetic year of support: no credentials needed."""
    from .demo import run_demo

    def body() -> None:
        report = run_demo(vendor=vendor, customers=customers, seed=seed)
        if as_json:
            emit_json(report.to_dict())
        else:
            report.print(Console())

    run_command(body, as_json=as_json)


StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store", help="Store URL or SQLite path (default: $HUMANSUPPORT_STORE, [store] url, user data dir)."
    ),
]


def _account(name: str | None, account: str | None, *, store_only: bool = False) -> Any:
    """The account a command means: VENDOR or ACCOUNT as its argument, and/or --account (humansupport.config).

    A store-only report (`store_only`) also accepts a label the configuration does not name, as long as a vendor
    is given: the store says whether it holds that account.
    """
    from .config import Account
    from .connect import find_account

    try:
        return find_account(name, account=account)
    except ConfigError:
        if not store_only or name is None:
            raise
        return Account(name=account or name, vendor=name)


def _shift(first: str | None, second: str | None, account: str | None) -> tuple[str | None, str | None]:
    """`route --account zd-a 123`: with --account naming a configured account, a lone positional that is
    neither that account nor its vendor is the command's second argument."""
    if account is None or first is None or second is not None:
        return first, second
    from .config import load_config_file

    table = (load_config_file().get("accounts") or {}).get(account)
    if isinstance(table, dict) and first not in (account, table.get("vendor")):
        return None, first
    return first, second


def _command_args(acct: Any) -> str:
    """How a command names this account: `eu-desk`, `VENDOR`, or `VENDOR --account acme` for a label."""
    if acct.named or acct.name == acct.vendor:
        return str(acct.name)
    return f"{acct.vendor} --account {acct.name}"


def _open_store(url: str | None, *, create: bool = True) -> Any:
    from .config import load_config_file
    from .store import Store, default_store_url

    return Store.open(url or default_store_url(config=load_config_file()), create=create)


def _routing_config(options: dict[str, Any]) -> tuple[Any, Any]:
    """RouterConfig and AffinityConfig from command-line options > `[routing]` in humansupport.toml > defaults."""
    from dataclasses import fields

    from .config import load_config_file
    from .routing import AffinityConfig, RouterConfig

    table = dict(load_config_file().get("routing") or {})
    known = {f.name for f in fields(RouterConfig)} | {f.name for f in fields(AffinityConfig)}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(
            f"[routing] in humansupport.toml: unknown key(s) {', '.join(unknown)}; known: {sorted(known)}"
        )
    merged = {**table, **{k: v for k, v in options.items() if v is not None}}
    for key in ("groups", "keep_owner_channels"):
        if key in merged:
            merged[key] = tuple(merged[key])
    try:
        affinity = AffinityConfig(**{k: v for k, v in merged.items() if k in {f.name for f in fields(AffinityConfig)}})
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"routing: {exc}") from None
    router = RouterConfig(**{k: v for k, v in merged.items() if k in {f.name for f in fields(RouterConfig)}})
    return router, affinity


def _progress_enabled(as_json: bool) -> bool:
    return not as_json and err_console.is_terminal


def sync_progress(console: Console, **kwargs: Any) -> tuple[Any, Callable[[str, int], None]]:
    """One line per stream with the count read so far; a finished stream shows its total and a full bar."""
    from rich.progress import BarColumn, Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn
    from rich.text import Text

    class CountColumn(ProgressColumn):
        def render(self, task: Task) -> Text:
            done = f"{int(task.completed):,}"
            return Text(f"{done}/{int(task.total):,}" if task.total is not None else f"{done} read")

    bar = Progress(
        TextColumn("{task.description:<14}"),
        BarColumn(),
        CountColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        **kwargs,
    )
    tasks: dict[str, Any] = {}
    counts: dict[str, int] = {}

    def tick(stream: str, n: int) -> None:
        if stream not in tasks:
            for name, task_id in tasks.items():  # streams run one after another: the earlier ones are complete
                bar.update(task_id, total=counts[name])
            tasks[stream] = bar.add_task(stream, total=None)
        counts[stream] = n
        bar.update(tasks[stream], completed=n)

    return bar, tick


@app.command("sync")
def sync_command(
    vendor: VendorArgument = None,
    since: Annotated[
        datetime | None, typer.Option(help="Re-read everything updated since this time (ISO 8601) instead of cursors.")
    ] = None,
    full: Annotated[bool, typer.Option("--full", help="Ignore saved cursors and read everything.")] = False,
    store_url: StoreOption = None,
    account: AccountOption = None,
    as_json: JsonOption = False,
) -> None:
    """Pull conversations, messages, agents, groups, customers and ratings into the history store."""
    from .models import to_utc
    from .sync import sync_helpdesk

    def body() -> None:
        acct = _account(vendor, account)
        with _open_store(store_url) as store:
            adapter = build_adapter(acct.vendor, account=acct.name, clock=SYSTEM_CLOCK, rate_budget=store.rate_budget())

            async def go() -> Any:
                async with adapter:
                    if not _progress_enabled(as_json):
                        return await sync_helpdesk(
                            adapter, store, account=acct.name, since=to_utc(since), full=full, clock=SYSTEM_CLOCK
                        )
                    bar, tick = sync_progress(err_console)
                    with bar:
                        return await sync_helpdesk(
                            adapter,
                            store,
                            account=acct.name,
                            since=to_utc(since),
                            full=full,
                            clock=SYSTEM_CLOCK,
                            progress=tick,
                        )

            report = asyncio.run(go())
        if as_json:
            emit_json(report.to_dict())
            return
        counts = dict(report.items)
        counts.setdefault("messages", report.messages)  # a bulk-messages vendor has them as a stream already
        typer.echo(f"{acct.name}: synced {', '.join(f'{n} {k}' for k, n in counts.items())}")
        typer.echo(
            f"{report.requests} requests, {report.rate_limited} answered 429, {report.seconds:.1f} s"
            + "".join(
                f"\n  {name:<14}{s.items:>9} items{s.requests:>7} requests{s.rate_limited:>5} x 429{s.seconds:>8.1f} s"
                for name, s in report.streams.items()
            )
        )
        if report.deleted_agents:
            typer.echo(f"agents gone from the helpdesk: {', '.join(report.deleted_agents)}")

    run_command(body, as_json=as_json)


@app.command("route")
def route_command(
    vendor: VendorArgument = None,
    conversation_id: Annotated[str | None, typer.Argument(help="The conversation to route (or --new).")] = None,
    new: Annotated[bool, typer.Option("--new", help="Route every unassigned open conversation in the store.")] = False,
    apply: Annotated[bool, typer.Option("--apply", help="Assign through the helpdesk (default: dry run).")] = False,
    threshold: Annotated[float | None, typer.Option(help="Minimum affinity for a preferred agent [0.5].")] = None,
    wait_hours: Annotated[float | None, typer.Option(help="Wait this long for an away preferred agent [0].")] = None,
    top_k: Annotated[int | None, typer.Option(min=1, help="Affine agents tried before the fallback [3].")] = None,
    fallback: Annotated[
        str | None, typer.Option(help="Fallback strategy: least_loaded, round_robin or a plugin's [least_loaded].")
    ] = None,
    group: Annotated[
        list[str] | None, typer.Option("--group", help="Groups to route within when a conversation has none.")
    ] = None,
    keep_owner: Annotated[
        list[str] | None,
        typer.Option("--keep-owner-channel", help="Channel (e.g. email) kept with the preferred agent when away."),
    ] = None,
    half_life_days: Annotated[float | None, typer.Option(help="Affinity half-life in days [90].")] = None,
    stickiness_days: Annotated[
        float | None, typer.Option(help="Ignore conversations older than this many days [no limit].")
    ] = None,
    store_url: StoreOption = None,
    account: AccountOption = None,
    as_json: JsonOption = False,
) -> None:
    """Pick the agent who knows the customer best, with the reason; dry run unless --apply."""
    from .routing.service import route_conversations

    def body() -> None:
        target, conversation = _shift(vendor, conversation_id, account)
        if (conversation is None) == (not new):
            raise typer.BadParameter("give a CONVERSATION_ID or --new (not both)")
        acct = _account(target, account)
        config, affinity = _routing_config(
            {
                "threshold": threshold,
                "wait_for_preferred_hours": wait_hours,
                "top_k": top_k,
                "fallback": fallback,
                "groups": tuple(group) if group else None,
                "keep_owner_channels": tuple(keep_owner) if keep_owner else None,
                "half_life_days": half_life_days,
                "stickiness_days": stickiness_days,
            }
        )
        with _open_store(store_url, create=False) as store:
            adapter = build_adapter(acct.vendor, account=acct.name, clock=SYSTEM_CLOCK, rate_budget=store.rate_budget())
            result = asyncio.run(
                route_conversations(
                    adapter,
                    store,
                    account=acct.name,
                    conversation_id=conversation,
                    apply=apply,
                    config=config,
                    affinity=affinity,
                    clock=SYSTEM_CLOCK,
                    strategies=get_registry().routing_strategies(),
                )
            )
        if as_json:
            emit_json(result.to_dict())
        else:
            result.print(Console())
        if apply and any(not r.ok for r in result.applied):
            raise typer.Exit(int(ExitCode.PARTIAL))

    run_command(body, as_json=as_json)


@app.command("metrics")
def metrics_command(
    store_url: StoreOption = None,
    account: AccountOption = None,
    as_json: JsonOption = False,
) -> None:
    """Relationship metrics (preferred-agent share, UPC, COC, SECON, ...) beside speed, from the store."""
    from .metrics import compute_metrics

    def body() -> None:
        with _open_store(store_url, create=False) as store:
            accounts = store.accounts()
            chosen = account
            if chosen is None:
                if len(accounts) != 1:
                    raise ConfigError(
                        f"the store holds {len(accounts)} accounts ({', '.join(accounts) or 'none'}); "
                        "choose one with --account" + ("" if accounts else ", after `humansupport sync VENDOR`")
                    )
                chosen = accounts[0]
            else:
                store.require_account(chosen, before="computing its metrics")
            report = compute_metrics(store, chosen)
        if as_json:
            emit_json({"account": chosen, **report.to_dict()})
            return
        table = Table("metric", "value", title=f"relationship metrics: {chosen}")
        for key, value in report.overall.items():
            table.add_row(key.replace("_", " "), "-" if value is None else str(value))
        Console().print(table)
        agents = Table("agent", "conversations", "preferred share", "good ratings", "first reply h")
        for row in report.per_agent.values():
            agents.add_row(
                str(row["name"]),
                str(row["conversations"]),
                str(row["preferred_share_of_returning"]),
                str(row["good_rating_share"]),
                str(row["median_first_reply_hours"]),
            )
        Console().print(agents)

    run_command(body, as_json=as_json)


# --- rebalance -----------------------------------------------------------------------------------------


class _RebalanceGroup(TyperGroup):
    """`rebalance VENDOR ...` plans (the `plan` sub-command); `rebalance apply PLAN` applies a saved plan."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["plan", *args]
        return super().parse_args(ctx, args)


rebalance_app = new_typer(
    cls=_RebalanceGroup,
    help="Nightly rebalance: `rebalance VENDOR` plans (dry run unless --apply); `rebalance apply PLAN` applies.",
    no_args_is_help=True,
)
app.add_typer(rebalance_app, name="rebalance")

ResumeOption = Annotated[
    bool,
    typer.Option("--resume", help="Continue the last unfinished run's journal first (safe to pass every night)."),
]
MaxRuntimeOption = Annotated[
    float | None, typer.Option("--max-runtime", min=1, help="Stop cleanly between chunks after this many seconds.")
]
JournalDaysOption = Annotated[
    int, typer.Option("--journal-days", min=0, help="Delete finished runs from the journal after N days (0: keep).")
]


def _retention(days: int) -> timedelta | None:
    return timedelta(days=days) if days else None


def _rebalance_exit(report: Any) -> None:
    if report is None:
        return
    if report.outcome == "error":
        raise typer.Exit(int(ExitCode.ERROR))
    if report.outcome == "partial":
        raise typer.Exit(int(ExitCode.PARTIAL))


@rebalance_app.command("plan")
def rebalance_plan_command(
    vendor: VendorArgument = None,
    output: Annotated[Path | None, typer.Option("--output", help="Save the plan as JSON (for `apply`).")] = None,
    max_moves: Annotated[int | None, typer.Option("--max-moves", min=0, help="At most this many moves.")] = None,
    per_agent_moves: Annotated[
        int | None, typer.Option("--per-agent-moves", min=0, help="At most this many moves into one agent.")
    ] = None,
    move_penalty: Annotated[
        float, typer.Option("--move-penalty", min=0, help="Affinity a move must gain to be worth it.")
    ] = 0.1,
    k: Annotated[int, typer.Option("--k", min=0, help="Most affine agents considered per conversation.")] = 10,
    groups: Annotated[
        list[str] | None, typer.Option("--groups", help="Only these groups (repeat, or comma-separate).")
    ] = None,
    exclude_touched_hours: Annotated[
        float | None,
        typer.Option("--exclude-touched-hours", min=0, help="Leave conversations updated in the last H hours."),
    ] = None,
    apply: Annotated[bool, typer.Option("--apply", help="Apply the plan (default: dry run).")] = False,
    resume: ResumeOption = False,
    max_runtime: MaxRuntimeOption = None,
    journal_days: JournalDaysOption = 90,
    store_url: StoreOption = None,
    account: AccountOption = None,
    as_json: JsonOption = False,
) -> None:
    """Plan a rebalance of open conversations from the store; dry run unless --apply."""
    from .extras import require_extra
    from .routing.rebalance_service import plan_and_apply, rebalance_config
    from .routing.rebalance_store import require_history

    def body() -> Any:
        require_extra("rebalance")  # numpy, SciPy, OR-Tools: before the store is read or the helpdesk called
        config = rebalance_config(
            move_penalty=move_penalty,
            max_moves=max_moves,
            max_moves_per_agent=per_agent_moves,
            candidates=k,
            groups=groups or [],
            exclude_human_touched_hours=exclude_touched_hours,
            default_capacity=_routing_config({})[0].default_capacity,
        )
        acct = _account(vendor, account)
        with _open_store(store_url, create=False) as store:
            require_history(store, acct.name, vendor=acct.vendor)  # before credentials: the likelier mistake
            adapter = build_adapter(acct.vendor, account=acct.name, clock=SYSTEM_CLOCK, rate_budget=store.rate_budget())
            plan, report = asyncio.run(
                plan_and_apply(
                    adapter,
                    store,
                    account=acct.name,
                    vendor=acct.vendor,
                    config=config,
                    output=output,
                    apply=apply,
                    resume=resume,
                    max_runtime=max_runtime,
                    journal_retention=_retention(journal_days),
                    clock=SYSTEM_CLOCK,
                )
            )
        if as_json:
            emit_json(
                {
                    "dry_run": not apply,
                    "summary": plan.summary(),
                    "plan": plan.to_dict(),
                    "apply": None if report is None else report.to_dict(),
                }
            )
        else:
            Console().print(plan.table())
            for u in plan.unplaced[:20]:
                typer.echo(f"left: {u.conversation_id} ({u.reason.value})")
            if report is None:
                typer.echo("dry run: nothing was assigned (add --apply)")
            elif report.resumed:
                typer.echo("an unfinished run was resumed instead of applying this plan; the next run plans anew")
            typer.echo(plan.summary())
            if report is not None:
                typer.echo(report.summary())
        return report

    _rebalance_exit(run_command(body, as_json=as_json))


@rebalance_app.command("apply")
def rebalance_apply_command(
    plan_path: Annotated[
        Path | None, typer.Argument(metavar="PLAN", help="A plan saved with `rebalance VENDOR --output`.")
    ] = None,
    vendor: Annotated[str | None, typer.Option("--vendor", help="Vendor (default: the one in the plan).")] = None,
    resume: ResumeOption = False,
    max_runtime: MaxRuntimeOption = None,
    journal_days: JournalDaysOption = 90,
    store_url: StoreOption = None,
    account: AccountOption = None,
    as_json: JsonOption = False,
) -> None:
    """Apply a saved plan (journaled, locked, resumable); --resume continues an unfinished run."""
    from .routing.rebalance_apply import RebalanceApplyReport
    from .routing.rebalance_service import account_to_resume, apply_plan, load_plan

    def body() -> Any:
        if plan_path is None and not resume:
            raise typer.BadParameter("give a PLAN file, or --resume to continue an unfinished run")
        plan = load_plan(plan_path) if plan_path is not None else None
        with _open_store(store_url, create=False) as store:
            label = account or (plan.account if plan else None)
            chosen = vendor or (plan.vendor if plan else None)
            if plan is None and label is None and chosen is None:  # --resume alone: the journal knows the run
                label = account_to_resume(store)
                if label is None:
                    return _print_apply(RebalanceApplyReport(run_id=None, resumed=True), as_json=as_json)
            acct = _account(chosen, label)
            adapter = build_adapter(acct.vendor, account=acct.name, clock=SYSTEM_CLOCK, rate_budget=store.rate_budget())
            report = asyncio.run(
                apply_plan(
                    adapter,
                    store,
                    plan,
                    account=acct.name,
                    resume=resume,
                    max_runtime=max_runtime,
                    journal_retention=_retention(journal_days),
                    clock=SYSTEM_CLOCK,
                    default_capacity=_routing_config({})[0].default_capacity,
                )
            )
        return _print_apply(report, as_json=as_json)

    _rebalance_exit(run_command(body, as_json=as_json))


def _print_apply(report: Any, *, as_json: bool) -> Any:
    if as_json:
        emit_json(report.to_dict())
        return report
    not_applied = [e for e in report.entries if e.state.value != "applied"]
    for e in not_applied[:50]:
        typer.echo(f"{e.conversation_id}: {e.state.value} ({e.message or 'not sent yet'})")
    if len(not_applied) > 50:
        typer.echo(f"... and {len(not_applied) - 50} more (--json lists all)")
    typer.echo(report.summary())
    return report


def listen_socket(host: str, port: int) -> Any:
    """Binds before anything is printed: a busy port or an unknown host is a clear error (exit 3), no traceback."""
    import errno
    import socket

    where = f"{host}:{port}"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise ConfigError(
            f"cannot listen on {where}: the host does not resolve ({exc.strerror}); check --host"
        ) from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            hint = "another process listens there: stop it, or pass another --port (--port 0 picks a free one)"
        elif exc.errno == errno.EACCES:
            hint = "not allowed (ports below 1024 need privileges): pass a --port above 1023"
        else:
            hint = f"{exc.strerror or exc}; check --host and --port"
        raise ConfigError(f"cannot listen on {where}: {hint}") from None
    sock.set_inheritable(True)
    return sock


def fake_connection(vendor: str, fake_cls: Any, url: str) -> dict[str, Any]:
    """The settings that point the CLI (environment), the Python API (keywords) and the vendor's popular
    clients at a served fake, and its control endpoints."""
    from .testing.fake import CONTROL_PATH
    from .testing.serving import connection_settings

    settings = connection_settings(fake_cls, url)
    env = {f"HUMANSUPPORT_{vendor.upper()}_{key.upper()}": str(value) for key, value in settings.items()}
    keywords = ", ".join(f"{key}={json.dumps(value)}" for key, value in settings.items())
    python = f"import humansupport as hs; helpdesk = hs.connect({json.dumps(vendor)}, {keywords})"
    return {
        "vendor": vendor,
        "url": url,
        "environment": env,
        "python": python,
        "clients": fake_cls.client_settings(url),
        "control": {"state": f"GET {url}{CONTROL_PATH}", "reset": f"POST {url}{CONTROL_PATH}/reset"},
    }


@fake_app.command("serve")
def fake_serve_command(
    vendor: Annotated[str, typer.Argument(help="Vendor whose fake to serve.")],
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port on 127.0.0.1 (0 picks a free one).")] = 8765,
    customers: Annotated[int, typer.Option(min=10, max=50000, help="Synthetic customers to seed.")] = 300,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic history.")] = 7,
    rate_limit: Annotated[int | None, typer.Option(help="Requests per minute before 429s.")] = None,
    fail_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of requests answered with a random 500/502/503.")
    ] = 0.0,
    latency: Annotated[float, typer.Option(min=0.0, help="Seconds each request waits before its answer.")] = 0.0,
    as_json: Annotated[
        bool, typer.Option("--json", help="Write the start-up info and errors as JSON lines to stdout.")
    ] = False,
) -> None:
    """Serve a plugin's stateful fake API on 127.0.0.1; print the settings that point the CLI, Python and the
    vendor's popular clients at it. `GET /_fake` shows its state; `POST /_fake/reset` restores the seeded one."""
    import shlex

    from .plugins import unknown_vendor_error
    from .testing.clock import LiveClock
    from .testing.synthetic import HistoryConfig, generate_history

    def body() -> None:
        import uvicorn

        fakes = get_registry().fakes()
        if vendor not in fakes:
            raise unknown_vendor_error(vendor, list(fakes), what="fake")
        sock = listen_socket("127.0.0.1", port)
        try:
            fake = fakes[vendor](
                history=generate_history(HistoryConfig(customers=customers, seed=seed)),
                rate_limit_per_minute=rate_limit,
                clock=LiveClock(),  # served to real clients: rate windows and token expiry follow real time
            )
            fake.fail_randomly(fail_rate, seed=seed)
            fake.served_latency = latency
            info = fake_connection(vendor, fakes[vendor], f"http://127.0.0.1:{sock.getsockname()[1]}")
            if as_json:
                emit_json(info, line=True)
            else:  # stdout is a shell script: `humansupport fake serve VENDOR > fake.env &` then `. fake.env`
                typer.echo(f"# fake {vendor} serving on {info['url']} until Ctrl-C; in another shell:")
                for name, value in info["environment"].items():
                    typer.echo(f"export {name}={shlex.quote(value)}")
                typer.echo(f"# then: humansupport check {vendor}")
                typer.echo(f"# Python: {info['python']}")
                for client, hint in info["clients"].items():
                    for name, value in hint.get("environment", {}).items():
                        typer.echo(f"export {name}={shlex.quote(str(value))}  # for {client}")
                    if hint.get("python"):
                        typer.echo(f"# {client}: {hint['python']}")
                typer.echo(
                    f"# state: {info['control']['state']}; reset to the seeded state: {info['control']['reset']}"
                )
            server = uvicorn.Server(uvicorn.Config(fake.asgi_app(), log_level="warning", lifespan="off"))
            server.run(sockets=[sock])
        finally:
            sock.close()

    run_command(body, as_json=as_json, lines=True)


# -- profile enrichment ---------------------------------------------------------------------------------

WriteOption = Annotated[bool, typer.Option("--write", help="Write the changes to the helpdesk (default: dry run).")]
ForceOption = Annotated[bool, typer.Option("--force", help="Overwrite fields a human edited since our last write.")]


def _enrichment_inputs() -> tuple[Any, list[Any]]:
    """Settings from `[enrichment]` of humansupport.toml and the registered enrichers (built-in and plugins')."""
    from .config import load_config_file
    from .enrichment.service import enrichment_settings

    return enrichment_settings(load_config_file()), list(get_registry().enrichers().values())


def _print_changes(console: Console, plan: Any, *, title: str) -> None:
    """The diff of one plan: attribute, what the helpdesk has, what we would write."""
    if plan.changes:
        from rich.text import Text  # customer text and our note markers are not rich markup

        table = Table("field", "now", "after", title=title, title_justify="left")
        for change in plan.changes:
            table.add_row(
                Text(change.attribute),
                Text("" if change.before is None else str(change.before)),
                Text("(removed)" if change.after is None else str(change.after)),
            )
        console.print(table)
    else:
        console.print(f"{title}: nothing to change", highlight=False, markup=False)
    if plan.protected:
        console.print(
            f"left alone (edited by a human since our last write; --force overwrites): {', '.join(plan.protected)}",
            highlight=False,
            markup=False,
        )
    for cut in plan.truncated:
        console.print(
            f"truncated: {cut.attribute} had {cut.length} characters, the limit is {cut.limit}", highlight=False
        )
    if plan.skipped:
        console.print(f"skipped: {plan.skipped}", highlight=False, markup=False)
    if plan.tags_not_removed:
        console.print(f"remove these tags by hand: {', '.join(plan.tags_not_removed)}", highlight=False, markup=False)


@app.command("profile")
def profile_command(
    vendor: VendorArgument = None,
    customer: Annotated[
        str | None, typer.Argument(metavar="CUSTOMER_OR_EMAIL", help="Customer id or email address.")
    ] = None,
    write: WriteOption = False,
    force: ForceOption = False,
    forget: Annotated[
        bool, typer.Option("--forget", help="Remove our fields in the helpdesk and the store's copy of the customer.")
    ] = False,
    html: Annotated[
        Path | None, typer.Option("--html", help="Also write a self-contained HTML card to this file.")
    ] = None,
    store_url: StoreOption = None,
    account: AccountOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a customer's profile card and the diff against the helpdesk; --write applies it with read-back."""
    from .enrichment.card import html_card, render_card
    from .enrichment.service import run_forget, run_profile

    def body() -> None:
        if forget and (force or html is not None):
            raise typer.BadParameter("--forget takes no --force or --html")
        target, who = _shift(vendor, customer, account)
        if who is None:
            raise typer.BadParameter("give the CUSTOMER_OR_EMAIL")
        acct = _account(target, account)
        settings, enrichers = _enrichment_inputs()
        with _open_store(store_url, create=False) as store:
            if not forget:  # erasure works on whatever the store holds, even nothing
                store.require_account(acct.name, vendor=acct.vendor, before="building a profile")
            adapter = build_adapter(acct.vendor, account=acct.name, clock=SYSTEM_CLOCK, rate_budget=store.rate_budget())

            async def go() -> Any:
                async with adapter:
                    if forget:
                        return await run_forget(adapter, store, who, account=acct.name, settings=settings)
                    return await run_profile(
                        adapter,
                        store,
                        who,
                        account=acct.name,
                        settings=settings,
                        enrichers=enrichers,
                        now=SYSTEM_CLOCK.now(),
                        write=write,
                        force=force,
                    )

            outcome = asyncio.run(go())
        if forget:
            if as_json:
                emit_json(outcome.to_dict())
                return
            console = Console()
            if outcome.helpdesk is None:
                console.print(
                    f"{acct.name} has no customer {outcome.customer_id} any more", highlight=False, markup=False
                )
            else:
                _print_changes(console, outcome.helpdesk.plan, title=f"removed from {acct.name}")
            erased = ", ".join(f"{n} {table}" for table, n in outcome.erased.items() if n) or "nothing"
            console.print(f"erased from the store: {erased}", highlight=False, markup=False)
            return
        if html is not None and outcome.profile is not None:
            html.write_text(html_card(outcome.profile), encoding="utf-8")
        if as_json:
            emit_json(outcome.to_dict())
        else:
            console = Console()
            if outcome.profile is not None:
                console.print(render_card(outcome.profile))
            _print_changes(console, outcome.plan, title=f"changes for {acct.name} customer {outcome.customer.id}")
            if outcome.result.written:
                console.print("written and read back", highlight=False, markup=False)
            elif not outcome.plan.patch.empty:
                console.print("dry run: nothing written (add --write)", highlight=False, markup=False)
            for name in outcome.result.mismatches:
                console.print(f"read back differs: {name}", highlight=False, markup=False)
        if outcome.result.mismatches:
            raise typer.Exit(int(ExitCode.PARTIAL))

    run_command(body, as_json=as_json)


@app.command("enrich")
def enrich_command(
    vendor: VendorArgument = None,
    since: Annotated[
        datetime | None,
        typer.Option(help="Only customers the store saw touched since this time (ISO 8601) [all customers]."),
    ] = None,
    write: WriteOption = False,
    force: ForceOption = False,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Writes in flight at once [8].")] = 8,
    max_writes: Annotated[
        int | None, typer.Option(min=0, help="Write budget: changed customers past it wait for the next run.")
    ] = None,
    store_url: StoreOption = None,
    account: AccountOption = None,
    as_json: JsonOption = False,
) -> None:
    """Enrich every customer touched since a date: writes only changed customers, paced by the rate limit."""
    from .enrichment.service import run_enrich
    from .models import to_utc

    def body() -> None:
        acct = _account(vendor, account)
        settings, enrichers = _enrichment_inputs()
        with _open_store(store_url, create=False) as store:
            store.require_account(acct.name, vendor=acct.vendor, before="enriching its customers")
            adapter = build_adapter(acct.vendor, account=acct.name, clock=SYSTEM_CLOCK, rate_budget=store.rate_budget())

            async def go() -> Any:
                async with adapter:
                    return await run_enrich(
                        adapter,
                        store,
                        account=acct.name,
                        settings=settings,
                        enrichers=enrichers,
                        now=SYSTEM_CLOCK.now(),
                        since=to_utc(since),
                        write=write,
                        force=force,
                        concurrency=concurrency,
                        max_writes=max_writes,
                    )

            run = asyncio.run(go())
        report = run.report
        if as_json:
            emit_json(run.to_dict())
        else:
            console = Console()
            for plan in run.plans[:20]:
                _print_changes(console, plan, title=f"customer {plan.customer_id}")
            if len(run.plans) > 20:
                console.print(f"... and {len(run.plans) - 20} more customers with changes (--json lists all)")
            done = f"{report.written} written" if write else "dry run, nothing written (add --write)"
            console.print(
                f"{acct.name}: {run.customers} customers, {len(run.plans)} changed, {done}, "
                f"{report.unchanged} unchanged, {report.skipped} opted out, {report.protected} with "
                f"human edits kept, {report.truncated} truncated, {report.deferred} deferred by --max-writes, "
                f"{len(report.failed)} failed",
                highlight=False,
                markup=False,
            )
            for cid, reason in sorted(report.failed.items()):
                console.print(f"failed: customer {cid}: {reason}", highlight=False, markup=False)
        if report.failed or report.mismatches or report.deferred:
            raise typer.Exit(int(ExitCode.PARTIAL))

    run_command(body, as_json=as_json)


@app.command("setup")
def setup_command(
    vendor: VendorArgument = None,
    detail: Annotated[
        list[str] | None, typer.Option("--detail", help="A consented detail key to create a field for (repeatable).")
    ] = None,
    account: AccountOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create the custom fields profile write-back needs, or print the exact steps where the API cannot."""
    from .enrichment.service import run_setup

    def body() -> None:
        acct = _account(vendor, account)
        settings, _ = _enrichment_inputs()
        adapter = build_adapter(acct.vendor, account=acct.name, clock=SYSTEM_CLOCK)

        async def go() -> Any:
            async with adapter:
                return await run_setup(adapter, settings=settings, detail_keys=detail or ())

        report = asyncio.run(go())
        if as_json:
            emit_json(report.to_dict())
            return
        data = report.to_dict()
        table = Table("field", "kind", "max length", "", title=f"{acct.name} customer fields", title_justify="left")
        for spec in report.fields:
            state = "created" if spec.name in report.created else "exists"
            table.add_row(spec.name, spec.kind, str(spec.max_length or ""), state)
        Console().print(table)
        typer.echo(f"{len(data['created'])} created, {len(data['existing'])} already there")

    run_command(body, as_json=as_json)


# -- reply-certainty check ---------------------------------------------------------------------------------

replies_app = new_typer(
    help="Check saved replies and macros for hedging, stock apologies, false hope and blame.", no_args_is_help=True
)
app.add_typer(replies_app, name="replies")


class ReplyFormat(StrEnum):
    """`replies lint --format`: for people, one JSON document, or GitHub Actions annotations."""

    TEXT = "text"
    JSON = "json"
    GITHUB = "github"


ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="The humansupport.toml to read (default: $HUMANSUPPORT_CONFIG, ./).")
]


def _reply_linter(config: Path | None, disable: list[str], fail_on: str | None) -> Any:
    """The Linter for this run: registered rules, `[replies]` of humansupport.toml, command-line overrides."""
    from dataclasses import replace

    from .config import load_config_file
    from .replies.linter import LintConfig, Linter, Severity

    rules = get_registry().reply_rules()
    table = load_config_file(config).get("replies") or {}
    if not isinstance(table, dict):
        raise ConfigError("[replies] in humansupport.toml must be a table")
    lint_config = LintConfig.from_table(table, rules=rules, disable=disable)
    if fail_on is not None:
        lint_config = replace(lint_config, fail_on=Severity(fail_on))
    return Linter(rules=rules, config=lint_config)


@replies_app.command("lint")
def replies_lint_command(
    files: Annotated[
        list[str] | None,
        typer.Argument(help="Text/Markdown files or directories (walked for *.md, *.txt); - reads stdin."),
    ] = None,
    vendor: Annotated[
        str | None, typer.Option("--vendor", help="Also read the saved replies/macros of this helpdesk.")
    ] = None,
    account: Annotated[
        str | None,
        typer.Option("--account", help="Also read the saved replies/macros of this account (humansupport.toml)."),
    ] = None,
    output_format: Annotated[ReplyFormat, typer.Option("--format", help="text, json or github.")] = ReplyFormat.TEXT,
    fail_on: Annotated[
        str | None,
        typer.Option("--fail-on", help="Exit 1 only for findings at or above this: info (default), warning, error."),
    ] = None,
    disable: Annotated[list[str] | None, typer.Option("--disable", help="Switch a rule off (repeatable).")] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Lint saved replies for hedging, reflexive apologies, false hope and blame; exit 1 when findings exist."""
    from .replies.linter import LintReport, Severity
    from .replies.output import github_annotations, print_report
    from .replies.sources import lint_files, lint_helpdesk

    json_out = as_json or output_format is ReplyFormat.JSON

    def body() -> Any:
        if not files and vendor is None and account is None:
            raise typer.BadParameter("give FILES (or - for stdin) and/or --vendor VENDOR or --account ACCOUNT")
        if fail_on is not None and fail_on not in {s.value for s in Severity}:
            raise typer.BadParameter(f"--fail-on must be info, warning or error (got {fail_on!r})")
        missing = [f for f in files or [] if f != "-" and not Path(f).exists()]
        if missing:
            raise typer.BadParameter(f"no such file or directory: {', '.join(missing)}")
        linter = _reply_linter(config, disable or [], fail_on)
        report = LintReport(fail_on=linter.config.fail_on)
        if files:
            report.replies.extend(lint_files(linter, files, stdin=typer.get_binary_stream("stdin")))
        if vendor is not None or account is not None:
            from .connect import find_account

            acct = find_account(vendor, account=account, config_file=config)
            adapter = build_adapter(acct.vendor, account=acct.name, clock=SYSTEM_CLOCK, config_file=config)
            report.replies.extend(asyncio.run(lint_helpdesk(adapter, linter)))
        if json_out:
            emit_json(report.to_dict())
        elif output_format is ReplyFormat.GITHUB:
            for line in github_annotations(report):
                typer.echo(line)
            print_report(report, err_console)
        else:
            print_report(report, Console(highlight=False))
        return report

    report = run_command(body, as_json=json_out)
    if report.failed:
        raise typer.Exit(int(ExitCode.ERROR))
    if not report.checked:  # a CI job must not pass on replies it never read
        raise typer.Exit(int(ExitCode.USAGE))


@replies_app.command("rules")
def replies_rules_command(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """List the reply rules (built-in and plugins'), with their severity after the replies configuration."""

    def body() -> None:
        linter = _reply_linter(config, [], None)
        rows = [
            {
                "id": rule_id,
                "severity": linter.severity_of(rule_id),
                "enabled": linter.severity_of(rule_id) is not None,
                "summary": str(getattr(cls, "summary", "")),
                "module": cls.__module__,
            }
            for rule_id, cls in get_registry().reply_rules().items()
        ]
        if as_json:
            emit_json(rows)
            return
        table = Table("rule", "severity", "what it finds", "from")
        for row in rows:
            table.add_row(row["id"], row["severity"] or "off", row["summary"], row["module"].split(".")[0])
        Console().print(table)

    run_command(body, as_json=as_json)


# -- real-time routing from helpdesk webhooks -----------------------------------------------------------

webhooks_app = new_typer(
    help="Receive helpdesk webhooks and route new conversations in real time.", no_args_is_help=True
)
app.add_typer(webhooks_app, name="webhooks")


@webhooks_app.command("serve")
def webhooks_serve_command(
    accounts: Annotated[
        list[str],
        typer.Argument(
            metavar="ACCOUNT...",
            help="Per account to receive for: an account named in humansupport.toml, a VENDOR (its single account) "
            "or VENDOR=LABEL.",
        ),
    ],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8787,
    max_body: Annotated[int, typer.Option(min=1024, help="Largest accepted body in bytes (bigger: 413).")] = 1_000_000,
    tolerance: Annotated[
        float | None, typer.Option(min=1, help="Seconds a signed timestamp may be off (vendors that sign one) [300].")
    ] = None,
    max_queue: Annotated[
        int, typer.Option(min=1, help="Queued events of one account past which its deliveries get 503 + Retry-After.")
    ] = 50_000,
    lease: Annotated[float, typer.Option(min=1, help="Seconds before a crashed worker's event is taken again.")] = 60.0,
    retain_days: Annotated[
        float,
        typer.Option(min=7, help="Days finished queue rows are kept (the dedupe memory: at least 7) before pruning."),
    ] = 30.0,
    max_attempts: Annotated[int, typer.Option(min=1, help="Attempts per event before it is marked failed.")] = 8,
    offer_cap: Annotated[
        int, typer.Option(min=0, help="Most held conversations offered to an agent coming back from away.")
    ] = 5,
    wait_hours: Annotated[float | None, typer.Option(help="Wait this long for an away preferred agent [0].")] = None,
    threshold: Annotated[float | None, typer.Option(help="Minimum affinity for a preferred agent [0.5].")] = None,
    fallback: Annotated[
        str | None, typer.Option(help="Fallback strategy: least_loaded, round_robin or a plugin's [least_loaded].")
    ] = None,
    store_url: StoreOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Write the start-up info and errors as JSON lines to stdout.")
    ] = False,
) -> None:
    """Serve /webhooks/VENDOR/ACCOUNT, /healthz and /metrics; route new conversations as they arrive."""

    def body() -> None:
        import uvicorn

        from .config import load_config_file
        from .store import default_store_url
        from .webhooks import ServiceConfig, WorkerConfig
        from .webhooks.service import build_service, configure_logging, resolve_account_specs

        configure_logging()
        router, affinity = _routing_config(
            {"wait_for_preferred_hours": wait_hours, "threshold": threshold, "fallback": fallback}
        )
        worker = WorkerConfig(
            lease=lease, max_attempts=max_attempts, offer_cap=offer_cap, freeze_gc=True, retain_days=retain_days
        )
        config = ServiceConfig(max_body=max_body, max_queue_depth=max_queue, worker=worker, switch_interval=0.001)
        specs = resolve_account_specs(accounts)
        url = store_url or default_store_url(config=load_config_file())
        with _open_store(url) as store:
            web = build_service(
                specs,
                store=store,
                store_url=url,
                router=router,
                affinity=affinity,
                worker=worker,
                config=config,
                tolerance=tolerance,
                clock=SYSTEM_CLOCK,
            )
            sock = listen_socket(host, port)
            try:
                bound = sock.getsockname()[1]
                for spec in specs:
                    url = f"http://{host}:{bound}/webhooks/{spec.vendor}/{spec.account}"
                    if as_json:
                        emit_json(
                            {"receiving": {"vendor": spec.vendor, "account": spec.account, "url": url}}, line=True
                        )
                    else:
                        err_console.print(
                            f"receiving {spec.account} ({spec.vendor}) at {url}", highlight=False, markup=False
                        )
                server = uvicorn.Server(uvicorn.Config(web, log_level="warning", access_log=False, lifespan="on"))
                server.run(sockets=[sock])
            finally:
                sock.close()
            if not server.started:
                raise ConfigError(f"the webhook service could not start on {host}:{bound} (see the log above)")

    run_command(body, as_json=as_json, lines=True)


@webhooks_app.command("register")
def webhooks_register_command(
    url: Annotated[str, typer.Option("--url", help="Public URL of /webhooks/VENDOR/ACCOUNT on your service.")],
    vendor: VendorArgument = None,
    secret_env: Annotated[
        str | None,
        typer.Option(
            help="Environment variable holding the signing secret [HUMANSUPPORT_<VENDOR>_WEBHOOK_SECRET, or "
            "HUMANSUPPORT_ACCOUNT_<NAME>_WEBHOOK_SECRET for a named account]."
        ),
    ] = None,
    secret_file: Annotated[
        Path | None,
        typer.Option(help="Where a new signing secret is written, mode 0600 [./<account>-webhook-secret]."),
    ] = None,
    show_secret: Annotated[bool, typer.Option("--show-secret", help="Also print the signing secret.")] = False,
    account: AccountOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create the webhook subscription through the vendor's API, or print the exact manual steps."""
    from .webhooks.service import register_webhook, secret_env_name

    def body() -> None:
        acct = _account(vendor, account)
        adapter = build_adapter(acct.vendor, account=acct.name, clock=SYSTEM_CLOCK)
        env_name = secret_env or secret_env_name(acct)
        target = secret_file or Path(f"{acct.name}-webhook-secret")

        async def go() -> Any:
            async with adapter:
                return await register_webhook(adapter, url=url, secret_env=env_name, secret_file=target)

        result = asyncio.run(go())
        if as_json:
            emit_json(result.to_dict(show_secret=show_secret))
            return
        sub = result.subscription
        typer.echo(f"{acct.name}: webhook {sub.id} sends {', '.join(sub.events) or 'conversation events'} to {sub.url}")
        if result.secret_file is not None:
            typer.echo(f"signing secret written to {result.secret_file} (mode 0600); set {env_name} from it")
        elif result.secret is not None:
            typer.echo(f"signed with the secret in {env_name}")
        else:
            typer.echo(
                f"the webhook already existed and {acct.vendor} does not show its secret again: keep the one saved "
                f"when it was created in {env_name}, or set a new one there and run this again to replace it"
            )
        if show_secret:
            typer.echo(f"secret: {result.secret}")

    run_command(body, as_json=as_json)


# -- insights: feedback digest and avoidable contacts --------------------------------------------------

SinceOption = Annotated[
    str, typer.Option("--since", help="Period: a duration back from now (30d, 12h, 2w) or an ISO date.")
]
FormatOption = Annotated[str, typer.Option("--format", help="md (Markdown), json or csv; --json is --format json.")]
OutputOption = Annotated[Path | None, typer.Option("--output", help="Write the report to this file, not stdout.")]
LinkTemplateOption = Annotated[
    str | None,
    typer.Option(
        "--link-template",
        help="Link to a conversation, e.g. https://helpdesk.example/tickets/{id} "
        "(default: the plugin's conversation_url when its settings are set, else no links).",
    ),
]
ExamplesOption = Annotated[int, typer.Option("--examples", min=0, max=20, help="Example conversations per row.")]
NowOption = Annotated[
    datetime | None,
    typer.Option("--until", "--now", help="End the period here instead of now, e.g. to report on a past month."),
]
FieldOption = Annotated[
    list[str] | None,
    typer.Option(
        "--field",
        metavar="KEY",
        help="Theme from this conversation custom field (the vendor's key, e.g. a field id), first set wins; "
        "repeatable; replaces the fields of the insights table in humansupport.toml.",
    ),
]


def _insights_inputs(
    store: Any,
    acct: Any,
    since: str,
    fmt: str,
    now: datetime | None,
    fields: list[str] | None = None,
) -> tuple[str, Any, Any]:
    """The account (checked like `metrics`), the period and the theme map of an insights command."""
    from .config import load_config_file
    from .insights import ThemeMap, parse_period
    from .insights.render import FORMATS
    from .models import to_utc

    if fmt not in FORMATS:
        raise typer.BadParameter(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    chosen = acct.name
    store.require_account(chosen, vendor=acct.vendor, before="reporting")
    try:
        period = parse_period(since, now=to_utc(now) or SYSTEM_CLOCK.now())
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    _warn_if_stale(store.cursors(chosen).get("conversations"), period, acct)
    return chosen, period, ThemeMap.from_config(load_config_file(), fields=fields or ())


def _warn_if_stale(newest: datetime | None, period: Any, acct: Any) -> None:
    """A store last synced long before the period ends makes the period look quiet and the trend fall."""
    if newest is None:
        return
    gap = period.end - newest
    if gap > max(timedelta(days=1), (period.end - period.start) / 10):
        err_console.print(
            f"note: the newest conversation in the store was updated {newest:%Y-%m-%d}, {gap.days} days before "
            f"this period ends; run `humansupport sync {_command_args(acct)}` first, or end the period earlier "
            "with --until",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )


def _write_report(text: str, output: Path | None, *, empty: bool) -> None:
    from .insights.digest import NO_CONVERSATIONS

    if empty:
        err_console.print(NO_CONVERSATIONS, highlight=False, markup=False)
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write {output}: {exc.strerror or exc}") from None


@app.command("digest")
def digest_command(
    vendor: VendorArgument = None,
    since: SinceOption = "30d",
    fmt: FormatOption = "md",
    output: OutputOption = None,
    link_template: LinkTemplateOption = None,
    examples: ExamplesOption = 3,
    store_url: StoreOption = None,
    account: AccountOption = None,
    now: NowOption = None,
    fields: FieldOption = None,
    as_json: JsonOption = False,
) -> None:
    """Feedback digest per theme: volume, customers, trend, satisfaction, agents, examples with masked quotes."""
    from .insights import build_digest
    from .insights.links import open_linker
    from .insights.render import render_digest

    fmt = "json" if as_json else fmt

    def body() -> None:
        with _open_store(store_url, create=False) as store:
            acct = _account(vendor, account, store_only=True)
            chosen, period, themes = _insights_inputs(store, acct, since, fmt, now, fields)
            names = {a.id: a.name or a.id for a, _ in store.agents(chosen)}
            with open_linker(acct.vendor, link_template, account=acct.name) as link:
                report = build_digest(
                    store, chosen, period=period, themes=themes, examples=examples, link=link, agent_names=names
                )
        _write_report(render_digest(report, fmt), output, empty=report.empty)

    run_command(body, as_json=fmt == "json")


@app.command("avoidable")
def avoidable_command(
    vendor: VendorArgument = None,
    since: SinceOption = "30d",
    within: Annotated[
        str, typer.Option("--within", help="Repeat window: same customer, same theme within this (7d, 48h).")
    ] = "7d",
    after: Annotated[
        datetime | None,
        typer.Option("--after", help="Compare contacts per day before and after this date (default: mid-period)."),
    ] = None,
    min_rise: Annotated[float, typer.Option("--min-rise", min=0.0, help="Rise that counts (0.5 = +50%).")] = 0.5,
    min_count: Annotated[int, typer.Option("--min-count", min=1, help="Fewest conversations after --after.")] = 3,
    fmt: FormatOption = "md",
    output: OutputOption = None,
    link_template: LinkTemplateOption = None,
    examples: ExamplesOption = 3,
    store_url: StoreOption = None,
    account: AccountOption = None,
    now: NowOption = None,
    fields: FieldOption = None,
    as_json: JsonOption = False,
) -> None:
    """Avoidable contacts: repeat contacts on a theme, reopened conversations, rising themes; by people touched."""
    from .insights import build_avoidable
    from .insights.links import open_linker
    from .insights.periods import parse_duration
    from .insights.render import render_avoidable
    from .models import to_utc

    fmt = "json" if as_json else fmt

    def body() -> None:
        try:
            window = parse_duration(within)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        with _open_store(store_url, create=False) as store:
            acct = _account(vendor, account, store_only=True)
            chosen, period, themes = _insights_inputs(store, acct, since, fmt, now, fields)
            with open_linker(acct.vendor, link_template, account=acct.name) as link:
                try:
                    report = build_avoidable(
                        store,
                        chosen,
                        period=period,
                        themes=themes,
                        within=window,
                        after=to_utc(after),
                        min_rise=min_rise,
                        min_count=min_count,
                        examples=examples,
                        link=link,
                    )
                except ValueError as exc:
                    raise typer.BadParameter(str(exc)) from None
        _write_report(render_avoidable(report, fmt), output, empty=report.empty)

    run_command(body, as_json=fmt == "json")


# -- routing replay: humansupport simulate --------------------------------------------------------------


@app.command("simulate")
def simulate_command(
    account: Annotated[
        str, typer.Argument(help="Account label in the store (the vendor name unless synced with --account).")
    ],
    since: SinceOption = "180d",
    now: NowOption = None,
    policy: Annotated[
        list[str] | None,
        typer.Option(
            "--policy",
            help="Policy to replay (repeatable): as_it_happened, round_robin, least_loaded, preferred, upper_bound, "
            "or a plugin's strategy (default: the five built-in).",
        ),
    ] = None,
    sweep: Annotated[
        list[str] | None,
        typer.Option(
            "--sweep",
            metavar="KEY=V1,V2",
            help="Replay preferred routing once per value (repeatable: the product): wait (or stickiness), window, "
            "threshold, half_life, top_k; e.g. --sweep wait=0,15m,1h,4h.",
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="md (Markdown), json or html (self-contained page).")] = "md",
    output: OutputOption = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Processes for the sweep (default: the CPU count).")
    ] = None,
    store_url: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """Replay the store's history under routing policies: continuity against wait, per policy and setting."""
    from .simulate.cli import SimulateOptions, simulate, write_report
    from .simulate.report import render

    def body() -> None:
        strategies = get_registry().routing_strategies()
        try:
            options = SimulateOptions.parse(
                account=account,
                since=since,
                now=now,
                policies=policy,
                sweep=sweep,
                fmt=fmt,
                output=output,
                strategies=strategies,
            )
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        router, affinity = _routing_config({})
        with _open_store(store_url, create=False) as store:
            result = simulate(store, options, router=router, affinity=affinity, strategies=strategies, workers=workers)
        if output is not None:
            write_report(result, options.fmt, output)
        if as_json:
            emit_json(result.to_dict() | ({"output": str(output)} if output else {}))
        elif output is None:
            typer.echo(render(result, options.fmt), nl=False)
        else:
            err_console.print(f"{result.summary()}; report: {output}", highlight=False, markup=False, soft_wrap=True)

    run_command(body, as_json=as_json or fmt == "json")


# -- plugin authoring (the template lives in humansupport.scaffold) ----------------------------------------

plugin_app = new_typer(help="Write helpdesk plugins: start one from the example plugin.", no_args_is_help=True)
app.add_typer(plugin_app, name="plugin")


@plugin_app.command("new")
def plugin_new_command(
    name: Annotated[
        str, typer.Argument(metavar="NAME", help="The vendor name: lowercase letters, digits and _ (e.g. mydesk).")
    ],
    folder: Annotated[
        Path | None,
        typer.Option("--dir", help="The folder to create (default: ./humansupport-NAME); new or empty."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Start plugin NAME from the example plugin: its adapter, fake, API description and tests, renamed.

    The new plugin installs and passes the conformance kit before you edit it; docs/plugins.md walks
    through turning it into your vendor's.
    """
    from .scaffold import ScaffoldError, new_plugin

    def body() -> None:
        try:
            names, written = new_plugin(name, target=folder)
        except ScaffoldError as exc:
            raise typer.BadParameter(str(exc), param_hint=f"'{exc.param}'") from None
        except OSError as exc:
            raise HumansupportError(f"could not write the plugin: {exc}") from exc
        files = sorted(str(p.relative_to(written)) for p in written.rglob("*") if p.is_file())
        if as_json:
            emit_json(
                {
                    "vendor": names.vendor,
                    "distribution": names.distribution,
                    "package": names.package,
                    "classes": list(names.classes),
                    "path": str(written),
                    "files": files,
                }
            )
            return
        adapter, settings, fake = names.classes
        typer.echo(f"created {written} ({names.distribution}: {adapter}, {settings}, {fake})")
        typer.echo(f'next: pip install -e "{written}" "humansupport[testing]" && pytest "{written}"')
        typer.echo("then make it your vendor's: docs/plugins.md, 'Start a plugin from the template'")

    run_command(body, as_json=as_json)


def main() -> None:
    """Console-script entry point."""
    app()
