"""Reading request bodies by hand (no pydantic on the protocol routes).

The size limit is enforced underneath, by `http_middleware.BodyLimit`.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.datastructures import ImmutableMultiDict
from starlette.requests import Request

from citytools.errors import InputError

FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"

Params = ImmutableMultiDict[str, str]


def media_type(request: Request) -> str:
    """The request's Content-Type without parameters, lower case ("" when absent)."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def text(body: bytes, what: str) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{what} is not UTF-8 text: byte {exc.start} cannot be decoded") from None


async def form_and_url_params(request: Request) -> Params:
    """URL parameters followed by those of a form-encoded body."""
    body = text(await request.body(), "the form body")
    items = [*request.query_params.multi_items(), *parse_qsl(body, keep_blank_values=True)]
    return ImmutableMultiDict(items)


def single(params: Params, name: str) -> str | None:
    values = params.getlist(name)
    if len(values) > 1:
        raise InputError(f"give '{name}' once, not {len(values)} times")
    return values[0] if values else None
