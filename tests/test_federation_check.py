"""The SERVICE allow-list: every way pyoxigraph may read an endpoint is seen, and nothing else.

That pyoxigraph really calls the endpoints refused here is shown against a listening
socket in tests/test_service_guard_fuzz.py.
"""

from __future__ import annotations

import pytest
from pyoxigraph import Store

from citytools.errors import FederationRefused, InputError
from citytools.service.sparql.guard import (
    Endpoint,
    check_services,
    resolved,
    service_targets,
)

ALLOWED_IRI = "https://allowed.example/sparql"
ALLOWED = frozenset({ALLOWED_IRI})
EVIL = "http://127.0.0.1:9/sparql"
VARIABLE = "a variable endpoint is not allowed (a computed endpoint cannot be checked)"
ON_EVIL = "PREFIX e: <http://127.0.0.1:9/> PREFIX : <http://127.0.0.1:9/> "


def endpoints(sparql: str, base_iri: str | None = None) -> list[str | None]:
    return [endpoint.iri for endpoint in service_targets(sparql, base_iri)]


def refused(sparql: str, base_iri: str | None = None) -> str:
    with pytest.raises(InputError) as caught:
        check_services(sparql, ALLOWED, base_iri)
    return str(caught.value)


@pytest.mark.parametrize(
    "query",
    [
        f"SELECT * WHERE {{ SERVICE <{EVIL}> {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ SERVICE SILENT <{EVIL}> {{ ?s ?p ?o }} }}",
        f"select * where {{ service\tsilent\n<{EVIL}> {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ SeRvIcE<{EVIL}>{{}} }}",
        ON_EVIL + "SELECT * WHERE { SERVICE e:sparql { ?s ?p ?o } }",
        ON_EVIL + "SELECT * WHERE { SERVICE : { } }".replace(": {", ":sparql {"),
        "BASE <http://127.0.0.1:9/> SELECT * WHERE { SERVICE <sparql> { ?s ?p ?o } }",
        "SELECT * WHERE { SERVICE <http://127.0.0.1:9/sp\\u0061rql> { } }",
        f"SELECT * WHERE {{ ?s ?p true.SERVICE <{EVIL}> {{ ?a ?b ?c }} }}",
        f"SELECT * WHERE {{ OPTIONAL {{ SERVICE <{EVIL}> {{ ?s ?p ?o }} }} }}",
        f'SELECT * WHERE {{ ?s ?p "#" .\n SERVICE <{EVIL}> {{ ?a ?b ?c }} }} # "',
        f"SELECT * WHERE {{ ?s ?p ?o # x\r. SERVICE <{EVIL}> {{ ?a ?b ?c }} \n}}",
        f"ASK {{ ?s <http://a.example/#p> ?o . SERVICE <{EVIL}> {{ }} }}",
        f"ASK {{ SERVICE <{ALLOWED_IRI}> {{ SERVICE <{EVIL}> {{ }} }} }}",
        # keywords need no boundary: SILENT run on, a prefixed name starting "service"
        f"SELECT * WHERE {{ SERVICESILENT<{EVIL}>{{}} }}",
        ON_EVIL + "SELECT * WHERE { SERVICESILENT:sparql{} }",
        ON_EVIL + "PREFIX service: <https://allowed.example/> SELECT * { service:sparql {} }",
        # `SERVICE silent:x` is SERVICE SILENT :x when `:` resolves
        ON_EVIL + "PREFIX silent: <https://allowed.example/> SELECT * { SERVICE silent:sparql {} }",
        # a less-than and a comment, not an IRI; then a string that is not one
        ON_EVIL + "SELECT * WHERE { BIND(1 AS ?x) FILTER(?x<?y)SERVICE:sparql#>\n{} }",
        f'SELECT * {{ VALUES ?x {{ """A" "B" }} SERVICE <{EVIL}> {{}} # \\U00110000 """ }}\n}}',
        f"INSERT {{ <a:a> <a:b> <a:c> }} WHERE {{ # x\rSERVICE <{EVIL}> {{ }} }}",
    ],
)
def test_every_reading_of_an_endpoint_is_found(query: str) -> None:
    assert refused(query) == (
        f"SERVICE <{EVIL}> is not allowed; allowed endpoints (CITYTOOLS_FEDERATION_ALLOW): "
        + ALLOWED_IRI
    )


