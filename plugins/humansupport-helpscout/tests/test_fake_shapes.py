"""The fake answers the endpoints python-helpscout-v2 scripts use with the vendor's shapes: every field of the
vendor's own sample (tests/specs/samples, from Help Scout's documentation) is in the fake's answer, HAL paging
included."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from humansupport_helpscout import FakeHelpScout

from .test_mapping import SAMPLES

#: fields of the samples the fake leaves out, and why
NOT_SERVED = {
    "_links",  # the fake links pages (`first`, `next`, ...), not each record
    "updatedAt",  # tags: only a renamed tag carries it in the sample
}


def _keys(value: Any) -> set[str]:
    return set(value) - NOT_SERVED if isinstance(value, dict) else set()


def _get(fake: FakeHelpScout, path: str) -> Any:
    token = fake.token(
        httpx.Request(
            "POST",
            "https://api.helpscout.net/v2/oauth2/token",
            data={"grant_type": "client_credentials", "client_id": fake.app_id, "client_secret": fake.app_secret},
        )
    ).json()["access_token"]
    response = fake(
        httpx.Request("GET", f"https://api.helpscout.net{path}", headers={"Authorization": f"Bearer {token}"})
    )
    assert response.status_code == 200, response.text
    return response.json()


def _path(fake: FakeHelpScout, template: str) -> str:
    if "{hook}" in template:
        fake.webhooks["11"] = {
            "id": 11,
            "url": "https://h.test",
            "state": "enabled",
            "events": ["convo.assigned"],
            "notification": False,
            "payloadVersion": "V2",
            "label": None,
            "secret": "test-secret",
        }
    return template.format(mailbox=sorted(fake.mailboxes)[0], hook="11")


@pytest.mark.parametrize(
    ("template", "sample", "key"),
    [
        ("/v2/tags", "list_tags.json", "tags"),
        ("/v2/mailboxes/{mailbox}/fields", "list_mailbox_custom_fields.json", "fields"),
        ("/v2/mailboxes/{mailbox}/folders", "list_mailbox_folders.json", "folders"),
        ("/v2/workflows", "list_workflows.json", "workflows"),
        ("/v2/mailboxes/{mailbox}", "get_mailbox.json", None),
        ("/v2/webhooks/{hook}", "get_webhook.json", None),
    ],
)
def test_the_fake_answers_with_every_field_of_the_vendor_sample(
    fake: FakeHelpScout, template: str, sample: str, key: str | None
) -> None:
    expected = json.loads((SAMPLES / sample).read_text())
    got = _get(fake, _path(fake, template))
    if key is None:
        assert _keys(expected) <= _keys(got), sorted(_keys(expected) - _keys(got))
        return
    assert set(got["page"]) == set(expected["page"])
    assert got["_embedded"][key], f"the fake lists no {key}"
    want = set().union(*(_keys(item) for item in expected["_embedded"][key]))
    for item in got["_embedded"][key]:
        assert want <= _keys(item), sorted(want - _keys(item))
        for nested in ("options",):
            if nested in item and expected["_embedded"][key][0].get(nested):
                assert _keys(expected["_embedded"][key][0][nested][0]) <= _keys(item[nested][0])
