"""What `humansupport webhooks serve` and `webhooks register` do, as functions (the CLI only parses options)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ..clock import SYSTEM_CLOCK, Clock
from ..config import Account, check_vendor_tables, load_config_file, resolve_account, resolve_settings
from ..errors import ConfigError
from ..helpdesk import AsyncHelpdesk
from ..models import WebhookSubscription
from ..plugins import PluginRegistry, get_registry
from ..routing.affinity import AffinityConfig
from ..routing.router import RouterConfig
from ..store import Store
from .app import ServiceConfig, WebhookApp, WorkerMode, WorkerTarget
from .queue import WebhookQueue
from .routing import RouterCache, RoutingOptions
from .worker import AccountRuntime, Worker, WorkerConfig

__all__ = [
    "AccountSpec",
    "RegisterResult",
    "WorkerProcess",
    "build_app",
    "build_runtime",
    "build_service",
    "configure_logging",
    "parse_account_spec",
    "register_webhook",
    "resolve_account_specs",
    "secret_env_name",
]


@dataclass(frozen=True, kw_only=True)
class AccountSpec:
    """One account the service receives for: its name keys the store, the queue and the URL path.

    `named` accounts read `[accounts.<account>]` and `HUMANSUPPORT_ACCOUNT_<ACCOUNT>_*`; the others the vendor's
    single-account settings.
    """

    vendor: str
    account: str
    named: bool = False

    def to_account(self) -> Account:
        return Account(name=self.account, vendor=self.vendor, named=self.named)


def parse_account_spec(text: str) -> AccountSpec:
    """`VENDOR`, `VENDOR=ACCOUNT` or `ACCOUNT` as written (see `resolve_account_specs` for what it names)."""
    vendor, _, account = text.partition("=")
    vendor, account = vendor.strip(), (account.strip() or vendor.strip())
    if not vendor or "/" in vendor or "/" in account:
        raise ConfigError(f"bad account {text!r}: write ACCOUNT, VENDOR or VENDOR=ACCOUNT (no slashes)")
    return AccountSpec(vendor=vendor, account=account)


def resolve_account_specs(
    texts: Sequence[str],
    *,
    config: Mapping[str, Any] | None = None,
    registry: PluginRegistry | None = None,
    environ: Mapping[str, str] | None = None,
) -> list[AccountSpec]:
    """What `webhooks serve ACCOUNT...` serves: each an `[accounts.<name>]`, a vendor's single account, or
    `VENDOR=LABEL`. Two accounts that would read one vendor's single-account settings are refused: they would
    share one base URL, credential and signing secret, so one account's events would act on the other's helpdesk.
    """
    loaded = load_config_file(environ=environ) if config is None else config
    vendors = list((registry or get_registry()).helpdesks())
    check_vendor_tables(loaded, vendors)
    specs = []
    for text in texts:
        parsed = parse_account_spec(text)
        label = parsed.account if "=" in text else None
        found = resolve_account(loaded, parsed.vendor, account=label, vendors=vendors)
        specs.append(AccountSpec(vendor=found.vendor, account=found.name, named=found.named))
    labels = [s.account for s in specs]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"account labels must be unique (got {', '.join(labels)}); write VENDOR=ACCOUNT")
    single: dict[str, list[str]] = {}
    for spec in specs:
        if not spec.named:
            single.setdefault(spec.vendor, []).append(spec.account)
    for vendor, names in single.items():
        if len(names) > 1:
            raise ConfigError(
                f"{' and '.join(names)} would share one set of {vendor} settings ([helpdesks.{vendor}], "
                f"HUMANSUPPORT_{vendor.upper()}_*): one base URL, credential and signing secret for both. Name each "
                f'account in humansupport.toml as [accounts.<name>] with vendor = "{vendor}", its settings and '
                "HUMANSUPPORT_ACCOUNT_<NAME>_* secrets, then serve the names"
            )
    return specs


def secret_env_name(account: Account | AccountSpec | str) -> str:
    """Where an account's webhook signing secret is read from (a vendor name means its single account)."""
    if isinstance(account, AccountSpec):
        account = account.to_account()
    if isinstance(account, str):
        account = Account(name=account, vendor=account)
    return account.env_name("webhook_secret")


