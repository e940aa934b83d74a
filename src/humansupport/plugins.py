"""Plugin discovery and the registry of what plugins provide.

Nothing loads at import time. `HUMANSUPPORT_PLUGINS` unset loads every entry point in the group
`humansupport`; `""` loads none; `acmedesk,otherdesk` loads those. A plugin that fails to import is kept
as a `PluginError` naming it, and the others keep working. `HUMANSUPPORT_TRACE_PLUGINS=1` traces hook calls.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import TYPE_CHECKING, Any, Final

import pluggy

from . import hookspecs
from .errors import ConfigError, PluginError
from .extensions import Enricher, ReplyRule, RoutingStrategy
from .helpdesk import AsyncHelpdesk

if TYPE_CHECKING:
    from .testing.fake import FakeHelpdesk

__all__ = [
    "CONTRACT_ATTRIBUTE",
    "CONTRACT_VERSION",
    "PLUGINS_ENV",
    "TRACE_ENV",
    "PluginInfo",
    "PluginRegistry",
    "check_contract",
    "get_registry",
    "new_plugin_manager",
    "published_vendors",
    "reset_registry",
    "unknown_vendor_error",
]

PLUGINS_ENV = "HUMANSUPPORT_PLUGINS"
#: The plugin contract this core implements: the hook specs, `AsyncHelpdesk`, `FakeHelpdesk` and the models a
#: plugin builds on. Bumped on any change that breaks a plugin built for the previous one; a plugin declares the
#: contract it was built for as a module attribute (`__humansupport_contract__ = 1`), checked when it loads.
CONTRACT_VERSION: Final = 1
CONTRACT_ATTRIBUTE: Final = "__humansupport_contract__"
TRACE_ENV = "HUMANSUPPORT_TRACE_PLUGINS"
log = logging.getLogger("humansupport.plugins")
#: the name the core's own enrichers (`EnrichmentPlugin`) are registered under
ENRICHMENT_PLUGIN_NAME = "humansupport.builtin.enrichment"
#: the name the core's own reply rules (`BuiltinReplyRules`) are registered under (replies/rules.py says the same)
REPLY_RULES_PLUGIN_NAME = "humansupport.builtin.replies"
_RULE_ID = re.compile(r"[a-z0-9][a-z0-9-]*")


def published_vendors() -> tuple[str, ...]:
    """The vendors this project publishes a plugin for, read from our own extras: `humansupport[<vendor>]`
    brings `humansupport-<vendor>`. For "did you mean" when a plugin is not installed; the core names none."""
    try:
        requires = metadata.requires("humansupport") or []
    except metadata.PackageNotFoundError:  # pragma: no cover - run from a source tree without metadata
        return ()
    found = set()
    for line in requires:
        name, _, marker = line.partition(";")
        extra = re.search(r"extra\s*==\s*['\"]([\w-]+)['\"]", marker)
        if extra and re.split(r"[\s<>=!~\[]", name.strip(), maxsplit=1)[0] == f"humansupport-{extra.group(1)}":
            found.add(extra.group(1))
    return tuple(sorted(found))


def unknown_vendor_error(vendor: str, known: Iterable[str], *, what: str = "helpdesk plugin") -> ConfigError:
    """A vendor name nothing provides: a typo gets "did you mean"; only a real unknown gets the install hint."""
    from difflib import get_close_matches

    names = sorted(known)
    installed = f"installed: {', '.join(names) or 'none'}"
    close = get_close_matches(vendor.lower(), names, n=1, cutoff=0.75)
    if close:
        return ConfigError(f"no {what} for {vendor!r}: did you mean {close[0]!r}? ({installed})")
    published = get_close_matches(vendor.lower(), published_vendors(), n=1, cutoff=0.75)
    if published and published[0] != vendor:
        name = published[0]
        return ConfigError(
            f"no {what} for {vendor!r}: did you mean {name!r}? ({installed}); install humansupport-{name} "
            f"or check {PLUGINS_ENV}"
        )
    return ConfigError(f"no {what} for {vendor!r} ({installed}); install humansupport-{vendor} or check {PLUGINS_ENV}")


@dataclass(frozen=True, kw_only=True)
class PluginInfo:
    """One row of `humansupport plugins`."""

    name: str
    version: str | None = None
    hooks: list[str] = field(default_factory=list)
    vendors: list[str] = field(default_factory=list)
    capabilities: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "hooks": self.hooks,
            "vendors": self.vendors,
            "capabilities": self.capabilities,
            "error": self.error,
        }


def new_plugin_manager() -> pluggy.PluginManager:
    """A manager with our hook specs and nothing registered (tests register inline)."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    if os.environ.get(TRACE_ENV):
        pm.trace.root.setwriter(lambda msg: print(msg, end="", file=sys.stderr))
        pm.enable_tracing()
    return pm


