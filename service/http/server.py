"""uvicorn as every HTTP process of the service runs it."""

from __future__ import annotations

from typing import Any

import uvicorn
from starlette.types import ASGIApp

from citytools.service.http.upgrade import UpgradeIgnoringProtocol


def http_server(app: ASGIApp, **options: Any) -> uvicorn.Server:
    """uvicorn over `app` (`options`: more of its `Config`), with httptools' protocol made to
    answer an `Upgrade: h2c` request as plain HTTP/1.1 (`upgrade.py`), and its own access
    log off (the service writes one when asked: CITYTOOLS_ACCESS_LOG)."""
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, http=UpgradeIgnoringProtocol, **options
    )
    return uvicorn.Server(config)
