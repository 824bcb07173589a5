"""The ASGI application for process managers and multi-worker uvicorn
(``uvicorn gateway.api.asgi:app``), configured from the settings and environment."""

from __future__ import annotations

import os

from gateway.api.app import create_app

app = create_app(cookie_secure=os.environ.get("HUZHU_SERVE_INSECURE_COOKIES", "0") != "1")
