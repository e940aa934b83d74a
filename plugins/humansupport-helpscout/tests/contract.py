"""The contract every test here holds adapter and fake to: tests/openapi/helpscout.yaml, through the kit's
`humansupport.testing.ContractTransport` (`CONTRACT.wrap(transport)` per test)."""

from __future__ import annotations

from pathlib import Path

import httpx

from humansupport.testing import ContractTransport

SPEC_PATH = Path(__file__).with_name("openapi") / "helpscout.yaml"
SERVER = "https://api.helpscout.net"

#: no patches or undescribed endpoints: the description is ours, written for every endpoint the adapter uses
CONTRACT = ContractTransport(SPEC_PATH, server=SERVER)


def request_errors(request: httpx.Request) -> list[str]:
    """Why the description rejects this request (empty when it conforms), validated afresh.

    The transport validates an exchange shape once per description, and its shape key leaves out path
    parameter values, so `/v2/conversations/abc` after a valid `/v2/conversations/1` would pass unseen;
    forgetting what was seen makes each request here checked in full.
    """
    CONTRACT.description.seen.clear()
    return CONTRACT.request_errors(request)


def response_errors(request: httpx.Request, response: httpx.Response) -> list[str]:
    """Why the description rejects this response to this request (empty when it conforms)."""
    CONTRACT.description.seen.clear()
    return CONTRACT.response_errors(request, response)