@pytest.mark.parametrize(
    "query",
    [
        'SELECT * WHERE { ?s ?p "SERVICE <http://127.0.0.1:9/sparql> { }" }',
        "SELECT * WHERE { ?s ?p '''\nSERVICE <http://127.0.0.1:9/sparql> { }''' }",
        "SELECT * WHERE { ?s ?p ?o } # SERVICE <http://127.0.0.1:9/sparql> { }",
        "SELECT * WHERE { ?s ?p ?o } # x\n# SERVICE <http://127.0.0.1:9/sparql> { }",
        "PREFIX ct: <https://w3id.org/citytools/ontology#>\n"
        "SELECT ?service WHERE { ?d ct:service ?service . ?d ct:serviceArea ?a }",
        "SELECT * WHERE { ?s <http://example.org/service> ?o }",
        "PREFIX ct: <https://w3id.org/citytools/ontology#> SELECT * WHERE { GRAPH ct:service { } }",
        "PREFIX : <http://127.0.0.1:9/> PREFIX service: <https://x.example/> "
        "SELECT * WHERE { GRAPH service:sparql { } }",
        # pyoxigraph reads no keyword through an escape: a syntax error, no call
        "SELECT * WHERE { SERV\\u0049CE <http://127.0.0.1:9/sparql> { } }",
        "SELECT * WHERE { SERVICE <https://allowed.example/sparql> { ?s ?p ?o } }",
        "SELECT * WHERE { SERVICE <https://allowed.example/sp\\u0061rql> { } }",
        "SELECT * WHERE { SERVICE <sparql> { } }".replace("<sparql>", f"<{ALLOWED_IRI}>"),
        'INSERT DATA { <urn:a> <urn:l> "Adult social care service; LOAD <http://x>" }',
        "PREFIX ct: <https://w3id.org/citytools/ontology#> SELECT * { ?w ct:workload ?l }",
    ],
)
def test_text_that_only_mentions_service_passes(query: str) -> None:
    check_services(query, ALLOWED)


def test_service_targets_are_every_endpoint_in_text_order() -> None:
    query = ON_EVIL + (
        f"SELECT * {{ SERVICE SILENT e:a {{ SERVICE <{ALLOWED_IRI}> {{}} }} SERVICE ?v {{}} }}"
    )
    assert service_targets(query) == (
        Endpoint("e:a", "http://127.0.0.1:9/a"),
        Endpoint(f"<{ALLOWED_IRI}>", ALLOWED_IRI),
        Endpoint("?v", None, VARIABLE),
    )


def test_the_one_line_federated_join_is_accepted() -> None:
    query = (
        "PREFIX ct: <https://w3id.org/citytools/ontology#> SELECT * WHERE { ?a a "
        f"ct:LocalAuthority . SERVICE <{ALLOWED_IRI}> {{ ?a a ct:LocalAuthority }} }}"
    )
    assert endpoints(query) == [ALLOWED_IRI]
    check_services(query, ALLOWED)


def test_allowed_endpoints_in_every_position_and_spelling_are_accepted() -> None:
    query = (
        "BASE <https://allowed.example/x/> PREFIX a: <../> PREFIX silent: <../>\n"
        "SELECT * WHERE { SERVICE a:sparql { SERVICE SILENT <../sparql> { } }\n"
        "OPTIONAL { SERVICE silent:sparql { } } FILTER NOT EXISTS { service<../sparql>{} } }"
    )
    assert endpoints(query) == [ALLOWED_IRI] * 4
    check_services(query, ALLOWED)


def test_prefixes_and_several_bases_resolve_in_text_order() -> None:
    query = (
        "BASE <https://other.example/> BASE <https://allowed.example/a/> PREFIX p: <b/>\n"
        "BASE <https://third.example/> INSERT { <a:a> <a:b> <a:c> } WHERE {\n"
        "SERVICE p:c { } SERVICE <d> { } }"
    )
    assert endpoints(query) == ["https://allowed.example/a/b/c", "https://third.example/d"]


def test_the_request_base_iri_resolves_relative_endpoints() -> None:
    query = "SELECT * WHERE { SERVICE <sparql> { } }"
    assert endpoints(query, "https://allowed.example/") == [ALLOWED_IRI]
    check_services(query, ALLOWED, "https://allowed.example/")
    assert "not an IRI (a relative one needs a base)" in refused(query)


def test_a_variable_endpoint_is_refused() -> None:
    query = f"SELECT * WHERE {{ VALUES ?e {{ <{ALLOWED_IRI}> }} SERVICE ?e {{ }} }}"
    assert refused(query) == (
        "SERVICE ?e: a variable endpoint is not allowed (a computed endpoint cannot be "
        f"checked); name the endpoint by its IRI (allowed endpoints, CITYTOOLS_FEDERATION_ALLOW: "
        f"{ALLOWED_IRI})"
    )
    assert "variable endpoint" in refused("SELECT * WHERE { SERVICE SILENT $e { } }")


