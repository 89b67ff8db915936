"""OCDS release and record packages (SPEC.md, input 4) → contracts, buyers and suppliers.

Per release, the buyer (`buyer`, or the party with the role `buyer`) is
resolved to a UK local authority by a GSS code or `GB-LA*` register code
among its identifiers, else by name; a release whose buyer is no UK local
authority (an NHS trust, a government department) is skipped with a warning.
Each `contracts[]` entry becomes a `ct:Contract`
(`{base}contract/ocds/{ocid}/{id}`) whose supplier is the first supplier of
the award its `awardID` names. A release with awards but no contracts (as
Contracts Finder often publishes) has one contract per award instead.
When several releases describe the same contract, the latest (`date`) wins.
Values count only in GBP. JSON has no line map: `lines` stays empty.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from pyoxigraph import Literal, NamedNode, Triple

from citytools import vocab as v
from citytools.errors import InputError
from citytools.loaders.authorities import AuthorityRecord, authority_resolver, is_gss_code
from citytools.loaders.base import Parsed
from citytools.loaders.builder import GraphBuilder
from citytools.loaders.csvtable import decode
from citytools.loaders.iris import Minter

KIND = "ocds"
Json = dict[str, Any]


def parse_ocds(data: bytes, *, source: str, minter: Minter) -> Parsed:
    parsed = Parsed(KIND)
    build = GraphBuilder(minter, parsed)
    contracts: dict[str, list[Triple]] = {}  # contract IRI → its triples (latest release wins)
    releases = _releases(_load(data, source), source, parsed)
    for _, release in sorted(enumerate(releases), key=lambda r: (str(r[1].get("date", "")), r[0])):
        _release(release, build, parsed, contracts)
    parsed.triples += [t for triples in contracts.values() for t in triples]
    return parsed


def _load(data: bytes, source: str) -> Json:
    try:
        doc = json.loads(decode(data, source), parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{source}: line {exc.lineno} column {exc.colno}: malformed JSON: {exc.msg}"
        ) from None
    if not isinstance(doc, dict):
        raise InputError(f"{source}: not an OCDS package: the top level must be a JSON object")
    return doc


def _releases(doc: Json, source: str, parsed: Parsed) -> list[Json]:
    if isinstance(doc.get("releases"), list):
        return [r for r in doc["releases"] if isinstance(r, dict)]
    if isinstance(doc.get("records"), list):
        releases = []
        for record in doc["records"]:
            compiled = record.get("compiledRelease") if isinstance(record, dict) else None
            if isinstance(compiled, dict):
                releases.append(compiled)
            else:
                ocid = record.get("ocid", "?") if isinstance(record, dict) else "?"
                parsed.warning(None, f"record {ocid}: no compiledRelease; skipped")
        return releases
    if "ocid" in doc:
        return [doc]  # a single release
    raise InputError(
        f"{source}: not an OCDS release package or record package: "
        "expected a 'releases' or 'records' list"
    )


def _release(
    release: Json, build: GraphBuilder, parsed: Parsed, contracts: dict[str, list[Triple]]
) -> None:
    ocid = release.get("ocid")
    if not isinstance(ocid, str) or not ocid.strip():
        parsed.violation(None, "a release has no 'ocid'")
        return
    parties = {p.get("id"): p for p in _list(release, "parties")}
    buyer_name, record = _buyer(release, parties)
    if record is None:
        parsed.warning(
            None,
            f"release {ocid}: buyer '{buyer_name}' is not a UK local authority; skipped",
            value=buyer_name,
        )
        return
    buyer = build.authority_record(record)[1]
    awards = {str(a.get("id")): a for a in _list(release, "awards")}
    entries = _list(release, "contracts") or [
        {**award, "awardID": key, "period": award.get("contractPeriod")}
        for key, award in awards.items()
    ]
    for contract in entries:
        made = _contract(ocid, contract, awards, parties, buyer, build, parsed)
        if made:
            contracts[str(made[0].subject)] = made


def _contract(
    ocid: str,
    contract: Json,
    awards: dict[str, Json],
    parties: dict[Any, Json],
    buyer: NamedNode,
    build: GraphBuilder,
    parsed: Parsed,
) -> list[Triple] | None:
    cid = str(contract.get("id") or "").strip()
    if not cid:
        parsed.warning(None, f"release {ocid}: a contract without an 'id'; skipped")
        return None
    award = awards.get(str(contract.get("awardID")), {})
    published = [
        s.get("name") or parties.get(s.get("id"), {}).get("name")
        for s in award.get("suppliers") or []
        if isinstance(s, dict)
    ]
    names: list[str] = [n.strip() for n in published if isinstance(n, str) and n.strip()]
    if not names:
        parsed.warning(None, f"contract {ocid}/{cid}: no supplier in its award; skipped")
        return None
    if len(names) > 1:
        parsed.warning(None, f"contract {ocid}/{cid}: several suppliers; kept '{names[0]}'")
    iri = build.minter.ocds_contract(ocid, cid)
    title = contract.get("title") or award.get("title") or f"{ocid} {cid}"
    facts: list[tuple[NamedNode, NamedNode | Literal]] = [
        (v.RDF.type, v.CONTRACT),
        (v.RDFS.label, Literal(str(title))),
        (v.OCID, Literal(ocid)),
        (v.DCT.identifier, Literal(cid)),
        (v.BUYER, buyer),
        (v.SUPPLIER, build.vendor(names[0])),
    ]
    description = contract.get("description") or award.get("description")
    if description:
        facts.append((v.DCT.description, Literal(str(description))))
    period = contract.get("period")
    if isinstance(period, dict):
        for key, prop in (("startDate", v.START_DATE), ("endDate", v.END_DATE)):
            if isinstance(period.get(key), str):
                facts.append((prop, Literal(period[key][:10], datatype=v.XSD.date)))
    value = contract.get("value") or award.get("value")
    if isinstance(value, dict) and value.get("amount") is not None:
        if value.get("currency") == "GBP":
            amount = _decimal(value["amount"])
            facts.append((v.TOTAL_VALUE, Literal(amount, datatype=v.XSD.decimal)))
        else:
            parsed.warning(
                None,
                f"contract {ocid}/{cid}: value in {value.get('currency') or 'no currency'}, "
                "not GBP; left out",
            )
    return [Triple(iri, p, o) for p, o in facts]


def _buyer(release: Json, parties: dict[Any, Json]) -> tuple[str, AuthorityRecord | None]:
    """(name as published, the authority it is) of a release's buyer."""
    buyer = release.get("buyer") if isinstance(release.get("buyer"), dict) else None
    party: Json = {}
    if buyer is not None:
        party = parties.get(buyer.get("id"), {})
    else:
        party = next((p for p in parties.values() if "buyer" in (p.get("roles") or [])), {})
    name = str((buyer or {}).get("name") or party.get("name") or "").strip()
    resolver = authority_resolver()
    identifiers = [party.get("identifier"), *(party.get("additionalIdentifiers") or [])]
    for ident in identifiers:
        if not isinstance(ident, dict) or not ident.get("id"):
            continue
        code, scheme = str(ident["id"]).strip(), str(ident.get("scheme") or "")
        if is_gss_code(code):
            record = resolver.resolve(code)
        elif scheme.startswith("GB-LA"):
            record = resolver.by_register_code(code)
        else:
            continue
        if record is not None:
            return name, record
    return name, resolver.resolve(name) if name else None


def _decimal(amount: object) -> str:
    """An xsd:decimal lexical form ("1.5e5" → "150000"); other JSON values as text,
    which the shapes then report."""
    if isinstance(amount, Decimal):
        return format(amount, "f")
    return str(amount).lower() if isinstance(amount, bool) else str(amount)


def _list(obj: Json, key: str) -> list[Json]:
    items = obj.get(key)
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []
