"""The Freshdesk contract: the core's `ContractTransport` on our hand-written description of Freshdesk API v2.

`CONTRACT.wrap(fake)` sits between the adapter and the fake in every test here: each request must be an operation
freshdesk-openapi.yaml describes (query parameters declared, values, Basic auth and bodies valid) and each
response of a described status must fit its schema. A violation raises `AssertionError` at once, which no
adapter code catches. Freshdesk publishes no description, so ours describes every endpoint the adapter calls
(nothing undescribed). Operations marked `x-peer-client` are the ones only python-freshdesk's session uses
(tests/test_peer_client.py checks the fake's answers to them with `PEER_CONTRACT`); `CONTRACT` leaves them out,
so the adapter may not call them and a full adapter run must exercise every operation it keeps.
"""

from __future__ import annotations

from typing import Any

import httpx

from humansupport.testing import ContractTransport

from .vendor_files import OPENAPI

__all__ = ["CONTRACT", "PEER_CONTRACT", "ContractTransport", "check_request", "check_response", "description"]


def adapter_operations_only(raw: dict[str, Any]) -> None:
    """Drops the operations marked `x-peer-client` (and paths left without any)."""
    for template in list(raw["paths"]):
        item = raw["paths"][template]
        for method in [m for m, op in item.items() if isinstance(op, dict) and op.get("x-peer-client")]:
            del item[method]
        if not set(item) - {"parameters"}:
            del raw["paths"][template]


CONTRACT = ContractTransport(OPENAPI, patches=[adapter_operations_only])
#: the whole description, for the fake's answers to the peer client's session
PEER_CONTRACT = ContractTransport(OPENAPI, server="https://acme.freshdesk.com")  # served on 127.0.0.1


def description() -> dict[str, Any]:
    """The loaded description (paths, components)."""
    return CONTRACT.description.raw


def check_request(request: httpx.Request) -> None:
    """Raises `AssertionError` ("contract: request ...") when the description rejects the request."""
    errors = CONTRACT.request_errors(request)
    if errors:
        raise AssertionError("contract: request " + "; ".join(errors[:5]))


def check_response(request: httpx.Request, response: httpx.Response) -> None:
    """Raises `AssertionError` ("contract: response ...") when the description rejects the response."""
    errors = CONTRACT.response_errors(request, response)
    if errors:
        raise AssertionError("contract: response " + "; ".join(errors[:5]))
