"""The throwaway RT answers REST2 as the plugin expects: create, search with fields, ETag and If-Match."""

from __future__ import annotations

import httpx

from .rtserver import RTServer


def test_ticket_created_and_searched_through_rest2(rt_server: RTServer) -> None:
    with httpx.Client(base_url=rt_server.api, auth=rt_server.auth, timeout=30) as http:
        user = http.post("/user", json={"Name": "smoke@example.test", "EmailAddress": "smoke@example.test"})
        assert user.status_code == 201, user.text
        queue = http.get("/queues/all").json()["items"][0]["id"]
        created = http.post(
            "/ticket",
            json={"Queue": queue, "Subject": "Smoke", "Requestor": "smoke@example.test", "Content": "Hello"},
        )
        assert created.status_code == 201, created.text
        ticket_id = created.json()["id"]
        found = http.get(
            "/tickets", params={"query": f"id = {ticket_id}", "fields": "Subject,Status,Owner", "fields[Owner]": "Name"}
        ).json()
        assert found["total"] == 1
        item = found["items"][0]
        assert item["Subject"] == "Smoke" and item["Owner"]["Name"] == "Nobody"
        etag = http.get(f"/ticket/{ticket_id}").headers["ETag"]
        stale = http.put(f"/ticket/{ticket_id}", json={"Subject": "x"}, headers={"If-Match": '"0"'})
        assert stale.status_code == 412
        fresh = http.put(f"/ticket/{ticket_id}", json={"Subject": "Smoke 2"}, headers={"If-Match": etag})
        assert fresh.status_code == 200, fresh.text
