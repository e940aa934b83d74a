"""How `replies lint` prints a report: for people (rich, grouped by reply) or as GitHub Actions annotations.

JSON is `LintReport.to_dict()`. Reply text and messages are printed as plain text, never read as rich markup.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

from rich.console import Console
from rich.text import Text

from .linter import Finding, LintReport, ReplyReport, Severity

__all__ = ["github_annotations", "location", "print_report"]

_STYLE: Final = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}
_GITHUB_LEVEL: Final = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def _oneline(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def location(reply: ReplyReport, finding: Finding) -> str:
    """`path:line:col` (or `vendor kind id:line:col` for a saved reply), as editors and CI logs link them."""
    base = reply.source.path or (
        f"{reply.source.vendor} {reply.source.kind} {reply.source.id}" if reply.source.vendor else reply.source.name
    )
    return f"{base}:{finding.line}:{finding.column}"


def print_report(report: LintReport, console: Console) -> None:
    """Replies with findings, warnings or a skip reason, each finding with its suggestion; then a summary."""
    for reply in report.replies:
        if not (reply.findings or reply.warnings or reply.skipped):
            continue
        header = Text(reply.source.name, style="bold underline")
        if reply.source.url:
            header.append(f"  {reply.source.url}", style="dim")
        console.print(header, soft_wrap=True)
        if reply.skipped:
            console.print(Text(f"  skipped: {reply.skipped}", style="dim"), soft_wrap=True)
        for warning in reply.warnings:
            console.print(Text(f"  warning: {warning}", style="magenta"), soft_wrap=True)
        for f in reply.findings:
            line = Text("  ")
            line.append(location(reply, f), style="bold")
            line.append(" ")
            line.append(f.rule, style=_STYLE[f.severity])
            line.append(f" ({f.severity.value}) {f.reason}: ")
            line.append(f"\u201c{_oneline(f.text)}\u201d", style="italic")
            console.print(line, soft_wrap=True)  # one finding, one line: editors and CI logs link `path:line:col`
            console.print(Text(f"      \u2192 {f.suggestion}", style="green"), soft_wrap=True)
        console.print()
    s = report.summary()
    if not s["checked"]:
        what = "every input was skipped (see above)" if s["replies"] else "no replies found in the input"
        console.print(Text(f"Nothing was checked: {what}.", style="bold red"), soft_wrap=True)
    elif not s["findings"]:
        console.print(Text(f"No findings in {s['checked']} replies.", style="green"), soft_wrap=True)
    else:
        counts = ", ".join(f"{n} {sev}" for sev, n in reversed(s["by_severity"].items()) if n)
        console.print(
            Text(
                f"{s['findings']} findings ({counts}) in {s['replies_with_findings']} of {s['replies']} replies; "
                f"{s['failing']} at or above --fail-on {s['fail_on']}.",
                style="bold",
            ),
            soft_wrap=True,
        )
    if s["skipped"]:
        console.print(Text(f"{s['skipped']} skipped (see above).", style="dim"), soft_wrap=True)


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def github_annotations(report: LintReport) -> Iterator[str]:
    """One `::error file=...,line=...::message` workflow command per finding (saved replies have no file)."""
    for reply in report.replies:
        for f in reply.findings:
            props = []
            if reply.source.path:
                props.append(f"file={_escape_property(reply.source.path)}")
            props += [f"line={f.line}", f"col={f.column}", f"endLine={f.end_line}", f"endColumn={f.end_column}"]
            where = "" if reply.source.path else f"{reply.source.name}: "
            props.append(f"title={_escape_property(f'{f.rule} ({f.severity.value})')}")
            message = f"{where}{f.reason}: \u201c{_oneline(f.text)}\u201d \u2192 {f.suggestion}"
            yield f"::{_GITHUB_LEVEL[f.severity]} {','.join(props)}::{_escape_data(message)}"
