"""Hatchling build hook: puts the built web UI into the wheel.

The UI's assets (``src/traceway/ui/static/``) are build output and not in git. When a wheel is
built and they are missing, this runs ``npm ci && npm run build`` in ``ui/`` (Node.js 20+ and
npm needed), then ships them as artifacts. Editable installs serve ``static/`` from the source
tree, so they skip the build; so does ``TRACEWAY_SKIP_UI_BUILD=1`` (the server then shows a page
saying the UI is not built).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

STATIC = "src/traceway/ui/static"


class UIBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        root = Path(self.root)
        if not (root / STATIC / "index.html").is_file():
            if os.environ.get("TRACEWAY_SKIP_UI_BUILD") == "1":
                self.app.display_warning("TRACEWAY_SKIP_UI_BUILD=1: building a wheel without the web UI")
                return
            self._build_ui(root / "ui")
        build_data["artifacts"].append(f"/{STATIC}/")

    def _build_ui(self, ui: Path) -> None:
        if not (ui / "package.json").is_file():
            raise RuntimeError(f"cannot build the web UI: {ui / 'package.json'} is missing")
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("building the web UI needs npm (Node.js 20+); or set TRACEWAY_SKIP_UI_BUILD=1")
        self.app.display_info("building the web UI: npm ci && npm run build")
        for args in (["ci", "--no-audit", "--no-fund"], ["run", "build"]):
            subprocess.run([npm, *args], cwd=ui, check=True)
