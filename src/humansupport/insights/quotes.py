"""Short customer quotes: the first lines of a customer's first message, contacts masked, clipped."""

from __future__ import annotations

from typing import Final

from .masking import mask_contacts

__all__ = ["QUOTE_CHARS", "quote_of"]

QUOTE_CHARS: Final = 200


def quote_of(excerpt: str | None, *, limit: int = QUOTE_CHARS) -> str | None:
    """The first non-empty lines up to `limit` characters (cut at a word, with an ellipsis), masked."""
    if not excerpt:
        return None
    lines = [" ".join(line.split()) for line in excerpt.replace("\r", "\n").split("\n")]
    text = ""
    for line in lines:
        if not line:
            if text:
                break  # the first paragraph only: the signature and the rest stay out
            continue
        text = f"{text} {line}" if text else line
        if len(text) >= limit:
            break
    text = mask_contacts(text)
    if len(text) > limit:
        cut = text[: limit - 1]
        text = (cut.rsplit(" ", 1)[0] if " " in cut else cut) + "…"
    return text or None
