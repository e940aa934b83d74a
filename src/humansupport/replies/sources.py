"""Where replies come from: local files (any encoding, never a traceback), stdin, or a helpdesk's saved replies.

Bytes are decoded by the stdlib, in this order: a UTF-32/UTF-16/UTF-8 byte-order mark, then strict UTF-8,
then Windows-1252, then Latin-1 (which never fails); the last two add a warning to the reply's report. A
file with NUL bytes and no BOM is skipped as binary, one over `MAX_BYTES` as too large. Directories are
walked for `REPLY_SUFFIXES` (hidden directories skipped, symlinked directories not followed), sorted.
"""

from __future__ import annotations

import codecs
import os
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

from ..helpdesk import AsyncHelpdesk
from ..models import SavedReply
from ..reply_text import ReplySource, parse_reply
from .linter import Linter, ReplyReport

__all__ = [
    "MARKDOWN_SUFFIXES",
    "MAX_BYTES",
    "REPLY_SUFFIXES",
    "Decoded",
    "decode_bytes",
    "iter_reply_files",
    "lint_files",
    "lint_helpdesk",
    "lint_saved_replies",
    "saved_reply_source",
]

MAX_BYTES: Final = 2 * 1024 * 1024  # a saved reply is a few kB; anything this big is not one
REPLY_SUFFIXES: Final = frozenset({".md", ".markdown", ".txt", ".text"})
MARKDOWN_SUFFIXES: Final = frozenset({".md", ".markdown"})
_BOMS: Final = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


@dataclass(frozen=True, kw_only=True)
class Decoded:
    """Decoded text and the encoding used, or why there is no text; `warning` when we had to guess."""

    text: str | None
    encoding: str | None
    warning: str | None = None
    skipped: str | None = None


def decode_bytes(data: bytes) -> Decoded:
    """Text from bytes without ever raising: BOM, UTF-8, then Windows-1252 or Latin-1 with a warning."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return Decoded(text=data.decode(encoding), encoding=encoding)
            except UnicodeDecodeError as exc:
                text = data.decode(encoding, errors="replace")
                return Decoded(
                    text=text,
                    encoding=encoding,
                    warning=f"invalid {encoding} at byte {exc.start}; undecodable bytes shown as \ufffd",
                )
    if b"\x00" in data:
        return Decoded(text=None, encoding=None, skipped="binary file (NUL bytes and no byte-order mark)")
    try:
        return Decoded(text=data.decode("utf-8"), encoding="utf-8")
    except UnicodeDecodeError as exc:
        where = f"byte {exc.start}"
    try:
        return Decoded(
            text=data.decode("cp1252"),
            encoding="cp1252",
            warning=f"not valid UTF-8 ({where}); read as Windows-1252 — save it as UTF-8",
        )
    except UnicodeDecodeError:
        return Decoded(
            text=data.decode("latin-1"),
            encoding="latin-1",
            warning=f"not valid UTF-8 ({where}); read as Latin-1 — save it as UTF-8",
        )


def iter_reply_files(paths: Sequence[str]) -> Iterator[Path | str]:
    """Every file to lint: named files as given, directories walked for reply suffixes; "-" is stdin."""
    for raw in paths:
        if raw == "-":
            yield raw
            continue
        path = Path(raw)
        if not path.is_dir():
            yield path
            continue
        found: list[Path] = []
        for root, dirs, files in os.walk(path, followlinks=False):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            found.extend(Path(root) / f for f in files if Path(f).suffix.lower() in REPLY_SUFFIXES)
        yield from sorted(found)


def _read(path: Path) -> bytes | str:
    """The file's bytes, or why it cannot be read."""
    try:
        if path.stat().st_size > MAX_BYTES:
            return f"larger than {MAX_BYTES // (1024 * 1024)} MiB: not a saved reply"
        return path.read_bytes()
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"


def lint_files(linter: Linter, paths: Sequence[str], *, stdin: IO[bytes] | None = None) -> Iterator[ReplyReport]:
    """One report per file (skipped files too, with the reason); stdin is read as Markdown."""
    for item in iter_reply_files(paths):
        if isinstance(item, str):
            source = ReplySource(name="<stdin>", kind="stdin")
            data: bytes | str = stdin.read(MAX_BYTES + 1) if stdin is not None else b""
            if isinstance(data, bytes) and len(data) > MAX_BYTES:
                data = f"larger than {MAX_BYTES // (1024 * 1024)} MiB: not a saved reply"
            markdown = True
        else:
            source = ReplySource(name=str(item), kind="file", path=str(item))
            data = _read(item)
            markdown = item.suffix.lower() in MARKDOWN_SUFFIXES
        if isinstance(data, str):
            yield ReplyReport(source=source, skipped=data)
            continue
        decoded = decode_bytes(data)
        if decoded.text is None:
            yield ReplyReport(source=source, skipped=decoded.skipped)
            continue
        reply = parse_reply(decoded.text, source=source, markdown=markdown)
        yield linter.lint(reply, encoding=decoded.encoding, warnings=[decoded.warning] if decoded.warning else [])


def saved_reply_source(saved: SavedReply) -> ReplySource:
    """How a saved reply is named in findings: vendor, kind, id and title (and where to edit it)."""
    title = f' "{saved.title}"' if saved.title else ""
    return ReplySource(
        name=f"{saved.vendor} {saved.kind} {saved.id}{title}",
        kind=saved.kind,
        vendor=saved.vendor,
        id=saved.id,
        title=saved.title,
        url=saved.url,
    )


async def lint_saved_replies(adapter: AsyncHelpdesk, linter: Linter) -> AsyncIterator[ReplyReport]:
    """Lints every saved reply the adapter lists (titles are agent-facing and not linted), one at a time."""
    async for saved in adapter.iter_saved_replies():
        yield linter.lint(parse_reply(saved.body or "", source=saved_reply_source(saved)), encoding=None)


async def lint_helpdesk(adapter: AsyncHelpdesk, linter: Linter) -> list[ReplyReport]:
    """`replies lint --vendor`: every saved reply of the helpdesk, linted; opens and closes the adapter."""
    async with adapter:
        return [report async for report in lint_saved_replies(adapter, linter)]
