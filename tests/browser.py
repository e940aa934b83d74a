"""Headless Chromium (Debian's package) renders a page to a screenshot, so tests see what a person sees.

`make test` installs Chromium when it is missing. In CI (`CI=true`) a missing browser fails the test instead of
skipping it, as a PostgreSQL server that cannot start does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest


def screenshot(html: str, tmp_path: Path, *, name: str, size: tuple[int, int], timeout: float = 90) -> Any:
    """The page `html` as Chromium draws it at `size` (width, height): a Pillow RGB image."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        message = "chromium is not installed (Debian: apt-get install -y chromium; `make test` installs it)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    image_mod = pytest.importorskip("PIL.Image")
    page, shot = tmp_path / f"{name}.html", tmp_path / f"{name}.png"
    page.write_text(html, encoding="utf-8")
    with tempfile.TemporaryDirectory() as profile_dir:
        subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--hide-scrollbars",
                f"--user-data-dir={profile_dir}",
                f"--window-size={size[0]},{size[1]}",
                f"--screenshot={shot}",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=timeout,
            env={**os.environ, "HOME": profile_dir},
        )
    return image_mod.open(shot).convert("RGB")
