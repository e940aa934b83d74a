"""The plugin author's toolkit: what every REST helpdesk plugin needs besides its HTTP calls and mapping.

- `RestAdapter` (rest.py): the adapter base; builds the HTTP client from class attributes and the settings
  class, gives `with_options`, `check()`, a secret-safe repr, `aclose`, `reread_guard` and `pages`.
- `BearerAuth`, `BasicAuth`, `HeaderAuth` (auth.py): how requests authenticate, from settings fields.
- `stale_reason`, `raise_if_stale`, `UNASSIGNED` (guard.py): the one stale-write semantics for vendors without
  optimistic concurrency.
- `poll_job` (jobs.py): bulk-job polling on the injected clock.
- `sign`, `verify`, `header`, `is_fresh`, `event_names`, `find_or_create`, `new_secret` (webhooks.py).
- `as_str`, `as_id`, `as_int`, `as_float`, `as_bool`, `as_time`, `as_list`, `as_dict`, `as_strings`
  (reading.py): reading vendor JSON with one behaviour.

The contract-test transport lives with the other test tools: `humansupport.testing.ContractTransport`.
docs/plugins.md walks through a plugin built on this; the example plugin (plugins/humansupport-acmedesk) uses it.
"""

from .auth import Auth, BasicAuth, BearerAuth, HeaderAuth
from .guard import UNASSIGNED, already_as_asked, changed_since, raise_if_stale, stale_reason
from .jobs import poll_job
from .reading import as_bool, as_dict, as_float, as_id, as_int, as_list, as_str, as_strings, as_time
from .rest import RestAdapter
from .webhooks import event_names, find_or_create, header, is_fresh, new_secret, sign, verify

__all__ = [
    "already_as_asked",
    "as_bool",
    "as_dict",
    "as_float",
    "as_id",
    "as_int",
    "as_list",
    "as_str",
    "as_strings",
    "as_time",
    "Auth",
    "BasicAuth",
    "BearerAuth",
    "changed_since",
    "event_names",
    "find_or_create",
    "header",
    "HeaderAuth",
    "is_fresh",
    "new_secret",
    "poll_job",
    "raise_if_stale",
    "RestAdapter",
    "sign",
    "stale_reason",
    "UNASSIGNED",
    "verify",
]

for _name in __all__:
    _value = globals()[_name]
    if isinstance(_value, type) or callable(_value):
        _value.__module__ = __name__  # tracebacks and docs show humansupport.vendor.RestAdapter
del _name, _value
