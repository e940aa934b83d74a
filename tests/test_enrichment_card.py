"""Profile cards: the rich terminal card, the HTML card's escaping, and a real render in headless Chromium."""

from __future__ import annotations

import base64
import io
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from humansupport.enrichment.card import html_card, render_card, safe_url
from humansupport.enrichment.profile import ConversationSummary, Profile, RatingPoint, local_time
from humansupport.models import RatingScore

from .browser import screenshot

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _profile(**kw: Any) -> Profile:
    base: dict[str, Any] = {
        "customer_id": "10001",
        "name": "Ana López",
        "email": "ana@acme.test",
        "organization": "Acme",
        "timezone": "Europe/Madrid",
        "local_time": local_time("Europe/Madrid", NOW),
        "first_contact": NOW - timedelta(days=400),
        "conversation_count": 7,
        "preferred_agent": "Nina Park",
        "preferred_agent_reason": "12 replies, last 9 days ago, 2 good ratings",
        "last_conversation": ConversationSummary(conversation_id="1", subject="Refund", date=NOW, outcome="solved"),
        "satisfaction_history": [RatingPoint(at=NOW, score=RatingScore.GOOD)],
        "top_tags": ["billing", "refund"],
        "details": {"pronouns": "she/her"},
        "social_links": {"linkedin": "https://www.linkedin.com/in/ana"},
    }
    return Profile(**{**base, **kw})


def _text(profile: Profile) -> str:
    console = Console(record=True, width=100, color_system=None)
    console.print(render_card(profile))
    return console.export_text()


def test_terminal_card_shows_the_person_and_the_shared_history() -> None:
    text = _text(_profile())
    for expected in (
        "Ana López",
        "Acme",
        "Sun 13:00 (Europe/Madrid)",
        "Nina Park (12 replies, last 9 days ago, 2 good ratings)",
        "Refund — 2026-11-01 — solved",
        "1 good, 0 bad",
        "billing, refund",
        "she/her",
        "https://www.linkedin.com/in/ana",
    ):
        assert expected in text, expected


def test_terminal_card_does_not_interpret_customer_markup_and_respects_opt_out() -> None:
    assert "[bold red]hi[/]" in _text(_profile(organization="[bold red]hi[/]"))
    opted = _text(Profile(customer_id="1", name="Ana", do_not_enrich=True))
    assert "asked not to be enriched" in opted and "Conversations" not in opted


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _parse(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


def test_html_card_escapes_every_customer_provided_text() -> None:
    evil = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
    profile = _profile(
        name=evil,
        organization=evil,
        details={"pronouns": evil},
        last_conversation=ConversationSummary(conversation_id="1", subject=evil, date=NOW, outcome=evil),
        picture_url='https://img.test/a.png" onerror="alert(3)',
        social_links={"twitter": "javascript:alert(4)"},
    )
    html = html_card(profile)
    tags = _parse(html)
    allowed = {"html", "head", "meta", "title", "style", "body", "div", "p", "dl", "dt", "dd", "img", "a"}
    assert {t for t, _ in tags} <= allowed
    assert "script" not in {t for t, _ in tags}
    assert not [a for _, attrs in tags for a in attrs if a.startswith("on")]
    imgs = [attrs for t, attrs in tags if t == "img"]
    assert len(imgs) == 1 and imgs[0]["src"] == 'https://img.test/a.png" onerror="alert(3)'  # one inert attribute
    assert not [attrs for t, attrs in tags if t == "a" and "javascript" in (attrs.get("href") or "")]
    assert html.count("&lt;script&gt;") >= 4


def test_html_card_only_links_safe_urls_and_falls_back_to_initials() -> None:
    assert safe_url("javascript:alert(1)") is None and safe_url("data:image/png;base64,AA") is None
    assert safe_url("data:image/png;base64,AA", images=True) == "data:image/png;base64,AA"
    assert safe_url(" https://x.test/a ") == "https://x.test/a"
    tags = _parse(html_card(_profile(picture_url="javascript:alert(1)")))
    assert not [t for t, _ in tags if t == "img"]
    assert "AL</div>" in html_card(_profile(picture_url=None))
    links = [attrs["href"] for t, attrs in _parse(html_card(_profile())) if t == "a"]
    assert links == ["https://www.linkedin.com/in/ana"]


# -- a real render -----------------------------------------------------------------------------------

MAGENTA = (220, 30, 160)


def _png_data_url(color: tuple[int, int, int]) -> str:
    image_mod = pytest.importorskip("PIL.Image")
    buf = io.BytesIO()
    image_mod.new("RGB", (96, 96), color).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _screenshot(html: str, tmp_path: Path) -> Any:
    return screenshot(html, tmp_path, name="card", size=(420, 520), timeout=60)


def _box(image: Any, color: tuple[int, int, int], tolerance: int = 40) -> tuple[int, int, int, int] | None:
    """Bounding box of the pixels within `tolerance` of `color` on every channel (Pillow does the loop)."""
    chops = pytest.importorskip("PIL.ImageChops")
    masks = [
        band.point(lambda v, c=c: 255 if abs(v - c) <= tolerance else 0)
        for band, c in zip(image.split(), color, strict=True)
    ]
    mask = chops.multiply(chops.multiply(masks[0], masks[1]), masks[2])
    box: tuple[int, int, int, int] | None = mask.getbbox()
    return None if box is None else (box[0], box[1], box[2] - 1, box[3] - 1)


def test_html_card_renders_the_picture_and_the_name_in_chromium(tmp_path: Path) -> None:
    image = _screenshot(html_card(_profile(), picture_url=_png_data_url(MAGENTA)), tmp_path)
    box = _box(image, MAGENTA)
    assert box is not None, "the picture is not on the screenshot"
    left, top, right, bottom = box
    assert 60 <= right - left <= 80 and 60 <= bottom - top <= 80, box  # the 72px round picture
    assert left < 120 and top < 120, box  # top-left of the card
    pixels = image.load()
    # the name: dark text right of the picture, within its height
    dark = sum(
        1
        for y in range(top, bottom + 1)
        for x in range(right + 5, min(image.width, right + 250))
        if sum(pixels[x, y]) < 200
    )
    assert dark > 150, dark
    assert len(image.getcolors(maxcolors=1 << 20) or []) > 20  # not a blank page
    without = _screenshot(html_card(_profile(picture_url=None)), tmp_path)
    assert _box(without, MAGENTA) is None  # the check above does see a missing picture
