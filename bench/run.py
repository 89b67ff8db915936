"""Runs the benchmarks, prints their tables and writes them to `bench/results/latest.md`.

    .venv/bin/python bench/run.py [--quick] [--only load|http|lane|writes|queries] [--profile]

`make bench` runs this after installing what it needs (the `bench` extra, wrk).
Families: `load` (load + validate throughput, issue 3: `load_bench.py`) and `http`
(HTTP rps and latency against rdflib-endpoint and Oxigraph server, issue 4:
`http_bench.py`) and `lane` (the inline lane's cost bound against the time its queries
take: `lane_bench.py`) and `writes` (what one small write costs on stores of 60k to 1M
quads, beside Oxigraph server: `write_bench.py`) and `queries` (every saved query on
London-, UK- and four-country-shaped stores, and their load, beside Oxigraph server:
`queries_bench.py`). `--quick` takes the small sizes and
3-second load tests; a full run takes about 15 minutes on 2 cores, more with `writes`.
`--profile` adds a py-spy profile of our service.
docs/benchmarks.md holds the figures of a full run and how to read them.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import http_bench  # noqa: E402
import lane_bench  # noqa: E402
import load_bench  # noqa: E402
import queries_bench  # noqa: E402
import write_bench  # noqa: E402
from common import Section, log, machine_markdown  # noqa: E402

RESULTS = BENCH / "results"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small sizes, short load tests")
    parser.add_argument(
        "--only", choices=("load", "http", "lane", "writes", "queries"), help="one family only"
    )
    parser.add_argument("--profile", action="store_true", help="py-spy our service (http)")
    parser.add_argument("-o", "--output", type=Path, default=RESULTS / "latest.md")
    args = parser.parse_args()

    started = time.perf_counter()
    header = machine_markdown()
    print(header, "\n", flush=True)
    sections: list[Section] = []
    if args.only in (None, "load"):
        log("family A: load + validate")
        found = load_bench.run(quick=args.quick)
        _show(found)
        sections += found
    if args.only in (None, "http"):
        log("family B: HTTP")
        found = http_bench.run(quick=args.quick, profile=args.profile)
        _show(found)
        sections += found
    if args.only in (None, "lane"):
        log("family C: inline lane")
        found = lane_bench.run(quick=args.quick)
        _show(found)
        sections += found
    if args.only in (None, "writes"):
        log("family D: writes")
        found = write_bench.run(quick=args.quick)
        _show(found)
        sections += found
    if args.only in (None, "queries"):
        log("family E: saved queries")
        found = queries_bench.run(quick=args.quick)
        _show(found)
        sections += found
    elapsed = time.perf_counter() - started
    kind = "quick" if args.quick else "full"
    families = args.only or "load + http + lane + writes + queries"
    text = "\n".join(
        [
            f"# Benchmark results ({kind} run: {families})",
            "",
            "Written by `bench/run.py`; see docs/benchmarks.md for the method.",
            "",
            header,
            f"* **run time**: {elapsed / 60:.1f} min",
            "",
            *(s.markdown() for s in sections),
        ]
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    log(f"done in {elapsed / 60:.1f} min; results in {args.output}")
    return 0


def _show(sections: list[Section]) -> None:
    for section in sections:
        print(section.markdown(), flush=True)


if __name__ == "__main__":
    sys.exit(main())
