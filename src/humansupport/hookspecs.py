"""Every pluggy hook humansupport calls. Hooks are sync (pluggy has no async hooks) and return lists.

A plugin module implements any of these with `@humansupport.hookimpl` and declares an entry point in the
group `humansupport`. docs/plugins.md documents each hook (a test checks it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import typer

    from .extensions import Enricher, ReplyRule, RoutingStrategy
    from .helpdesk import AsyncHelpdesk
    from .testing.fake import FakeHelpdesk

__all__ = ["PROJECT", "hookimpl", "hookspec"]

PROJECT = "humansupport"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_helpdesks() -> list[type[AsyncHelpdesk]]:  # type: ignore[empty-body]
    """Adapter classes this plugin provides; each names its vendor in its `vendor` ClassVar."""


@hookspec
def register_enrichers() -> list[type[Enricher]]:  # type: ignore[empty-body]
    """Profile enricher classes; each declares `name` and the fields it `provides`."""


@hookspec
def register_routing_strategies() -> list[type[RoutingStrategy]]:  # type: ignore[empty-body]
    """Fallback routing strategy classes (least loaded, round robin, ...), each with a unique `name`."""


@hookspec
def register_fakes() -> list[type[FakeHelpdesk]]:  # type: ignore[empty-body]
    """Stateful fake API classes (subclasses of `humansupport.testing.FakeHelpdesk`) for demos and tests."""


@hookspec
def register_reply_rules() -> list[type[ReplyRule]]:  # type: ignore[empty-body]
    """Reply rule classes for `humansupport replies lint` (the `ReplyRule` protocol), each with a unique `id`."""


@hookspec
def register_commands(cli: typer.Typer) -> None:
    """Adds the plugin's own subcommands to `cli`, e.g. `cli.add_typer(my_app, name="mydesk")`.

    Called when the `humansupport` command meets a name none of its own commands has, so `--help` and every
    built-in command start without importing plugins; a built-in name always wins over a plugin's.
    """