def test_an_empty_allow_list_is_named_as_such() -> None:
    with pytest.raises(FederationRefused, match=r"CITYTOOLS_FEDERATION_ALLOW\): none$"):
        check_services(f"ASK {{ SERVICE <{EVIL}> {{ }} }}", frozenset())


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("SELECT * WHERE { SERVICE e:sparql { } }", "SERVICE e:sparql: the prefix e: is not"),
        ("SELECT * WHERE { SERVICE { } }", "SERVICE at line 1, column 18: no endpoint IRI"),
        (f"SELECT * WHERE {{ SERVICE <{EVIL}> }}", "SERVICE at line 1, column 18: no endpoint"),
    ],
)
def test_a_service_whose_endpoint_cannot_be_read_is_refused(query: str, message: str) -> None:
    with pytest.raises(FederationRefused, match=f"^{message}.*CITYTOOLS_FEDERATION_ALLOW"):
        check_services(query, ALLOWED)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        # pyoxigraph would read these runs as keywords (a SERVICE to <x> each)
        (f"SELECT * WHERE {{ ?x ?p trueSERVICE <{EVIL}> {{}} }}", "'trueSERVICE' at line 1"),
        (f"SELECT * {{ ?x ?p ct:service<{EVIL}> {{}} }}", "the prefix ct: is not declared"),
        (
            f"PREFIX ct: <http://[::1]> SELECT * {{ ?x ?p ct:service<{EVIL}>{{}} }}",
            r"ct:service does not make a valid IRI \(http://\[::1\]service\)",
        ),
        ('SELECT * WHERE { ?s ?p "service }', "the string at line 1, column 24 does not end"),
        ("SELECT * WHERE { ?s ?p <service }", "the IRI at line 1, column 24 does not end"),
        (f"SELECT * WHERE {{ SERVICE <{ALLOWED_IRI}> {{ }} ", "a bracket is not closed"),
        (f"ASK {{ SERVICE <{ALLOWED_IRI}> {{ }} }} }}", "'}' at line 1, column 54 closes no"),
        ("SELECT * WHERE { ?service ?p ?o }\f", r"'\\x0c' at line 1, column 34 starts no"),
        ("PREFIX p: <a> SELECT * { SERVICE p:x {} }", "the PREFIX at line 1, column 1 names no"),
    ],
)
def test_a_text_mentioning_service_that_cannot_be_read_is_refused(query: str, message: str) -> None:
    with pytest.raises(InputError, match=f"^malformed SPARQL: .*{message}"):
        check_services(query, ALLOWED)


def test_a_text_that_does_not_mention_service_or_load_is_left_to_the_engine() -> None:
    check_services('SELECT * WHERE { ?s ?p "unterminated }', ALLOWED)
    check_services("SELECT * WHERE { ?s ex:undeclared trueFALSE }", ALLOWED)


def test_a_malformed_query_that_only_mentions_service_gets_the_engine_syntax_error() -> None:
    query = "SELECT * WHERE { ?s <urn:service> ?o .\n ?s ?p }"
    check_services(query, ALLOWED)
    with pytest.raises(SyntaxError, match=r"^error at 2:\d+: expected"):
        Store().query(query)


@pytest.mark.parametrize(
    "update",
    [
        f"LOAD <{ALLOWED_IRI}>",
        f"load silent <{ALLOWED_IRI}> INTO GRAPH <urn:g>",
        f"INSERT DATA {{ <a:a> <a:b> <a:c> }} ;\nLOAD <{ALLOWED_IRI}>",
        f"LOADSILENT<{ALLOWED_IRI}>",
        "PREFIX e: <https://allowed.example/> LOADe:sparql",
        "PREFIX : <https://allowed.example/> LOAD:sparql",
    ],
)
def test_load_is_never_accepted(update: str) -> None:
    with pytest.raises(InputError, match=r"^LOAD is not accepted: send the data to /store"):
        check_services(update, ALLOWED)


def test_resolution_is_pyoxigraphs() -> None:
    assert resolved("../c?d#e", "http://h/a/b") == "http://h/c?d#e"
    assert resolved("http://h/\\u0041", None) == "http://h/A"
    assert resolved("rel", None) is None
    assert resolved("http://h/a b", None) is None
