"""The one place errors become HTTP answers.

Every error body has the same shape, fixed by `tests/test_http_ops.py`:
`{"error": <stable code>, "message": <readable text>}` — or a small HTML page
when the client prefers `text/html`. A `ValidationFailed` answer adds the
report (`conforms`, `violations`, `warnings`, `results`), or is the report as a
Turtle `sh:ValidationReport` when the client asks for RDF.
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Mapping
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pyoxigraph import BlankNode, Literal, NamedNode, Triple, serialize
from starlette.exceptions import HTTPException
from starlette.responses import Response

from citytools import vocab as v
from citytools.errors import CityToolsError, ValidationFailed
from citytools.report import Finding, ValidationReport
from citytools.service.http import conneg

log = logging.getLogger("citytools.http")

HTTP_CODES = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "bad-parameter",
}
JSON_TYPE = "application/json"
HTML_TYPE = "text/html; charset=utf-8"
REPORT_JSON = conneg.Offer("json", JSON_TYPE, "")


def wants_html(request: Request) -> bool:
    return conneg.prefers_html(conneg.parse_accept(request.headers.get("accept")))


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    *,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """`{"error": code, "message": message}`, or an HTML page for browsers."""
    if wants_html(request):
        return Response(_page(status, message), status, headers, media_type=HTML_TYPE)
    body = json.dumps({"error": code, "message": message}).encode()
    return Response(body, status, headers, media_type=JSON_TYPE)


def report_response(
    request: Request, report: ValidationReport, status: int, *, code: str | None = None
) -> Response:
    """A validation report as JSON (with the error shape when `code` is given), RDF or HTML."""
    ranges = conneg.parse_accept(request.headers.get("accept"))
    if conneg.prefers_html(ranges):
        text = "\n".join(f.describe() for f in report.findings) or report.summary()
        return Response(_page(status, text), status, media_type=HTML_TYPE)
    chosen = conneg.negotiate(ranges, (REPORT_JSON, *conneg.GRAPHS)) or REPORT_JSON
    if chosen is not REPORT_JSON:
        body = serialize(report_triples(report), format=chosen.rdf_format, prefixes=_PREFIXES)
        return Response(body, status, media_type=chosen.content_type)
    document: dict[str, object] = {}
    if code is not None:
        document = {"error": code, "message": report.summary()}
    document.update(report.as_json())
    return Response(json.dumps(document).encode(), status, media_type=JSON_TYPE)


_PREFIXES = {"sh": str(v.SH), "rdfs": str(v.RDFS), "xsd": str(v.XSD)}


def report_triples(report: ValidationReport) -> list[Triple]:
    """The report as a SHACL `sh:ValidationReport` graph."""
    node = BlankNode()
    conforms = Literal("true" if report.conforms else "false", datatype=v.XSD.boolean)
    triples = [
        Triple(node, v.RDF.type, v.SH.ValidationReport),
        Triple(node, v.SH.conforms, conforms),
    ]
    for finding in sorted(report.findings, key=lambda f: (f.line or 0, f.message)):
        result = BlankNode()
        triples.append(Triple(node, v.SH.result, result))
        triples.extend(Triple(result, p, o) for p, o in _result_facts(finding))
    return triples


def _result_facts(f: Finding) -> list[tuple[NamedNode, NamedNode | Literal]]:
    facts: list[tuple[NamedNode, NamedNode | Literal]] = [
        (v.RDF.type, v.SH.ValidationResult),
        (v.SH.resultSeverity, v.SH[f.severity.value]),
        (v.SH.resultMessage, Literal(f.message)),
        (v.RDFS.comment, Literal(f.describe())),  # carries the source line
    ]
    if f.focus:
        facts.append((v.SH.focusNode, _node(f.focus)))
    if f.path:
        facts.append((v.SH.resultPath, _node(f.path)))
    if f.value:
        facts.append((v.SH.value, Literal(f.value)))
    if f.constraint.startswith("sh:"):
        facts.append((v.SH.sourceConstraintComponent, v.SH[f.constraint[3:]]))
    return facts


def _node(text: str) -> NamedNode | Literal:
    candidate = text.strip("<>")
    if ":" in candidate and " " not in candidate:
        try:
            return NamedNode(candidate)
        except ValueError:
            pass
    return Literal(text)


def _page(status: int, message: str) -> bytes:
    title = f"{status} {HTTPStatus(status).phrase}"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>\n<body><h1>{html.escape(title)}</h1>\n"
        f"<pre>{html.escape(message)}</pre>\n</body></html>\n"
    ).encode()


def _headers_for(exc: CityToolsError) -> dict[str, str] | None:
    if exc.status == 401:
        return {"WWW-Authenticate": 'Bearer realm="citytools"'}
    if exc.status == 503:
        return {"Retry-After": "1"}
    return None


async def _on_citytools_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CityToolsError)
    if isinstance(exc, ValidationFailed):
        return report_response(request, exc.report, exc.status, code=exc.code)
    if exc.status >= 500:
        log.warning("%s: %s", exc.code, exc)
    return error_response(request, exc.status, exc.code, str(exc), headers=_headers_for(exc))


async def _on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = HTTP_CODES.get(exc.status_code, f"http-{exc.status_code}")
    if exc.status_code == 304:
        return Response(status_code=304, headers=exc.headers)
    return error_response(request, exc.status_code, code, str(exc.detail), headers=exc.headers)


async def _on_request_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in exc.errors()
    )
    return error_response(request, 422, "bad-parameter", problems)


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(request, 500, "internal-error", "internal error; see the server log")


async def render(request: Request, exc: Exception) -> Response:
    """The answer the installed handlers give for `exc`, for middleware that runs outside
    them (`forward.py`: the primary cannot be reached)."""
    if isinstance(exc, CityToolsError):
        return await _on_citytools_error(request, exc)
    if isinstance(exc, HTTPException):
        return await _on_http_exception(request, exc)
    return await _on_unexpected(request, exc)


def install(app: FastAPI) -> None:
    app.add_exception_handler(CityToolsError, _on_citytools_error)
    app.add_exception_handler(HTTPException, _on_http_exception)
    app.add_exception_handler(RequestValidationError, _on_request_validation)
    app.add_exception_handler(Exception, _on_unexpected)
