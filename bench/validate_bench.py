"""Times the SPARQL validation engine against pySHACL on inventory-shaped graphs.

    .venv/bin/python bench/validate_bench.py [--sizes 20000 100000] [--repeat 3] [--no-pyshacl]

Triples are synthesised directly in the shape docs/architecture.md documents for the
inventory loader (one row = one deployment + one contract, plus the systems, vendors and
service areas they name), with a few broken rows so both engines have results to report.
The context is the ontology plus the 33 London authorities and the LGSL services, as in
the product. Prints one table; run it by hand, it is not a test.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import time
from collections.abc import Callable
from functools import partial
from random import Random
from typing import TypeVar

import pyshacl
from pyoxigraph import Literal, NamedNode, Quad, RdfFormat, Triple, parse
from rdflib import RDF, Graph, URIRef

from citytools import vocab as v
from citytools.resources import ontology_file, reference_file, shapes_file
from citytools.service.validation.validator import Validator

BASE = v.DEFAULT_BASE_IRI
REFERENCE = NamedNode(BASE + "graph/reference")
SH_RESULT = URIRef(f"{v.SH}ValidationResult")
T = TypeVar("T")
SHARED_TRIPLES = 1680  # the vendors, systems and service areas rows point to
TRIPLES_PER_ROW = 19  # a deployment and its contract


def _iri(path: str) -> NamedNode:
    return NamedNode(BASE + path)


def _lit(value: object, datatype: NamedNode | None = None) -> Literal:
    return Literal(str(value), datatype=datatype)


def context_quads() -> list[Quad]:
    """Ontology + London authorities + LGSL services, as the product's reference graphs."""
    quads = list(parse(ontology_file().read_bytes(), format=RdfFormat.TURTLE))
    london = _iri("region/london")
    facts: list[tuple[NamedNode, NamedNode, NamedNode | Literal]] = [
        (london, v.RDF.type, v.REGION),
        (london, v.RDFS.label, _lit("London")),
    ]
    with reference_file("london_local_authorities.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            node = _iri(f"authority/{row['gss_code']}")
            facts += [
                (node, v.RDF.type, v.LOCAL_AUTHORITY),
                (node, v.RDFS.label, _lit(row["name"])),
                (node, v.GSS_CODE, _lit(row["gss_code"])),
                (node, v.REGION_PROP, london),
            ]
    with reference_file("lgsl_services.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            node = _iri(f"service/lgsl/{row['lgsl_id']}")
            facts += [
                (node, v.RDF.type, v.SERVICE),
                (node, v.RDFS.label, _lit(row["label"])),
                (node, v.LGSL_ID, _lit(row["lgsl_id"], v.XSD.integer)),
            ]
    return quads + [Quad(s, p, o, REFERENCE) for s, p, o in facts]


def inventory(rows: int, seed: int = 7) -> tuple[list[Triple], dict[str, int]]:
    """`rows` inventory rows as triples, with the line map a loader would return."""
    rng = Random(seed)
    gss = [f"E09{n:06d}" for n in range(1, 34)]
    vendors = [_iri(f"vendor/vendor-{n}") for n in range(150)]
    systems = [(_iri(f"system/product-{n}"), rng.choice(vendors)) for n in range(400)]
    areas = [(_iri(f"service-area/area-{n}"), _iri(f"service/lgsl/{n + 1}")) for n in range(60)]
    hostings, skills = list(v.HOSTINGS.values()), list(v.SKILLS.values())
    triples: list[tuple[NamedNode, NamedNode, NamedNode | Literal]] = []
    for node in vendors:
        triples += [(node, v.RDF.type, v.VENDOR), (node, v.RDFS.label, _lit(node.value[-9:]))]
    for node, maker in systems:
        triples += [
            (node, v.RDF.type, v.SYSTEM),
            (node, v.RDFS.label, _lit(node.value[-10:])),
            (node, v.MANUFACTURER, maker),
        ]
    for node, lgsl in areas:
        triples += [
            (node, v.RDF.type, v.SERVICE_AREA),
            (node, v.RDFS.label, _lit(node.value[-7:])),
            (node, v.CLASSIFIED_AS, lgsl),
        ]
    lines: dict[str, int] = {}
    for row in range(rows):
        line = row + 2
        code, (system, maker), (area, _) = gss[row % 33], rng.choice(systems), rng.choice(areas)
        key = f"{code}/{area.value.rsplit('/', 1)[1]}/{system.value.rsplit('/', 1)[1]}-{row}"
        dep, con, authority = (
            _iri(f"deployment/{key}"),
            _iri(f"contract/{key}"),
            _iri(f"authority/{code}"),
        )
        start = 2018 + rng.randrange(8)
        end = start + rng.choice((1, 3, 5, 7))
        satisfaction = 9 if row % 1499 == 7 else rng.randint(1, 5)
        bad_date = row % 997 == 5
        triples += [
            (dep, v.RDF.type, v.DEPLOYMENT),
            (dep, v.RDFS.label, _lit(f"deployment {key}")),
            (dep, v.AUTHORITY, authority),
            (dep, v.SYSTEM_PROP, system),
            (dep, v.SERVICE_PROP, area),
            (dep, v.FUNCTION, v.CT.Frontline if row % 2 else v.CT.Corporate),
            (dep, v.HOSTING, rng.choice(hostings)),
            (dep, v.SATISFACTION, _lit(satisfaction, v.XSD.integer)),
            (dep, v.IN_HOUSE_SKILL, rng.choice(skills)),
            (dep, v.CONTRACT_PROP, con),
            (dep, v.SOURCE_LINE, _lit(line, v.XSD.integer)),
            (con, v.RDF.type, v.CONTRACT),
            (con, v.RDFS.label, _lit(f"contract {key}")),
            (con, v.BUYER, authority),
            (con, v.END_DATE, _lit("2024-13-01" if bad_date else f"{end}-03-31", v.XSD.date)),
            (con, v.ANNUAL_VALUE, _lit(f"{rng.randint(5, 900) * 1000}.00", v.XSD.decimal)),
            (con, v.SOURCE_LINE, _lit(line, v.XSD.integer)),
        ]
        if row % 1999 != 11:
            triples.append((con, v.SUPPLIER, maker))
        if not bad_date:  # pySHACL 0.40 crashes comparing a start date with an ill-typed end
            triples.append((con, v.START_DATE, _lit(f"{start}-04-01", v.XSD.date)))
        lines[dep.value] = lines[con.value] = line
    return [Triple(s, p, o) for s, p, o in triples], lines


def rows_for(triples: int) -> int:
    return max(1, round((triples - SHARED_TRIPLES) / TRIPLES_PER_ROW))


def timed(action: Callable[[], T], repeat: int) -> tuple[float, T]:
    """Median wall time in seconds over `repeat` runs, and the last result."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def pyshacl_run(data: Graph, shapes: Graph) -> int:
    """pySHACL as the tests call it; returns the number of results."""
    _, report, _ = pyshacl.validate(data, shacl_graph=shapes, inference="none")
    return len(set(report.subjects(RDF.type, SH_RESULT)))


def main() -> None:
    parser = argparse.ArgumentParser(description="SPARQL validation engine vs pySHACL")
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-pyshacl", action="store_true")
    args = parser.parse_args()

    context = context_quads()
    started = time.perf_counter()
    validator = Validator(shapes_file(), context)
    print(
        f"engine set-up: {len(validator.constraints)} constraints compiled, "
        f"{len(context)} context quads loaded in {time.perf_counter() - started:.2f} s\n"
    )
    shapes = Graph().parse(data=shapes_file().read_bytes(), format="turtle")
    context_nt = "".join(f"{q.triple} .\n" for q in context)

    print("| triples | rows | engine (s) | results | pySHACL (s) | results | speed-up |")
    print("|--:|--:|--:|--:|--:|--:|--:|")
    for size in args.sizes:
        triples, lines = inventory(rows_for(size))
        engine, report = timed(partial(validator.validate, triples, lines=lines), args.repeat)
        cells = [f"{engine:.3f}", str(len(report.findings))]
        if args.no_pyshacl:
            cells += ["", "", ""]
        else:
            data = Graph().parse(
                data=context_nt + "".join(f"{t} .\n" for t in triples), format="nt"
            )
            seconds, found = timed(partial(pyshacl_run, data, shapes), 1)
            cells += [f"{seconds:.2f}", str(found), f"{seconds / engine:.0f}x"]
        print(f"| {len(triples)} | {len(lines) // 2} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
