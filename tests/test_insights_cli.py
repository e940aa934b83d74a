"""`humansupport digest` and `avoidable` through typer's CliRunner on the demo's data: every format, files,
links, and the bad inputs (empty period, unknown account, bad --since/--after/--format)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from humansupport.cli import ExitCode, app
from humansupport.demo import run_demo

runner = CliRunner()
NOW = "2026-11-01T01:00:00+00:00"  # the demo's synthetic year ends at 2026-11-01


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    run_demo(customers=40, seed=3, keep_store=path)  # no plugin loads in tests: the synthetic account
    return str(path)


def run(store: str, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, [*args, "--store", store, "--account", "synthetic", "--now", NOW])
    return result.exit_code, result.stdout, result.stderr


def test_digest_markdown_on_the_demo(demo_store: str) -> None:
    code, out, err = run(demo_store, "digest", "zendesk", "--since", "60d")
    assert code == 0, err
    assert out.startswith("## Feedback digest: synthetic, 2026-09-02 to 2026-11-01")
    assert "| Theme | Conversations | Customers | Trend | Satisfaction | Agents |" in out
    assert "- Examples:" in out and "“" in out  # quotes came from the stored excerpts
    assert "@" not in out.replace("@\u200b", "")  # no address survives; mentions are broken


def test_digest_json_and_csv_agree(demo_store: str, tmp_path: Path) -> None:
    code, out, _ = run(demo_store, "digest", "zendesk", "--since", "2026-10-01", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["start"] == "2026-10-01T00:00:00+00:00" and data["message"] is None
    assert sum(t["conversations"] for t in data["themes"]) == data["conversations"] > 0
    target = tmp_path / "digest.csv"
    code, out, _ = run(
        demo_store, "digest", "zendesk", "--since", "2026-10-01", "--format", "csv", "--output", str(target),
        "--link-template", "https://acme.zendesk.com/agent/tickets/{id}",
    )  # fmt: skip
    assert code == 0 and out == ""
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert [(r["theme"], int(r["conversations"])) for r in rows] == [
        (t["theme"], t["conversations"]) for t in data["themes"]
    ]
    assert rows[0]["example_urls"].startswith("https://acme.zendesk.com/agent/tickets/")


def test_avoidable_formats(demo_store: str) -> None:
    code, out, err = run(demo_store, "avoidable", "zendesk", "--since", "90d", "--within", "10d")
    assert code == 0, err
    assert "### Customers who came back about the same theme" in out and "### Themes whose contacts rose" in out
    code, out, _ = run(
        demo_store, "avoidable", "zendesk", "--since", "90d", "--format", "json", "--after", "2026-10-15"
    )
    data = json.loads(out)
    assert code == 0 and data["after"] == "2026-10-15T00:00:00+00:00" and data["within_days"] == 7
    people = [f["customers"] for f in data["findings"]]
    assert people == sorted(people, reverse=True)
    code, out, _ = run(demo_store, "avoidable", "zendesk", "--format", "csv")
    assert code == 0 and out.startswith("kind,theme,customers,conversations,detail,example_ids,example_urls")


def test_empty_period_says_so_and_exits_0(demo_store: str) -> None:
    for fmt in ("md", "json"):
        result = runner.invoke(
            app, ["digest", "zendesk", "--store", demo_store, "--account", "synthetic", "--now", "2020-01-01",
                  "--format", fmt],
        )  # fmt: skip
        assert result.exit_code == 0
        assert "no conversations in range" in result.stderr
        if fmt == "json":
            assert json.loads(result.stdout)["message"] == "no conversations in range"
    code, _, err = run(demo_store, "avoidable", "zendesk", "--since", "2h")
    assert code == 0 and "no conversations in range" in err


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        (["digest", "zendesk", "--since", "soon"], ExitCode.USAGE, "duration"),
        (["digest", "zendesk", "--format", "xml"], ExitCode.USAGE, "--format"),
        (["avoidable", "zendesk", "--within", "0d"], ExitCode.USAGE, "duration"),
        (["avoidable", "zendesk", "--after", "2027-01-01"], ExitCode.USAGE, "inside the period"),
        (["digest", "zendesk", "--link-template", "https://x.test/t"], ExitCode.CONFIG, "{id}"),
    ],
)
def test_bad_input_is_a_message_not_a_traceback(demo_store: str, args: list[str], code: int, text: str) -> None:
    exit_code, out, err = run(demo_store, *args)
    assert exit_code == code and text in out + err and "Traceback" not in out + err


def test_unknown_account_and_missing_store_are_config_errors(demo_store: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["digest", "zendesk", "--store", demo_store])  # the account defaults to the vendor
    assert result.exit_code == ExitCode.CONFIG and "no account 'zendesk'" in result.stderr
    result = runner.invoke(app, ["avoidable", "zendesk", "--store", demo_store, "--format", "json"])
    assert result.exit_code == ExitCode.CONFIG and json.loads(result.stdout)["error"]["type"] == "NoHistoryError"
    result = runner.invoke(app, ["digest", "zendesk", "--store", str(tmp_path / "none.db")])
    assert result.exit_code == ExitCode.CONFIG and "no store" in result.stderr


def test_theme_mapping_from_the_config_file(demo_store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "humansupport.toml"
    config.write_text('[insights.themes]\nmoney = ["refund", "double-charge", "invoice"]\n', encoding="utf-8")
    monkeypatch.setenv("HUMANSUPPORT_CONFIG", str(config))
    code, out, err = run(demo_store, "digest", "zendesk", "--format", "json", "--since", "120d")
    assert code == 0, err
    assert "money" in {t["theme"] for t in json.loads(out)["themes"]}
    config.write_text('[insights.themes]\nmoney = "refund"\n', encoding="utf-8")
    code, _, err = run(demo_store, "digest", "zendesk")
    assert code == ExitCode.CONFIG and "list of tag strings" in err


class _LinkingAdapter:
    """Stands in for a plugin adapter built from settings: it knows its helpdesk's URLs, sends nothing."""

    closed = False

    def conversation_url(self, conversation_id: str) -> str | None:
        return f"https://desk.test/c/{conversation_id}"

    async def aclose(self) -> None:
        _LinkingAdapter.closed = True


