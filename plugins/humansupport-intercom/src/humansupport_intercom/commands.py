"""`humansupport intercom setup`: creates the contact data attributes profile enrichment writes.

Intercom refuses custom attribute values for attributes that do not exist yet (docs/vendors/intercom.md),
so run this once per workspace; it is safe to run again (existing attributes are left alone). The plugin adds
the command to `humansupport` through the `register_commands` hook.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Annotated

import httpx
import typer

from humansupport import HumansupportError
from humansupport.config import resolve_settings

from .adapter import PROFILE_ATTRIBUTES, IntercomAdapter, IntercomSettings

__all__ = ["DATA_TYPES", "intercom_app", "parse_attributes", "setup_attributes"]

DATA_TYPES = ("string", "integer", "float", "boolean", "date")


def parse_attributes(specs: Sequence[str]) -> dict[str, str]:
    """The attributes to create: ours plus each `NAME=TYPE`; a ValueError names a malformed one."""
    wanted = dict(PROFILE_ATTRIBUTES)
    for spec in specs:
        name, _, data_type = spec.partition("=")
        if not name or data_type not in DATA_TYPES:
            raise ValueError(f"--attribute {spec!r}: expected NAME=TYPE with TYPE one of {', '.join(DATA_TYPES)}")
        wanted[name] = data_type
    return wanted


def setup_attributes(
    wanted: Mapping[str, str],
    *,
    base_url: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    environ: Mapping[str, str] | None = None,
) -> list[str]:
    """Creates the missing attributes; returns the names created. Settings come from HUMANSUPPORT_INTERCOM_*
    (the token only from the environment)."""
    settings = resolve_settings(IntercomSettings, overrides={"base_url": base_url}, environ=environ)
    adapter = IntercomAdapter.from_settings(settings, transport=transport)

    async def go() -> list[str]:
        async with adapter:
            return await adapter.create_data_attributes(dict(wanted))

    return asyncio.run(go())


def intercom_app() -> typer.Typer:
    """The `intercom` command group the plugin adds to `humansupport`."""
    app = typer.Typer(
        help="Intercom plugin commands.", rich_markup_mode=None, add_completion=False, no_args_is_help=True
    )

    @app.command("setup")
    def setup(
        attribute: Annotated[
            list[str] | None,
            typer.Option(
                "--attribute", metavar="NAME=TYPE", help=f"Also create this attribute; TYPE in {', '.join(DATA_TYPES)}."
            ),
        ] = None,
        base_url: Annotated[
            str | None, typer.Option("--base-url", help="Override the API base URL (proxy, test server).")
        ] = None,
    ) -> None:
        """Create the contact data attributes humansupport writes (safe to run again)."""
        try:
            wanted = parse_attributes(attribute or [])
        except ValueError as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(2) from None
        try:
            created = setup_attributes(wanted, base_url=base_url)
        except HumansupportError as exc:
            typer.echo(f"intercom setup failed: {exc}", err=True)
            raise typer.Exit(1) from None
        for name, data_type in wanted.items():
            typer.echo(f"{name}: {'created' if name in created else 'exists'} ({data_type})")

    return app
