"""Customer profile enrichment: the agent sees a person, not a ticket number.

`profile` builds a `Profile` from a customer record and plain history facts by running enrichers in a
configured order; `enrichers` holds the built-in enrichers and their plugin object; `writeback` turns a
profile into the smallest `ProfilePatch` that respects the consent allow-list and human edits, and
applies it with read-back; `card` renders the profile for a terminal or a helpdesk sidebar; `lookup`
finds the one customer a command means; `jobs` runs one command's steps. The library itself does not
read the history store (the caller passes `CustomerHistory` facts); `persist` keeps the `WriteRecord` in
the store, `setup` creates or describes the custom fields, and `service` is what the CLI's `profile`,
`enrich` and `setup` commands call, over the store.
"""
