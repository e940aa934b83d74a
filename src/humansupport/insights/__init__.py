"""Insights on top of the store and the helpdesk: what support learns and says (issue 12).

`replies`, `reply_rules`, `reply_text`, `reply_sources` and `reply_output` hold the reply-certainty check
(`humansupport replies lint`). Import from those modules; this package re-exports nothing.
"""

__all__: list[str] = []
