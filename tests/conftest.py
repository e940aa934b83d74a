from __future__ import annotations

import os

# tests never load whatever plugins happen to be installed in the venv unless they ask for them
os.environ.setdefault("HUMANSUPPORT_PLUGINS", "")
