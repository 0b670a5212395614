"""The web UI: built assets under ``static/`` and the routes that serve them."""

from traceway.ui.routes import STATIC_DIR, ui_routes

__all__ = ["STATIC_DIR", "ui_routes"]
