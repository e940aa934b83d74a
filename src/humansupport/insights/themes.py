"""Which theme a conversation belongs to, from its custom fields or tags: one theme per conversation, so counts
add up.

The rule (documented in docs/insights.md): with `[insights] fields` (or `--field`) set, the value of the first
listed custom field the conversation has (lower-cased and trimmed, a list's first item; `[insights.themes]` maps
it like a tag) is its theme. Otherwise tags are compared lower-cased and trimmed; tags listed in
`[insights] ignore_tags` never make a theme (nor do such field values). With `[insights.themes]` configured, the
conversation's theme is the first configured theme (in file order) that lists one of its tags; otherwise, or
when none matches, its first remaining tag is its own theme; with no tag left it is `untagged`.
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
    #: custom-field keys whose value is the theme, first present wins (vendor keys, e.g. field ids as text)
    fields: tuple[str, ...] = ()
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

    def theme_of(self, tags: Sequence[str] | None, custom_fields: Mapping[str, Any] | None = None) -> str:
        """The conversation's one theme (see the module docstring for the rule)."""
        if self.fields and custom_fields:
            by_field = self._field_theme(custom_fields)
            if by_field is not None:
                return by_field
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

    def _field_theme(self, custom_fields: Mapping[str, Any]) -> str | None:
        """The theme from the first configured field with a usable value; None sends the caller to the tags."""
        for name in self.fields:
            value = _field_value(custom_fields.get(name))
            if value is None or value in self.ignore:
                continue
            return self._by_tag.get(value, value)
        return None

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None, *, fields: Sequence[str] = ()) -> ThemeMap:
        """From the `[insights]` table of humansupport.toml (`themes`, `ignore_tags`, `fields`); bad shapes are
        ConfigError. `fields` given here (the CLI's `--field`) replace the file's."""
        table = (config or {}).get("insights") or {}
        if not isinstance(table, Mapping):
            raise ConfigError("[insights] in humansupport.toml must be a table")
        unknown = sorted(set(table) - {"themes", "ignore_tags", "fields"})
        if unknown:
            raise ConfigError(f"[insights]: unknown key(s) {', '.join(unknown)}; known: fields, ignore_tags, themes")
        raw_fields = table.get("fields") or []
        if not isinstance(raw_fields, list) or not all(isinstance(f, str) and f.strip() for f in raw_fields):
            raise ConfigError('[insights] fields must be a list of custom-field keys, e.g. fields = ["product_area"]')
        chosen = _field_keys(fields or raw_fields)
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
        return cls(themes=themes, ignore=frozenset(_norm(t) for t in ignore), fields=chosen)

    @classmethod
    def of(
        cls,
        themes: Mapping[str, Iterable[str]] | None = None,
        *,
        ignore: Iterable[str] = (),
        fields: Iterable[str] = (),
    ) -> ThemeMap:
        """A map from Python values (tests, scripts)."""
        return cls(
            themes={k: tuple(v) for k, v in (themes or {}).items()},
            ignore=frozenset(_norm(t) for t in ignore),
            fields=_field_keys(fields),
        )


def _field_keys(keys: Iterable[str]) -> tuple[str, ...]:
    """Keys trimmed, blanks rejected, duplicates dropped (the first keeps its rank)."""
    out: list[str] = []
    for key in keys:
        clean = str(key).strip()
        if not clean:
            raise ConfigError("a custom-field key for themes must not be empty")
        if clean not in out:
            out.append(clean)
    return tuple(out)


def _field_value(value: Any) -> str | None:
    """A field value as a theme: text, numbers and the first item of a multi-select; None when blank or a shape
    (object, bool) that names nothing."""
    if isinstance(value, list):
        value = next((item for item in value if _field_value(item) is not None), None)
    if value is None or isinstance(value, bool | Mapping | list):
        return None
    if not isinstance(value, str | int | float):
        return None
    text = _norm(value)
    return text or None
