"""`humansupport simulate` on stores: "as it happened" is `humansupport metrics`, the CLI, the HTML report in
Chromium, and every first-party vendor's fake synced through its adapter."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from humansupport.cli import ExitCode, app
from humansupport.demo import _load_direct
from humansupport.metrics import compute_metrics
from humansupport.plugins import PluginRegistry, new_plugin_manager
from humansupport.simulate import parse_sweep, run_simulation
from humansupport.simulate.report import CURRENT_COLOR, POINT_COLOR, render
from humansupport.store import Store
from humansupport.sync import sync_helpdesk
from humansupport.testing import FakeClock, generate_history

from .browser import screenshot

HISTORY = generate_history(customers=60, agents=6, groups=2, seed=5)
END = HISTORY.config.end + timedelta(hours=1)
STRATEGIES = PluginRegistry(new_plugin_manager()).routing_strategies()
runner = CliRunner()


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sim") / "s.db"
    with Store.open(path) as store:
        _load_direct(store, "syn", HISTORY)
    return path


def test_as_it_happened_is_the_metrics_of_the_period(store_path: Path) -> None:
    start = END - timedelta(days=120)
    with Store.open(store_path) as store:
        report = run_simulation(store, "syn", start=start, end=END, strategies=STRATEGIES, workers=1)
        expected = compute_metrics(store, "syn", since=start, until=END).overall
    happened = report.policy("as_it_happened")
    assert happened is not None and happened["metrics"] == expected
    assert happened["conversations"] == expected["conversations"] > 0
    # the period's boundary does not make customers new: their earlier agent still counts as preferred
    assert expected["preferred_agent_share"] is not None
    for row in report.policies:
        assert row["conversations"] == expected["conversations"]
        if row["policy"] in ("round_robin", "least_loaded", "preferred"):
            assert row["capacity_respected"], row["policy"]
    bound, routed = report.policy("upper_bound"), report.policy("preferred")
    assert bound is not None and routed is not None
    assert bound["preferred_agent_share"] >= routed["preferred_agent_share"] > 0
    counts = routed["possible_preferred"]
    assert counts == report.possible_preferred and 0 < counts["reached"] <= counts["possible"]
    assert report.reaches == pytest.approx(counts["reached"] / counts["possible"], abs=1e-4) and report.reaches <= 1
    assert report.to_dict()["reaches"] == report.reaches


def test_cli_as_it_happened_matches_the_metrics_command_over_the_whole_history(store_path: Path) -> None:
    metrics = runner.invoke(app, ["metrics", "--store", str(store_path), "--json"])
    assert metrics.exit_code == 0, metrics.output
    result = runner.invoke(
        app,
        [
            *("simulate", "syn", "--store", str(store_path), "--since", "2000-01-01", "--until", END.isoformat()),
            *("--policy", "as_it_happened", "--policy", "preferred", "--json"),
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [p["policy"] for p in report["policies"]] == ["as_it_happened", "preferred"]
    assert report["policies"][0]["metrics"] == json.loads(metrics.stdout)["overall"]
    assert report["summary"].startswith("syn: replayed")


def test_cli_markdown_and_html_with_a_sweep(store_path: Path, tmp_path: Path) -> None:
    base = ["simulate", "syn", "--store", str(store_path), "--until", END.isoformat(), "--workers", "1"]
    md = runner.invoke(app, [*base, "--sweep", "wait=0,2h"])
    assert md.exit_code == 0, md.output
    assert md.stdout.startswith("# Routing replay: syn") and "| **current settings** |" in md.stdout
    assert "| wait=2h |" in md.stdout and "## Returning customers who missed" in md.stdout
    out = tmp_path / "report.html"
    html = runner.invoke(app, [*base, "--sweep", "wait=0,2h", "--format", "html", "--output", str(out)])
    assert html.exit_code == 0, html.output
    assert html.stdout == "" and f"report: {out}" in html.stderr
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and CURRENT_COLOR in page
    assert "<script" not in page and "src=" not in page and "<link" not in page  # nothing to load: works offline
    both = runner.invoke(app, [*base, "--format", "html", "--output", str(out), "--json"])
    assert both.exit_code == 0 and json.loads(both.stdout)["output"] == str(out)


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        (["nosuch"], ExitCode.CONFIG, "no account 'nosuch'"),
        (["syn", "--sweep", "speed=1"], ExitCode.USAGE, "KEY=V1,V2"),
        (["syn", "--format", "pdf"], ExitCode.USAGE, "--format must be one of md, json, html"),
        (["syn", "--policy", "psychic"], ExitCode.USAGE, "unknown --policy psychic"),
        (["syn", "--since", "soon"], ExitCode.USAGE, "neither a duration"),
    ],
)
def test_cli_errors_say_what_to_do(store_path: Path, args: list[str], code: ExitCode, text: str) -> None:
    result = runner.invoke(app, ["simulate", *args, "--store", str(store_path)])
    assert result.exit_code == code, result.output
    assert text in result.output.replace("\n", " ") or text in " ".join(result.output.split())


def test_cli_json_errors_stay_json(store_path: Path) -> None:
    result = runner.invoke(app, ["simulate", "nosuch", "--store", str(store_path), "--json"])
    assert result.exit_code == ExitCode.CONFIG
    assert json.loads(result.stdout)["error"]["type"] == "NoHistoryError"  # a ConfigError: exit 3


def test_an_empty_period_reports_nothing_to_compare(store_path: Path) -> None:
    result = runner.invoke(
        app, ["simulate", "syn", "--store", str(store_path), "--since", "1d", "--until", "2001-01-01", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["conversations"] == 0 and "nothing to compare" in report["summary"]


# -- the HTML report, shown to a person: headless Chromium --------------------------------------------------


def _screenshot(html: str, tmp_path: Path) -> Any:
    return screenshot(html, tmp_path, name="report", size=(1200, 900), timeout=90)


def _rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def _boxes(image: Any, color: tuple[int, int, int], tolerance: int = 30) -> list[tuple[int, int, int, int]]:
    """Bounding boxes of the separate blobs of pixels near `color` (a flood fill)."""
    pixels = image.load()
    seen: set[tuple[int, int]] = set()
    boxes = []
    for y in range(0, image.height):
        for x in range(0, image.width):
            if (x, y) in seen or any(abs(a - b) > tolerance for a, b in zip(pixels[x, y], color, strict=True)):
                continue
            stack, box = [(x, y)], [x, y, x, y]
            seen.add((x, y))
            while stack:
                cx, cy = stack.pop()
                box = [min(box[0], cx), min(box[1], cy), max(box[2], cx), max(box[3], cy)]
                for nx, ny in ((cx + 1, cy), (cx - 1, cy), (cx, cy + 1), (cx, cy - 1)):
                    inside = 0 <= nx < image.width and 0 <= ny < image.height and (nx, ny) not in seen
                    if inside and all(abs(a - b) <= tolerance for a, b in zip(pixels[nx, ny], color, strict=True)):
                        seen.add((nx, ny))
                        stack.append((nx, ny))
            boxes.append((box[0], box[1], box[2], box[3]))
    return boxes


def test_html_report_shows_the_trade_off_chart_in_chromium(store_path: Path, tmp_path: Path) -> None:
    with Store.open(store_path) as store:
        report = run_simulation(
            store,
            "syn",
            start=END - timedelta(days=180),
            end=END,
            strategies=STRATEGIES,
            sweep=parse_sweep(["wait=0,1h,4h,12h"]),
            workers=1,
        )
    image = _screenshot(render(report, "html"), tmp_path)
    current = [b for b in _boxes(image, _rgb(CURRENT_COLOR)) if b[2] - b[0] >= 12]
    assert len(current) == 1, current  # the current settings: one large orange dot
    left, top, right, bottom = current[0]
    assert 14 <= right - left <= 22 and 14 <= bottom - top <= 22, current
    points = [b for b in _boxes(image, _rgb(POINT_COLOR)) if 8 <= b[2] - b[0] <= 16]
    # wait=0 is the current settings (drawn over it); the longer waits are their own blue dots
    assert len(points) >= 2, points
    assert all(p[1] < 900 and p[0] > 60 for p in points)  # inside the chart, on the first screen
    # longer waits cost wait: their dots sit to the right of the current settings' one
    assert max(p[0] for p in points) > left
    assert len(image.getcolors(maxcolors=1 << 20) or []) > 20  # text and tables, not a blank page


# -- every first-party vendor: synced through its adapter -----------------------------------------------------

VENDORS = ["freshdesk", "helpscout", "intercom", "zendesk"]
SMALL = generate_history(customers=30, agents=4, groups=2, seed=21)


@pytest.mark.parametrize("vendor", VENDORS)
def test_simulate_on_a_synced_fake(installed_registry: PluginRegistry, vendor: str, tmp_path: Path) -> None:
    clock = FakeClock(start=SMALL.config.end + timedelta(minutes=30))
    fake = installed_registry.fakes()[vendor](history=SMALL, clock=clock)
    cls = installed_registry.helpdesk(vendor)
    settings = cls.settings_model.model_validate(fake.adapter_settings())
    end = clock.now()
    with Store.open(tmp_path / "s.db") as store:

        async def go() -> None:
            async with cls.from_settings(settings, transport=fake.transport(), clock=clock) as adapter:
                await sync_helpdesk(adapter, store, account=vendor, clock=clock)

        asyncio.run(go())
        start = end - timedelta(days=200)
        report = run_simulation(store, vendor, start=start, end=end, strategies=STRATEGIES, workers=1)
        expected = compute_metrics(store, vendor, since=start, until=end).overall
        stored_agents = len(store.agents(vendor))
    happened = report.policy("as_it_happened")
    assert happened is not None and happened["metrics"] == expected and expected["conversations"] > 0
    assert report.agents == stored_agents >= len(SMALL.agents) - 1  # a fake may not list the deactivated one
    routed = report.policy("preferred")
    assert routed is not None and routed["assigned"] > 0 and routed["capacity_respected"]
    assert routed["preferred_agent_share"] is not None
