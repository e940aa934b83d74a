"""Which theme a conversation belongs to, from its tags: one theme per conversation, so counts add up.

The rule (documented in docs/insights.md): tags are compared lower-cased and trimmed; tags listed in
`[insights] ignore_tags` never make a theme. With `[insights.themes]` configured, the conversation's theme
is the first configured theme (in file order) that lists one of its tags; otherwise, or when none matches,
its first remaining tag is its own theme; with no tag left it is `untagged`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from ..errors import ConfigError

__all__ = ["UNTAGGED", "ThemeMap"]

UNTAGGED: Final = "untagged"
_CACHE_LIMIT: Final = 10_000


def _norm(tag: Any) -> str:
    return str(tag).strip().lower()


@dataclass(kw_only=True)
class ThemeMap:
    """Tag → theme mapping; `theme_of(tags)` is the whole rule."""

    themes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    ignore: frozenset[str] = frozenset()
    _by_tag: dict[str, str] = field(init=False, repr=False)
    _cache: dict[tuple[str, ...], str] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        by_tag: dict[str, str] = {}
        rank = {theme: i for i, theme in enumerate(self.themes)}
        for theme, tags in self.themes.items():
            for tag in tags:
                key = _norm(tag)
                if key not in by_tag or rank[theme] < rank[by_tag[key]]:
                    by_tag[key] = theme
        self._by_tag = by_tag
        self._rank = rank

    def theme_of(self, tags: Sequence[str] | None) -> str:
        """The conversation's one theme (see the module docstring for the rule)."""
        key = tuple(tags or ())
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        clean = [t for t in (_norm(tag) for tag in key) if t and t not in self.ignore]
        mapped = [self._by_tag[t] for t in clean if t in self._by_tag]
        theme = min(mapped, key=self._rank.__getitem__) if mapped else (clean[0] if clean else UNTAGGED)
        if len(self._cache) < _CACHE_LIMIT:
            self._cache[key] = theme
        return theme

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> ThemeMap:
        """From the `[insights]` table of humansupport.toml (`themes` and `ignore_tags`); bad shapes are ConfigError."""
        table = (config or {}).get("insights") or {}
        if not isinstance(table, Mapping):
            raise ConfigError("[insights] in humansupport.toml must be a table")
        unknown = sorted(set(table) - {"themes", "ignore_tags"})
        if unknown:
            raise ConfigError(f"[insights]: unknown key(s) {', '.join(unknown)}; known: ignore_tags, themes")
        raw_themes = table.get("themes") or {}
        if not isinstance(raw_themes, Mapping):
            raise ConfigError('[insights.themes] must map a theme to a list of tags, e.g. billing = ["refund"]')
        themes: dict[str, tuple[str, ...]] = {}
        for name, tags in raw_themes.items():
            if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                raise ConfigError(f"[insights.themes] {name}: expected a list of tag strings, got {tags!r}")
            themes[str(name)] = tuple(tags)
        ignore = table.get("ignore_tags") or []
        if not isinstance(ignore, list) or not all(isinstance(t, str) for t in ignore):
            raise ConfigError("[insights] ignore_tags must be a list of tag strings")
        return cls(themes=themes, ignore=frozenset(_norm(t) for t in ignore))

    @classmethod
    def of(cls, themes: Mapping[str, Iterable[str]] | None = None, *, ignore: Iterable[str] = ()) -> ThemeMap:
        """A map from Python values (tests, scripts)."""
        return cls(themes={k: tuple(v) for k, v in (themes or {}).items()}, ignore=frozenset(_norm(t) for t in ignore))
