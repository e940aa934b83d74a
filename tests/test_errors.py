from __future__ import annotations

import base64
import logging
import traceback

import httpx
import pytest

from humansupport import (
    AuthenticationError,
    ConflictError,
    HelpdeskError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    ValidationError,
    error_from_response,
)

SECRET = "sekret-123"
BASIC = "Basic " + base64.b64encode(f"{SECRET}:X".encode()).decode()


def _response(status: int, body: object = None, *, text: str | None = None) -> httpx.Response:
    request = httpx.Request(
        "PUT",
        f"https://acme.zendesk.test/api/v2/tickets/7.json?api_token={SECRET}",
        headers={"Authorization": BASIC, "X-Token": SECRET},
    )
    if text is not None:
        return httpx.Response(status, text=text, request=request)
    return httpx.Response(status, json=body if body is not None else {"error": "nope"}, request=request)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, ValidationError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (412, ConflictError),
        (422, ValidationError),
        (429, RateLimitError),
        (500, ServerError),
        (503, ServerError),
        (418, HelpdeskError),
    ],
)
def test_status_table(status: int, cls: type[HelpdeskError]) -> None:
    err = error_from_response("zendesk", _response(status), request_id="req-1")
    assert type(err) is cls
    assert err.status == status and err.vendor == "zendesk" and err.request_id == "req-1"
    text = str(err)
    assert "zendesk" in text and "PUT /api/v2/tickets/7.json" in text and str(status) in text and "req-1" in text
    assert "?" not in text, "query strings can carry tokens and PII"


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 429, 500])
def test_no_secret_in_message_repr_log_or_traceback(status: int, caplog: pytest.LogCaptureFixture) -> None:
    err = error_from_response("freshdesk", _response(status), request_id="r")
    log = logging.getLogger("humansupport.test")
    with caplog.at_level(logging.DEBUG):
        log.error("failed: %s", err)
        log.exception("boom", exc_info=err)
    try:
        raise err
    except HelpdeskError as caught:
        tb = "".join(traceback.format_exception(caught))
    for text in (str(err), repr(err), tb, caplog.text, base64.b64decode(BASIC.split()[1]).decode()[:0]):
        assert SECRET not in text
        assert BASIC.split()[1] not in text


@pytest.mark.parametrize(("status", "word"), [(401, "credential"), (403, "scope"), (404, "deleted"), (429, "later")])
def test_hints(status: int, word: str) -> None:
    err = error_from_response("intercom", _response(status))
    assert "Hint:" in str(err) and word in str(err)


def test_auth_hint_names_the_environment_setting() -> None:
    assert "HUMANSUPPORT_ZENDESK_" in str(error_from_response("zendesk", _response(401)))


def test_vendor_error_texts_are_surfaced() -> None:
    zendesk = _response(
        422,
        {
            "error": "RecordInvalid",
            "description": "Record validation errors",
            "details": {"assignee": [{"description": "Assignee is not an agent"}]},
        },
    )
    err = error_from_response("zendesk", zendesk)
    assert isinstance(err, ValidationError)
    assert "Assignee is not an agent" in str(err)
    assert err.field_errors == {"assignee": ["Assignee is not an agent"]}
    freshdesk = _response(
        400,
        {
            "description": "Validation failed",
            "errors": [{"field": "email", "message": "It should be a valid email", "code": "invalid_value"}],
        },
    )
    assert "email: It should be a valid email" in str(error_from_response("freshdesk", freshdesk))
    intercom = _response(
        404,
        {
            "type": "error.list",
            "request_id": "abc",
            "errors": [{"code": "not_found", "message": "Resource Not Found"}],
        },
    )
    assert "Resource Not Found" in str(error_from_response("intercom", intercom))
    helpscout = _response(
        400,
        {
            "message": "Bad request",
            "_embedded": {"errors": [{"path": "assignTo", "message": "must be a user id"}]},
        },
    )
    assert "assignTo: must be a user id" in str(error_from_response("helpscout", helpscout))


def test_html_error_pages_are_not_dumped_into_messages() -> None:
    err = error_from_response("zendesk", _response(502, text="<html><body>Bad gateway</body></html>"))
    assert isinstance(err, ServerError) and "<html>" not in str(err)


def test_retry_after_carried_and_retriable_flags() -> None:
    err = error_from_response("zendesk", _response(429), retry_after=30.0)
    assert isinstance(err, RateLimitError) and err.retry_after == 30.0 and "retry after 30s" in str(err)
    assert RateLimitError.retriable and ServerError.retriable
    assert not ConflictError.retriable and not AuthenticationError.retriable


def test_unread_streaming_response_still_maps() -> None:
    request = httpx.Request("GET", "https://x.test/api/things")
    resp = httpx.Response(500, stream=httpx.ByteStream(b'{"error": "boom"}'), request=request)
    err = error_from_response("zendesk", resp)
    assert isinstance(err, ServerError) and err.status == 500