class PluginRegistry:
    """What the loaded plugins provide, with duplicate vendors and load failures reported by name."""

    def __init__(self, pm: pluggy.PluginManager | None = None, *, errors: Iterable[PluginError] = ()) -> None:
        self.pm = pm or new_plugin_manager()
        self.errors: list[PluginError] = list(errors)
        self._versions: dict[str, str | None] = {}
        self._builtin = "humansupport.builtin"  # the core's own plugin object (routing strategies)

    def register(self, plugin: object, *, name: str | None = None, version: str | None = None) -> None:
        """Registers a plugin object (a module or a class with @hookimpl methods)."""
        registered = self.pm.register(plugin, name=name)
        if registered is None:
            raise PluginError(f"plugin {name!r} is already registered", plugin=name)
        self.pm.check_pending()
        self._versions[registered] = version

    def load_entrypoints(self, *, environ: Mapping[str, str] | None = None) -> None:
        """Imports the plugins installed under the entry-point group, honouring HUMANSUPPORT_PLUGINS."""
        env = os.environ if environ is None else environ
        wanted: set[str] | None = None
        if PLUGINS_ENV in env:
            wanted = {n.strip() for n in env[PLUGINS_ENV].split(",") if n.strip()}
        found = {ep.name: ep for ep in metadata.entry_points(group=hookspecs.PROJECT)}
        for missing in sorted((wanted or set()) - found.keys()):
            self.errors.append(
                PluginError(f"plugin {missing!r} named in {PLUGINS_ENV} is not installed", plugin=missing)
            )
        for name, ep in sorted(found.items()):
            if wanted is not None and name not in wanted:
                continue
            if self.pm.has_plugin(name):
                continue
            version = ep.dist.version if ep.dist is not None else None
            try:
                module = ep.load()
                check_contract(module, name=name, distribution=getattr(ep.dist, "name", None), version=version)
                self.register(module, name=name, version=version)
            except PluginError as exc:
                log.warning("plugin %s not loaded: %s", name, exc)
                self.errors.append(exc)
            except Exception as exc:  # a broken plugin must not take the others down
                log.warning("plugin %s failed to load: %s", name, exc)
                self.errors.append(
                    PluginError(f"plugin {name!r} failed to load: {type(exc).__name__}: {exc}", plugin=name)
                )

    # -- what plugins provide -----------------------------------------------------------------------

    def _collect(self, hook: str) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = []
        caller = getattr(self.pm.hook, hook)
        for impl in caller.get_hookimpls():
            try:
                items = impl.function() or []
            except Exception as exc:
                self.errors.append(
                    PluginError(f"plugin {impl.plugin_name!r} failed in {hook}: {exc}", plugin=impl.plugin_name)
                )
                continue
            out.extend((impl.plugin_name, item) for item in items)
        return out

    def helpdesks(self) -> dict[str, type[AsyncHelpdesk]]:
        """Adapter classes by vendor name; two plugins claiming one vendor is a PluginError."""
        by_vendor: dict[str, tuple[str, type[AsyncHelpdesk]]] = {}
        for plugin, cls in self._collect("register_helpdesks"):
            vendor = getattr(cls, "vendor", None)
            if not isinstance(cls, type) or not issubclass(cls, AsyncHelpdesk) or not vendor:
                raise PluginError(
                    f"plugin {plugin!r} registered {cls!r}, which is not an AsyncHelpdesk with a vendor name",
                    plugin=plugin,
                )
            if vendor in by_vendor and by_vendor[vendor][1] is not cls:
                raise PluginError(
                    f"vendor {vendor!r} is provided by both {by_vendor[vendor][0]!r} and {plugin!r}; "
                    f"limit one with {PLUGINS_ENV}",
                    plugin=plugin,
                )
            by_vendor[vendor] = (plugin, cls)
        return {v: c for v, (_, c) in sorted(by_vendor.items())}

    def helpdesk(self, vendor: str) -> type[AsyncHelpdesk]:
        """The adapter class for a vendor, or a ConfigError listing what is installed."""
        found = self.helpdesks()
        if vendor in found:
            return found[vendor]
        broken = [e for e in self.errors if e.plugin == vendor]
        if broken:
            raise broken[0]
        raise unknown_vendor_error(vendor, list(found))

    def fakes(self) -> dict[str, type[FakeHelpdesk]]:
        """Fake API classes by vendor, for `humansupport demo` and `humansupport fake serve`."""
        return {cls.vendor: cls for _, cls in sorted(self._collect("register_fakes"), key=lambda x: x[1].vendor)}

    def enrichers(self) -> dict[str, type[Enricher]]:
        """Enrichers by name: the built-in ones (registered here, through the same hook) and the plugins'."""
        from .enrichment.enrichers import EnrichmentPlugin

        if not self.pm.has_plugin(ENRICHMENT_PLUGIN_NAME):
            self.pm.register(EnrichmentPlugin, name=ENRICHMENT_PLUGIN_NAME)
        return {getattr(cls, "name", cls.__name__): cls for _, cls in self._collect("register_enrichers")}

    def routing_strategies(self) -> dict[str, type[RoutingStrategy]]:
        """Strategies by name: the built-in ones (registered here, through the same hook) and the plugins'."""
        from .routing.strategies import BUILTIN_PLUGIN_NAME, BuiltinStrategies

        if not self.pm.has_plugin(BUILTIN_PLUGIN_NAME):
            self.pm.register(BuiltinStrategies, name=BUILTIN_PLUGIN_NAME)
        return {getattr(cls, "name", cls.__name__): cls for _, cls in self._collect("register_routing_strategies")}

    def reply_rules(self) -> dict[str, type[ReplyRule]]:
        """Reply rules by id: the built-in ones (registered here, through the same hook) and the plugins'.

        A class without a valid `id` and `check`, or two classes claiming one id, is a `PluginError`.
        """
        from .replies.rules import BuiltinReplyRules

        if not self.pm.has_plugin(REPLY_RULES_PLUGIN_NAME):
            self.pm.register(BuiltinReplyRules, name=REPLY_RULES_PLUGIN_NAME)
        by_id: dict[str, tuple[str, type[ReplyRule]]] = {}
        for plugin, cls in self._collect("register_reply_rules"):
            rule_id = getattr(cls, "id", None)
            if not isinstance(cls, type) or not callable(getattr(cls, "check", None)):
                raise PluginError(f"plugin {plugin!r} registered {cls!r}, not a reply rule class", plugin=plugin)
            if not isinstance(rule_id, str) or not _RULE_ID.fullmatch(rule_id):
                raise PluginError(
                    f"plugin {plugin!r}: reply rule {cls.__name__} needs a kebab-case id (got {rule_id!r})",
                    plugin=plugin,
                )
            if rule_id in by_id and by_id[rule_id][1] is not cls:
                raise PluginError(
                    f"reply rule {rule_id!r} is provided by both {by_id[rule_id][0]!r} and {plugin!r}", plugin=plugin
                )
            by_id[rule_id] = (plugin, cls)
        return {rule_id: cls for rule_id, (_, cls) in sorted(by_id.items())}

    def register_commands(self, cli: Any) -> None:
        """Lets every plugin add its subcommands to `cli` (a `typer.Typer`); a plugin that fails is reported in
        `errors` and leaves the others' commands in place."""
        for impl in self.pm.hook.register_commands.get_hookimpls():
            try:
                impl.function(**dict.fromkeys(impl.argnames, cli))
            except Exception as exc:
                self.errors.append(
                    PluginError(
                        f"plugin {impl.plugin_name!r} failed in register_commands: {exc}", plugin=impl.plugin_name
                    )
                )

    def plugins(self) -> list[PluginInfo]:
        """Every plugin, loaded or failed, as rows for `humansupport plugins`."""
        rows: list[PluginInfo] = []
        provided: dict[str, list[type[AsyncHelpdesk]]] = {}
        for plugin_name, cls in self._collect("register_helpdesks"):
            provided.setdefault(plugin_name, []).append(cls)
        for name, plugin in sorted(self.pm.list_name_plugin(), key=lambda kv: kv[0]):
            if name in (self._builtin, ENRICHMENT_PLUGIN_NAME, REPLY_RULES_PLUGIN_NAME):  # the core's own
                continue
            hooks = sorted(c.name for c in self.pm.get_hookcallers(plugin) or [])
            classes = provided.get(name, [])
            rows.append(
                PluginInfo(
                    name=name,
                    version=self._versions.get(name),
                    hooks=hooks,
                    vendors=[c.vendor for c in classes],
                    capabilities={c.vendor: c.capabilities.enabled() for c in classes},
                )
            )
        rows.extend(PluginInfo(name=e.plugin or "?", error=str(e)) for e in self.errors if e.plugin)
        return rows


