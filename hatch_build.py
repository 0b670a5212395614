"""Hatchling build hook: compiles the C extensions and puts the built web UI into the wheel.

The OTLP decoder ``src/traceway/convert/_otlp_columns.c`` and the DuckDB store's text
columns ``src/traceway/storage/duckdb/_latin1.c`` are compiled with the C compiler Python
was built with (gcc here) into the source tree, for editable installs and wheels alike; a
wheel that carries them is tagged for this platform. Without a compiler the build warns and
Traceway runs on its pure-Python code paths (``TRACEWAY_SKIP_NATIVE=1`` skips them).

The UI's assets (``src/traceway/ui/static/``) are build output and not in git. When a wheel is
built and they are missing, this runs ``npm ci && npm run build`` in ``ui/`` (Node.js 20+ and
npm needed), then ships them as artifacts. Editable installs serve ``static/`` from the source
tree, so they skip the build; so does ``TRACEWAY_SKIP_UI_BUILD=1`` (the server then shows a page
saying the UI is not built).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sysconfig
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

STATIC = "src/traceway/ui/static"
NATIVE_SOURCES = ("src/traceway/convert/_otlp_columns.c", "src/traceway/storage/duckdb/_latin1.c")


class UIBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        root = Path(self.root)
        built = [target for source in NATIVE_SOURCES
                 if (target := self._build_native(root / source)) is not None]
        if built and version != "editable":
            build_data["artifacts"] += [f"/{target.relative_to(root).as_posix()}" for target in built]
            build_data["pure_python"] = False
            build_data["infer_tag"] = True
        if version == "editable":
            return
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

    def _build_native(self, source: Path) -> Path | None:
        target = source.with_name(source.stem + sysconfig.get_config_var("EXT_SUFFIX"))
        if os.environ.get("TRACEWAY_SKIP_NATIVE") == "1" or not source.is_file():
            return None
        if target.is_file() and target.stat().st_mtime >= source.stat().st_mtime:
            return target
        compiler = shlex.split(sysconfig.get_config_var("CC") or "cc")
        if shutil.which(compiler[0]) is None:
            self.app.display_warning(f"no C compiler ({compiler[0]}): using pure Python for {source.name}")
            return None
        command = [*compiler, "-O2", "-shared", "-fPIC", "-Wall",
                   f"-I{sysconfig.get_paths()['include']}", str(source), "-o", str(target)]
        self.app.display_info(f"compiling {source.name}: " + " ".join(command))
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            self.app.display_warning(f"{source.name} did not compile; using pure Python instead:\n"
                                     + result.stderr)
            return None
        return target
