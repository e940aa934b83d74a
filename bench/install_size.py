"""How much `pip install "humansupport[<vendor>]"` puts on disk, against the 64 MB base-install target.

Builds the wheels of the core and each plugin, installs each `humansupport[<vendor>]` with plain pip into a
fresh venv outside the repository (dependencies from the package index, so the figure is what a user gets), and
reports the bytes added to site-packages, the largest distributions, and the ratio to the target (<= 1.0 is met).
`--rebalance` also measures `humansupport[zendesk,rebalance]` (the planner's numpy, SciPy, OR-Tools: ~400 MB).

Run: `python bench/install_size.py [--vendors zendesk,intercom] [--rebalance]` (a pip install per vendor: minutes).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.wheel_install import BASE_INSTALL_TARGET, SCIENTIFIC, install_base, tree_size, wheel_for

MB = 1024 * 1024
VENDORS = ("zendesk", "helpscout", "freshdesk", "intercom")


def _largest(site: Path, top: int = 5) -> list[tuple[str, int]]:
    seeded = {"pip", "setuptools", "pkg_resources", "_distutils_hack", "__pycache__"}  # the fresh venv's own
    sizes = [
        (d.name, tree_size(d))
        for d in site.iterdir()
        if d.is_dir() and not d.name.endswith(".dist-info") and d.name not in seeded
    ]
    return sorted(sizes, key=lambda kv: -kv[1])[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vendors", default=",".join(VENDORS))
    parser.add_argument("--rebalance", action="store_true", help="also measure the rebalance extra")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hs-install-size-") as tmp:
        wheels = Path(tmp) / "wheels"
        wheel_for("humansupport", wheels)
        worst = 0.0
        for vendor in [v for v in args.vendors.split(",") if v]:
            env, added = install_base(wheels, vendor, Path(tmp) / f"venv-{vendor}")
            site = env.site_packages()
            scientific = [m for m in SCIENTIFIC if (site / m).exists()]
            ratio = added / BASE_INSTALL_TARGET
            worst = max(worst, ratio)
            big = ", ".join(f"{name} {size / MB:.1f}" for name, size in _largest(site))
            print(
                f'pip install "humansupport[{vendor}]": {added / MB:.1f} MB installed, '
                f"target {BASE_INSTALL_TARGET / MB:.0f} MB, ratio {ratio:.2f} "
                f"(scientific stack: {', '.join(scientific) or 'none'}; largest MB: {big})"
            )
        if args.rebalance:
            env, added = install_base(wheels, "zendesk", Path(tmp) / "venv-rebalance")
            core = next(wheels.glob("humansupport-*.whl"))
            before = tree_size(env.site_packages())
            env.pip_install(f"humansupport[rebalance] @ {core.as_uri()}")
            extra = tree_size(env.site_packages()) - before
            print(f"the rebalance extra adds {extra / MB:.1f} MB ({(added + extra) / MB:.1f} MB with [zendesk])")
        print(f"worst base install ratio to the {BASE_INSTALL_TARGET / MB:.0f} MB target: {worst:.2f}")
        if worst > 1.0:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
