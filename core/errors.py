"""The product's exception tree, mapped to HTTP statuses and CLI exits in one place each.

CityToolsError
├── InputError            malformed input: unparsable CSV/RDF/JSON/SPARQL   (HTTP 400)
│   └── FederationRefused SERVICE to an endpoint not on the allow-list     (HTTP 400)
├── ValidationFailed      parsable but breaks the shapes; carries a report  (HTTP 422)
├── ParameterError        a saved-query parameter of the wrong type/unknown (HTTP 422)
├── NotFound              no such saved query, graph or resource            (HTTP 404)
├── AuthError             missing (401) or wrong (403) write token
├── ReadOnlyGraph         a write to a service-maintained graph (provenance,
│                         reference data, ontology)                         (HTTP 403)
├── PayloadTooLarge       body over CITYTOOLS_MAX_BODY_MB                   (HTTP 413)
├── QueryTimeout          evaluation passed CITYTOOLS_QUERY_TIMEOUT         (HTTP 503)
├── StoreBusy             the embedded store is held by another process     (HTTP 503)
└── PrimaryUnreachable    a replica cannot pass a write to the primary      (HTTP 503)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from citytools.report import ValidationReport


class CityToolsError(Exception):
    """Base of every error the product raises on purpose."""

    status = 500
    code = "internal-error"


class InputError(CityToolsError):
    status = 400
    code = "malformed-input"


class FederationRefused(InputError):
    code = "federation-refused"


class ValidationFailed(CityToolsError):
    status = 422
    code = "validation-failed"

    def __init__(self, report: ValidationReport) -> None:
        super().__init__(report.summary())
        self.report = report


class ParameterError(CityToolsError):
    status = 422
    code = "bad-parameter"

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"parameter '{parameter}': {message}")
        self.parameter = parameter


class NotFound(CityToolsError):
    status = 404
    code = "not-found"


class AuthError(CityToolsError):
    status = 401
    code = "unauthorized"

    def __init__(self, message: str, *, forbidden: bool = False) -> None:
        super().__init__(message)
        if forbidden:
            self.status = 403
            self.code = "forbidden"


class ReadOnlyGraph(CityToolsError):
    """The service keeps these graphs itself (provenance, reference data, the ontology)."""

    status = 403
    code = "read-only-graph"


class PayloadTooLarge(CityToolsError):
    status = 413
    code = "payload-too-large"


class QueryTimeout(CityToolsError):
    status = 503
    code = "query-timeout"


class StoreBusy(CityToolsError):
    status = 503
    code = "store-busy"


class PrimaryUnreachable(CityToolsError):
    status = 503
    code = "primary-unreachable"