def check_contract(plugin: object, *, name: str, distribution: str | None = None, version: str | None = None) -> None:
    """Refuses a plugin built for another plugin contract, before any of its hooks runs.

    A mismatch is a PluginError naming both contract versions and what to install, instead of an
    AttributeError deep inside a sync later.
    """
    from . import __version__

    declared = getattr(plugin, CONTRACT_ATTRIBUTE, None)
    dist = distribution or f"humansupport-{name}"
    built = f"{dist} {version}" if version else dist
    core = f"humansupport {__version__} implements plugin contract {CONTRACT_VERSION}"
    if declared is None:
        raise PluginError(
            f"plugin {name!r} ({built}) declares no plugin contract ({CONTRACT_ATTRIBUTE}); {core}. "
            f'Install a release of the plugin built for it: pip install -U "{dist}"',
            plugin=name,
        )
    if declared != CONTRACT_VERSION:
        newer = isinstance(declared, int) and declared > CONTRACT_VERSION
        fix = 'pip install -U "humansupport"' if newer else f'pip install -U "{dist}"'
        raise PluginError(
            f"plugin {name!r} ({built}) implements plugin contract {declared!r}, but {core}. "
            f"Install matching versions: {fix}",
            plugin=name,
        )


_REGISTRY: PluginRegistry | None = None


def get_registry() -> PluginRegistry:
    """The process-wide registry, loading entry points on first use (never at import time)."""
    global _REGISTRY
    if _REGISTRY is None:
        registry = PluginRegistry()
        registry.load_entrypoints()
        _REGISTRY = registry
    return _REGISTRY


def reset_registry(registry: PluginRegistry | None = None) -> None:
    """Forgets the loaded registry (or installs one); for tests and long-lived processes."""
    global _REGISTRY
    _REGISTRY = registry
