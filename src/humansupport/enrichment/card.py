"""The profile as a card: a rich renderable for the terminal and a self-contained HTML page for a sidebar.

Every text in a profile can come from the customer (name, subject, shared details), so the HTML card
escapes all of it and only puts http(s) or ``data:image/`` URLs into ``src``/``href``.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Final

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from .profile import Profile

__all__ = ["html_card", "render_card", "safe_url"]


def _rows(profile: Profile, *, header: bool = True) -> list[tuple[str, str]]:
    """Label/value lines; `header=False` leaves out what the HTML card already shows under the name."""
    rows: list[tuple[str, str]] = []

    def add(label: str, value: object) -> None:
        if value not in (None, "", [], {}):
            rows.append((label, str(value)))

    if header:
        add("Email", profile.email)
        add("Organization", profile.organization)
    if profile.local_time is not None:
        add("Local time", f"{profile.local_time:%a %H:%M} ({profile.timezone})")
    add("Locale", profile.locale)
    if profile.first_contact is not None:
        add("Customer since", _day(profile.first_contact))
    add("Conversations", profile.conversation_count)
    if profile.preferred_agent:
        why = f" ({profile.preferred_agent_reason})" if profile.preferred_agent_reason else ""
        add("Preferred agent", f"{profile.preferred_agent}{why}")
    if profile.last_conversation is not None:
        add("Last conversation", profile.last_conversation.line())
    add("Satisfaction", profile.satisfaction_line())
    add("Usually about", ", ".join(profile.top_tags))
    for key, value in sorted(profile.details.items()):
        add(key.replace("_", " ").capitalize(), value)
    for network, url in sorted(profile.social_links.items()):
        add(_NETWORK_LABELS.get(network, network.capitalize()), url)
    return rows


_NETWORK_LABELS: Final = {"linkedin": "LinkedIn", "github": "GitHub", "youtube": "YouTube"}


def _day(value: datetime) -> str:
    return value.date().isoformat()


def render_card(profile: Profile) -> RenderableType:
    """A rich panel: name as title, then one line per known fact (nothing for an opted-out customer)."""
    title = Text(profile.name or f"Customer {profile.customer_id}", style="bold")
    if profile.do_not_enrich:
        return Panel(Text("This customer asked not to be enriched.", style="dim"), title=title, title_align="left")
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column()
    for label, value in _rows(profile):
        grid.add_row(label, Text(value))  # Text(): no rich markup from customer text
    parts: list[RenderableType] = [grid]
    if profile.picture_url:
        parts.append(Text(f"Picture: {profile.picture_url}", style="dim"))
    return Panel(Group(*parts), title=title, title_align="left", border_style="cyan")


def safe_url(url: str | None, *, images: bool = False) -> str | None:
    """The URL if it is http(s) (or, for images, a ``data:image/`` URL), else None: no ``javascript:``."""
    if not url:
        return None
    lowered = url.strip().lower()
    if lowered.startswith(("https://", "http://")):
        return url.strip()
    if images and lowered.startswith("data:image/") and "<" not in lowered and '"' not in lowered:
        return url.strip()
    return None


_CSS: Final = """
body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f4f5f7;color:#1f2430}
.card{box-sizing:border-box;width:360px;margin:16px;padding:20px;background:#fff;border-radius:12px;
box-shadow:0 1px 4px rgba(0,0,0,.12)}
.head{display:flex;align-items:center;gap:14px;margin-bottom:14px}
.pic{width:72px;height:72px;border-radius:50%;object-fit:cover;flex:none;background:#dfe3ea}
.initials{display:flex;align-items:center;justify-content:center;font-size:28px;font-weight:600;color:#4a5568}
.name{font-size:20px;font-weight:700;margin:0;word-break:break-word}
.sub{color:#667085;font-size:13px;margin-top:2px}
dl{margin:0;display:grid;grid-template-columns:max-content 1fr;gap:6px 12px;font-size:13px}
dt{color:#667085}dd{margin:0;word-break:break-word}
.optout{color:#667085;font-size:13px}
""".strip()


def _initials(name: str | None) -> str:
    letters = [w[0] for w in (name or "").split() if w and w[0].isalpha()]
    return "".join(letters[:2]).upper() or "?"


def html_card(profile: Profile, *, picture_url: str | None = None) -> str:
    """A self-contained HTML page (inline CSS, no scripts) showing the card.

    `picture_url` overrides the profile's picture, e.g. with a ``data:`` URL so the file works offline.
    """
    name = profile.name or f"Customer {profile.customer_id}"
    picture = safe_url(picture_url or profile.picture_url, images=True)
    if picture is not None:
        pic = f'<img class="pic" src="{escape(picture, quote=True)}" alt="{escape(name, quote=True)}">'
    else:
        pic = f'<div class="pic initials" aria-hidden="true">{escape(_initials(profile.name))}</div>'
    sub = escape(" · ".join(x for x in (profile.organization, profile.email) if x))
    if profile.do_not_enrich:
        body = '<p class="optout">This customer asked not to be enriched.</p>'
    else:
        items = []
        for label, value in _rows(profile, header=False):
            link = safe_url(value) if value in profile.social_links.values() else None
            shown = (
                f'<a href="{escape(link, quote=True)}" rel="noopener noreferrer">{escape(value)}</a>'
                if link
                else escape(value)
            )
            items.append(f"<dt>{escape(label)}</dt><dd>{shown}</dd>")
        body = f"<dl>{''.join(items)}</dl>"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src https: http: data:; '
        "style-src 'unsafe-inline'\">"
        f"<title>{escape(name)}</title><style>{_CSS}</style></head>"
        f'<body><div class="card"><div class="head">{pic}<div><p class="name">{escape(name)}</p>'
        f'<div class="sub">{sub}</div></div></div>{body}</div></body></html>\n'
    )
