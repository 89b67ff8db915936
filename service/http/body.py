"""Reading request bodies by hand (no pydantic on the protocol routes).

The size limit is enforced underneath, by `http_middleware.BodyLimit`.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote

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
    items = [*url_params(request).multi_items(), *parse_qsl(body, keep_blank_values=True)]
    return ImmutableMultiDict(items)


def url_params(request: Request) -> Params:
    """The query string's parameters, as `request.query_params` reads them, about six
    times faster: a SPARQL query in a URL is mostly percent escapes, which
    `urllib.parse.unquote` decodes one by one in Python."""
    raw = request.scope.get("query_string", b"").decode("latin-1")
    items = []
    for pair in raw.split("&"):
        if pair:
            name, _, value = pair.partition("=")
            items.append((decoded(name), decoded(value)))
    return ImmutableMultiDict(items)


def decoded(text: str) -> str:
    """Form decoding: `+` is a space, `%XX` a byte, the bytes UTF-8. The escapes become
    Python `\\xXX` escapes that the C codec decodes; a malformed one (or bytes that are not
    UTF-8) takes `unquote`, which keeps it as it is (or replaces the bytes)."""
    text = text.replace("+", " ")
    if "%" not in text:
        return text
    try:
        escaped = text.replace("\\", "\\\\").replace("%", "\\x").encode("latin-1")
        return escaped.decode("unicode_escape").encode("latin-1").decode("utf-8")
    except UnicodeError:
        return unquote(text, errors="replace")


def single(params: Params, name: str) -> str | None:
    values = params.getlist(name)
    if len(values) > 1:
        raise InputError(f"give '{name}' once, not {len(values)} times")
    return values[0] if values else None