def build_runtime(
    spec: AccountSpec,
    *,
    store: Store,
    options: RoutingOptions,
    clock: Clock = SYSTEM_CLOCK,
    registry: PluginRegistry | None = None,
    environ: Mapping[str, str] | None = None,
    settings: Mapping[str, Any] | None = None,
    tolerance: float | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> AccountRuntime:
    """The adapter and signing secret of one account, from humansupport.toml and the environment.

    Refuses to start without a secret: an endpoint that cannot verify would have to accept anything.
    """
    cls = (registry or get_registry()).helpdesk(spec.vendor)
    account = spec.to_account()
    overrides = dict(settings or {})
    if tolerance is not None and "webhook_tolerance" in cls.settings_model.model_fields:
        overrides["webhook_tolerance"] = tolerance
    overrides.setdefault("account", spec.account)
    resolved = resolve_settings(
        cls.settings_model,
        overrides=overrides,
        config=load_config_file(environ=environ),
        environ=environ,
        account=account,
    )
    secret = resolved.webhook_secret
    if secret is None or not secret.get_secret_value():
        command = f"--account {spec.account}" if spec.named else spec.vendor
        raise ConfigError(
            f"{spec.account}: no webhook signing secret; set {secret_env_name(account)} "
            f"(`humansupport webhooks register {command}` prints where it comes from)"
        )
    try:
        adapter: AsyncHelpdesk = cls.from_settings(
            resolved, transport=transport, clock=clock, rate_budget=store.rate_budget(clock=clock)
        )
    except ConfigError as exc:
        raise account.own_error(exc) from None
    return AccountRuntime(
        vendor=spec.vendor,
        account=spec.account,
        adapter=adapter,
        secret=secret.get_secret_value(),
        routers=RouterCache(store=store, account=spec.account, adapter=adapter, options=options, clock=clock),
    )


def build_app(
    runtimes: Sequence[AccountRuntime],
    *,
    store: Store,
    clock: Clock = SYSTEM_CLOCK,
    config: ServiceConfig | None = None,
    worker: WorkerMode = "thread",
    worker_process: WorkerTarget | None = None,
) -> WebhookApp:
    labels = [rt.account for rt in runtimes]
    if not runtimes:
        raise ConfigError("give at least one VENDOR[=ACCOUNT] to serve")
    if len(set(labels)) != len(labels):
        raise ConfigError(f"account labels must be unique (got {', '.join(labels)}); write VENDOR=ACCOUNT")
    return WebhookApp(
        store=store, accounts=runtimes, clock=clock, config=config, worker=worker, worker_process=worker_process
    )


def build_service(
    specs: Sequence[AccountSpec],
    *,
    store: Store,
    store_url: str,
    router: RouterConfig,
    affinity: AffinityConfig,
    worker: WorkerConfig,
    config: ServiceConfig,
    tolerance: float | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> WebhookApp:
    """What `webhooks serve` runs: the receiver for `specs` on `store`, its worker in a process of its own.

    The receiver verifies and parses with its own adapters; the worker process rebuilds the accounts from the
    same settings (`WorkerProcess`), so nothing unpicklable crosses the process boundary.
    """
    options = RoutingOptions(router=router, affinity=affinity, strategies=get_registry().routing_strategies())
    runtimes = [build_runtime(spec, store=store, options=options, clock=clock, tolerance=tolerance) for spec in specs]
    target = WorkerProcess(
        specs=tuple(specs), store_url=store_url, router=router, affinity=affinity, worker=worker, tolerance=tolerance
    )
    return build_app(runtimes, store=store, clock=clock, config=config, worker="process", worker_process=target)


@dataclass(frozen=True, kw_only=True)
class WorkerProcess:
    """What a worker process needs to rebuild the accounts the receiver serves (picklable: no adapters, no store).

    Called by `WebhookApp` in a spawned process with the receiver's pid and a ready Event; the secrets and
    settings come from the same environment and humansupport.toml, inherited.
    """

    specs: tuple[AccountSpec, ...]
    store_url: str
    router: RouterConfig
    affinity: AffinityConfig
    worker: WorkerConfig
    tolerance: float | None = None

    def __call__(self, parent_pid: int, ready: Any) -> None:
        configure_logging(role="worker")
        asyncio.run(self._run(parent_pid, ready))

    async def _run(self, parent_pid: int, ready: Any) -> None:
        options = RoutingOptions(
            router=self.router, affinity=self.affinity, strategies=get_registry().routing_strategies()
        )
        with Store.open(self.store_url) as store:
            runtimes = [
                build_runtime(spec, store=store, options=options, tolerance=self.tolerance) for spec in self.specs
            ]
            worker = Worker(
                queue=WebhookQueue(store),
                accounts={rt.account: rt for rt in runtimes},
                clock=SYSTEM_CLOCK,
                config=self.worker,
            )
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGTERM, worker.stop)
            loop.add_signal_handler(signal.SIGINT, worker.stop)
            try:
                await worker.run(parent_pid=parent_pid, on_ready=ready.set)
            finally:
                for rt in runtimes:
                    await rt.adapter.aclose()


def configure_logging(*, role: str | None = None) -> None:
    """INFO lines for the service's own events; helpdesk requests only when they go wrong."""
    tag = f"[{role}]" if role else ""
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s %(levelname)s %(name)s{tag}: %(message)s")
    for noisy in ("httpx", "httpcore"):  # every helpdesk request at INFO would bury the routing lines
        logging.getLogger(noisy).setLevel(logging.WARNING)


@dataclass(frozen=True, kw_only=True)
class RegisterResult:
    subscription: WebhookSubscription
    secret_env: str
    #: where a secret we did not already have (vendor-generated or generated here) was written, mode 0600
    secret_file: Path | None
    secret: str | None

    def to_dict(self, *, show_secret: bool = False) -> dict[str, Any]:
        return {
            "vendor": self.subscription.vendor,
            "id": self.subscription.id,
            "url": self.subscription.url,
            "events": list(self.subscription.events),
            "active": self.subscription.active,
            "secret_env": self.secret_env,
            "secret_file": None if self.secret_file is None else str(self.secret_file),
            **({"secret": self.secret} if show_secret else {}),
        }


async def register_webhook(
    adapter: AsyncHelpdesk,
    *,
    url: str,
    secret_env: str,
    secret_file: Path,
    environ: Mapping[str, str] | None = None,
) -> RegisterResult:
    """Creates the subscription; a secret not already in `secret_env` goes to `secret_file` (0600), not stdout.

    The secret in `secret_env`, if any, is passed to the vendor (where it lets us choose it). Without one, the
    adapter has the vendor generate it or generates one itself, and returns it. A webhook
    that already exists keeps its secret: when the vendor does not show it again, `secret` is None and nothing
    is written (the one saved when it was created stays valid); nothing is generated here, since a secret the
    vendor never received would be worse than none.
    """
    if not url.startswith(("https://", "http://")):
        raise ConfigError(f"--url must be an http(s) URL, got {url!r}")
    env = os.environ if environ is None else environ
    given = env.get(secret_env) or None
    subscription = await adapter.register_webhook(url=url, secret=given)
    final = subscription.secret.get_secret_value() if subscription.secret is not None else given
    written: Path | None = None
    if final is not None and final != given:
        secret_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, stat.S_IRUSR | stat.S_IWUSR)
        with os.fdopen(fd, "w") as fh:
            fh.write(final + "\n")
        os.chmod(secret_file, stat.S_IRUSR | stat.S_IWUSR)
        written = secret_file
    return RegisterResult(subscription=subscription, secret_env=secret_env, secret_file=written, secret=final)
