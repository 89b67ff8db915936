"""Validation reports: what broke, where (file line), and how bad."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Severity(StrEnum):
    VIOLATION = "Violation"
    WARNING = "Warning"
    INFO = "Info"


@dataclass(frozen=True, order=True)
class Finding:
    """One broken rule. `line` is the 1-based line in the source file (CSV header = 1)."""

    severity: Severity
    message: str
    focus: str = ""
    path: str = ""
    value: str = ""
    line: int | None = None
    source: str = ""
    constraint: str = ""  # e.g. "sh:MinCountConstraintComponent" or "loader"
    # What an RDF report needs beyond the text above: the sh:sourceShape (an IRI, or "_:id"
    # for a blank node), sh:value as an RDF term in N-Triples syntax (`value` is its text),
    # the language tag of `message`, if it has one, and the IRI of a severity other than
    # SHACL's three (`severity` is then Violation).
    shape: str = ""
    value_term: str = ""
    language: str = ""
    severity_iri: str = ""

    def describe(self) -> str:
        where = (
            f"{self.source}:{self.line}: "
            if self.line is not None
            else (f"{self.source}: " if self.source else "")
        )
        return f"{where}{self.severity.value}: {self.message}"


@dataclass
class ValidationReport:
    findings: list[Finding] = field(default_factory=list)
    # The shapes with targets that pySHACL validated, outside the compiled subset (names).
    pyshacl_shapes: list[str] = field(default_factory=list)

    @property
    def violations(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.VIOLATION]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is not Severity.VIOLATION]

    @property
    def conforms(self) -> bool:
        return not self.violations

    def extend(self, other: ValidationReport) -> None:
        self.findings.extend(other.findings)
        self.pyshacl_shapes.extend(s for s in other.pyshacl_shapes if s not in self.pyshacl_shapes)

    def engine_line(self) -> str:
        """Which shapes pySHACL validated instead of the compiled engine ("" when none)."""
        if not self.pyshacl_shapes:
            return ""
        n = len(self.pyshacl_shapes)
        return (
            f"validated by pySHACL: {n} shape{'s' if n > 1 else ''} outside the compiled "
            f"subset ({', '.join(self.pyshacl_shapes)})"
        )

    def summary(self) -> str:
        if self.conforms:
            return f"conforms ({len(self.warnings)} warning(s))"
        first = self.violations[0].describe()
        more = len(self.violations) - 1
        return first + (f" (and {more} more violation(s))" if more else "")

    def as_json(self) -> dict[str, object]:
        document: dict[str, object] = {
            "conforms": self.conforms,
            "violations": len(self.violations),
            "warnings": len(self.warnings),
        }
        if self.pyshacl_shapes:  # only when some shapes were outside the compiled subset
            document["validatedByPySHACL"] = self.pyshacl_shapes
        document["results"] = [
            {
                "severity": f.severity_iri or f.severity.value,
                "message": f.message,
                "line": f.line,
                "source": f.source,
                "focusNode": f.focus,
                "resultPath": f.path,
                "value": f.value,
                "constraint": f.constraint,
                "sourceShape": f.shape,
            }
            for f in sorted(self.findings, key=lambda f: (f.line or 0, f.message))
        ]
        return document
