"""Customer profile enrichment: the agent sees a person, not a ticket number.

`profile` builds a `Profile` from a customer record and plain history facts by running enrichers in a
configured order; `enrichers` holds the built-in enrichers; `writeback` turns a profile into the smallest
`ProfilePatch` that respects the consent allow-list and human edits; `card` renders the profile for a
terminal or a helpdesk sidebar. Nothing here reads the history store: the caller passes a
`CustomerHistory`, so the store (issue 8) and the CLI plug in later without changing this package.
"""
