"""The `humansupport` console script: answers `--version` before importing the CLI, else runs the CLI.

Importing `humansupport.cli` builds the whole command tree (typer, rich); a version query, which scripts and
package managers run often, needs none of it. Everything else, `--help` included, goes to `humansupport.cli`.
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main() -> None:
    """Entry point of the `humansupport` command."""
    if sys.argv[1:] == ["--version"]:
        from . import __version__

        print(f"humansupport {__version__}")
        return
    from .cli import main as cli_main

    cli_main()
