"""Request bodies as ingest `Source`s: the Content-Type names the input kind.

`multipart/form-data` carries one or more files; each part's own Content-Type
names its kind, or (for `application/octet-stream` and CSV) its file name and
header do, as on the command line.
"""

from __future__ import annotations

from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from citytools.errors import InputError
from citytools.service.http.body import MULTIPART, media_type
from citytools.service.writes.ingest import Source

# media type -> (loader kind, file extension); kind None = detect (CSV: inventory or projects)
BODY_KINDS: dict[str, tuple[str | None, str]] = {
    "text/turtle": ("turtle", "ttl"),
    "application/x-turtle": ("turtle", "ttl"),
    "application/n-triples": ("ntriples", "nt"),
    "application/rdf+xml": ("rdfxml", "rdf"),
    "application/ld+json": ("jsonld", "jsonld"),
    "application/trig": ("trig", "trig"),
    "application/n-quads": ("nquads", "nq"),
    "text/csv": (None, "csv"),
    "application/json": ("ocds", "json"),
}
MAX_FILES = 100


async def read_sources(request: Request, action: str) -> list[Source]:
    """The posted data as sources named after the upload (`put.ttl`, or the file name)."""
    kind = media_type(request)
    if kind == MULTIPART:
        return await _multipart(request)
    if kind not in BODY_KINDS:
        raise HTTPException(
            415, f"unsupported Content-Type '{kind or 'none'}'; use one of {_types()}"
        )
    loader_kind, extension = BODY_KINDS[kind]
    body = await request.body()
    if not body and loader_kind in (None, "ocds"):  # empty RDF is an empty graph; CSV/JSON no
        raise InputError("the request body is empty")
    return [Source(body, name=f"{action}.{extension}", kind=loader_kind)]


async def _multipart(request: Request) -> list[Source]:
    form = await request.form(max_files=MAX_FILES, max_fields=MAX_FILES)
    try:
        sources = []
        for field, value in form.multi_items():
            if not isinstance(value, UploadFile):
                continue
            part_type = (value.content_type or "").split(";")[0].strip().lower()
            kind = BODY_KINDS.get(part_type, (None, ""))[0]
            name = value.filename or f"{field}.{BODY_KINDS.get(part_type, (None, 'bin'))[1]}"
            data = await value.read()
            if not data:
                raise InputError(f"the uploaded file '{name}' is empty")
            sources.append(Source(data, name=name, kind=kind))
    finally:
        await form.close()
    if not sources:
        raise InputError("the multipart body holds no file")
    return sources


def _types() -> str:
    return ", ".join([*BODY_KINDS, MULTIPART])
