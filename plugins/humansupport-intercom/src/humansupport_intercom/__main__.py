"""`python -m humansupport_intercom setup`: creates the contact data attributes profile enrichment writes.

Intercom refuses custom attribute values for attributes that do not exist yet (docs/vendors/intercom.md),
so run this once per workspace; it is safe to run again (existing attributes are left alone).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Mapping, Sequence

import httpx

from humansupport import HumansupportError
from humansupport.config import resolve_settings

from .adapter import PROFILE_ATTRIBUTES, IntercomAdapter, IntercomSettings

_TYPES = ("string", "integer", "float", "boolean", "date")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m humansupport_intercom", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    setup = commands.add_parser("setup", help="create the contact data attributes humansupport writes")
    setup.add_argument(
        "--attribute", action="append", default=[], metavar="NAME=TYPE", help=f"also create; TYPE in {_TYPES}"
    )
    setup.add_argument("--base-url", default=None, help="override the API base URL (proxy, test server)")
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Runs the command; settings come from HUMANSUPPORT_INTERCOM_* (the token only from the environment)."""
    args = _parser().parse_args(argv)
    wanted = dict(PROFILE_ATTRIBUTES)
    for spec in args.attribute:
        name, _, data_type = spec.partition("=")
        if not name or data_type not in _TYPES:
            print(f"--attribute {spec!r}: expected NAME=TYPE with TYPE one of {', '.join(_TYPES)}", file=sys.stderr)
            return 2
        wanted[name] = data_type
    try:
        settings = resolve_settings(IntercomSettings, overrides={"base_url": args.base_url}, environ=environ)
        adapter = IntercomAdapter.from_settings(settings, transport=transport)

        async def go() -> list[str]:
            async with adapter:
                return await adapter.create_data_attributes(wanted)

        created = asyncio.run(go())
    except HumansupportError as exc:
        print(f"intercom setup failed: {exc}", file=sys.stderr)
        return 1
    for name in wanted:
        print(f"{name}: {'created' if name in created else 'exists'} ({wanted[name]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
