"""The run dashboard: workflows, runs drawn live on their graphs, requests to answer, agents.

`create_app` mounts it: the page is served at ``/`` and its files
(plain HTML, CSS and JavaScript modules, no build step, nothing from a CDN) at
``/dashboard/``. See docs/dashboard.md.
"""

from __future__ import annotations

from .routes import mount_dashboard

__all__ = ["mount_dashboard"]
