"""The write token: every write route depends on `Writer`, and a replica checks it with
the same function before it passes a write on to the primary (`http_forward.py`).

Unset `CITYTOOLS_WRITE_TOKEN` refuses every write (403); a missing or malformed
`Authorization: Bearer …` is 401 (with `WWW-Authenticate: Bearer`); a wrong token 403.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request

from citytools.errors import AuthError
from citytools.service.http.deps import Context


async def require_write_token(request: Request, ctx: Context) -> None:
    expected = ctx.settings.write_token
    if not expected:
        raise AuthError("writes are disabled: set CITYTOOLS_WRITE_TOKEN", forbidden=True)
    header = request.headers.get("authorization", "")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthError("this write needs a token: send 'Authorization: Bearer <token>'")
    if not hmac.compare_digest(token.encode(), expected.encode()):
        raise AuthError("the write token is wrong", forbidden=True)


Writer = Annotated[None, Depends(require_write_token)]
