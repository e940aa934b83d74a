from __future__ import annotations

import os

# like the core tests: never load whatever plugins happen to be installed unless a test registers them
os.environ.setdefault("HUMANSUPPORT_PLUGINS", "")
