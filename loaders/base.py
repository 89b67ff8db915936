"""What every loader returns: triples, where each resource came from, and loader-level findings."""

from __future__ import annotations

from dataclasses import dataclass, field

from pyoxigraph import Triple

from citytools.report import Finding, Severity, ValidationReport


@dataclass
class Parsed:
    """One parsed source, not yet validated or stored.

    `lines` maps a subject IRI to the 1-based line it came from (CSV header = 1),
    so SHACL results on that focus node can name the line.
    `findings` are problems the loader itself found (unknown authority, duplicate
    row, unknown standard warning); violations among them reject the load.
    """

    kind: str
    triples: list[Triple] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)
    report: ValidationReport = field(default_factory=ValidationReport)

    def violation(self, line: int | None, message: str, *, value: str = "") -> None:
        self.report.findings.append(
            Finding(Severity.VIOLATION, message, line=line, value=value, constraint="loader")
        )

    def warning(self, line: int | None, message: str, *, value: str = "") -> None:
        self.report.findings.append(
            Finding(Severity.WARNING, message, line=line, value=value, constraint="loader")
        )