def test_links_come_from_the_adapter_when_it_can_be_built(demo_store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    from humansupport.errors import ConfigError

    connect = importlib.import_module("humansupport.connect")  # the package's `connect` is the function

    monkeypatch.setattr(connect, "build_adapter", lambda vendor, **_: _LinkingAdapter())
    code, out, _ = run(demo_store, "digest", "zendesk", "--format", "json")
    urls = [e["url"] for t in json.loads(out)["themes"] for e in t["examples"]]
    assert code == 0 and urls and all(u == f"https://desk.test/c/{u.rsplit('/', 1)[1]}" for u in urls)
    assert _LinkingAdapter.closed

    def no_credentials(vendor: str, **_: object) -> object:
        raise ConfigError("HUMANSUPPORT_ZENDESK_API_TOKEN is not set")

    monkeypatch.setattr(connect, "build_adapter", no_credentials)
    code, out, _ = run(demo_store, "avoidable", "zendesk", "--format", "json")
    assert code == 0 and all(e["url"] is None for f in json.loads(out)["findings"] for e in f["examples"])


def test_a_store_synced_long_before_the_period_ends_is_noted(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from humansupport.store import Store

    path = tmp_path / "s.db"
    with Store.open(path) as store:
        store.set_cursor("acme", "conversations", datetime(2026, 10, 1, tzinfo=UTC), items=1, at=datetime.now(UTC))
    args = ["digest", "zendesk", "--store", str(path), "--account", "acme", "--since", "30d"]
    stale = runner.invoke(app, [*args, "--until", "2026-11-01"])
    assert stale.exit_code == 0
    assert "updated 2026-10-01, 31 days before this period ends" in stale.stderr
    assert "humansupport sync zendesk" in stale.stderr
    fresh = runner.invoke(app, [*args, "--until", "2026-10-02"])
    assert fresh.exit_code == 0 and "newest conversation" not in fresh.stderr
