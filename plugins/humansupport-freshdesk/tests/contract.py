"""The Freshdesk contract: the core's `ContractTransport` on our hand-written description of Freshdesk API v2.

`CONTRACT.wrap(fake)` sits between the adapter and the fake in every test here: each request must be an operation
freshdesk-openapi.yaml describes (query parameters declared, values, Basic auth and bodies valid) and each
response of a described status must fit its schema. A violation raises `AssertionError` at once, which no
adapter code catches. Freshdesk publishes no description, so ours needs no patches and describes every endpoint
the adapter calls (nothing undescribed).
"""

from __future__ import annotations

from typing import Any

import httpx

from humansupport.testing import ContractTransport
from humansupport.testing.openapi import OpenAPIRequest

from .vendor_files import OPENAPI

__all__ = ["CONTRACT", "ContractTransport", "check_request", "check_response", "description"]

CONTRACT = ContractTransport(OPENAPI)


def description() -> dict[str, Any]:
    """The loaded description (paths, components)."""
    return CONTRACT.description.raw


def check_request(request: httpx.Request) -> None:
    """Raises `AssertionError` ("contract: request ...") when the description rejects the request.

    Validated in full every time: the transport skips a request shaped like one it validated before, and its
    shape leaves out path parameters (`/tickets/export` would pass after `/tickets/5`).
    """
    errors = CONTRACT.request_errors(request)
    if not errors and CONTRACT.template(request.method, request.url.path) is not None:
        try:
            CONTRACT.description.api.validate_request(OpenAPIRequest(request))
        except Exception as exc:  # openapi-core raises a family of errors; each is a violation
            errors = [f"{request.method} {request.url.path}: {type(exc).__name__}: {exc}"]
    if errors:
        raise AssertionError("contract: request " + "; ".join(errors[:5]))


def check_response(request: httpx.Request, response: httpx.Response) -> None:
    """Raises `AssertionError` ("contract: response ...") when the description rejects the response."""
    errors = CONTRACT.response_errors(request, response)
    if errors:
        raise AssertionError("contract: response " + "; ".join(errors[:5]))
