"""The SERVICE allow-list: every way of naming an endpoint is seen, and nothing else is."""

from __future__ import annotations

import pytest

from citytools.errors import FederationRefused, InputError
from citytools.service.federation_check import check_services, service_targets

ALLOWED = frozenset({"https://allowed.example/sparql"})
EVIL = "http://127.0.0.1:9/sparql"


@pytest.mark.parametrize(
    "query",
    [
        f"SELECT * WHERE {{ SERVICE <{EVIL}> {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ SERVICE SILENT <{EVIL}> {{ ?s ?p ?o }} }}",
        f"select * where {{ service\tsilent\n<{EVIL}> {{ ?s ?p ?o }} }}",
        "PREFIX e: <http://127.0.0.1:9/> SELECT * WHERE { SERVICE e:sparql { ?s ?p ?o } }",
        "BASE <http://127.0.0.1:9/> SELECT * WHERE { SERVICE <sparql> { ?s ?p ?o } }",
        f"SELECT * WHERE {{ ?s ?p true.SERVICE <{EVIL}> {{ ?a ?b ?c }} }}",
        f"SELECT * WHERE {{ OPTIONAL {{ SERVICE <{EVIL}> {{ ?s ?p ?o }} }} }}",
        f'SELECT * WHERE {{ ?s ?p "#" .\n SERVICE <{EVIL}> {{ ?a ?b ?c }} }} # "',
    ],
)
def test_every_spelling_of_a_service_endpoint_is_found(query: str) -> None:
    assert service_targets(query) == (EVIL,)
    with pytest.raises(FederationRefused, match=f"SERVICE <{EVIL}> is not allowed; .*: "):
        check_services(query, ALLOWED)


@pytest.mark.parametrize(
    "query",
    [
        'SELECT * WHERE { ?s ?p "SERVICE <http://127.0.0.1:9/sparql> { }" }',
        "SELECT * WHERE { ?s ?p ?o } # SERVICE <http://127.0.0.1:9/sparql> { }",
        "PREFIX ct: <https://w3id.org/citytools/ontology#>\n"
        "SELECT ?service WHERE { ?d ct:service ?service }",
        "SELECT * WHERE { ?s <http://example.org/service> ?o }",
        "SELECT * WHERE { SERVICE <https://allowed.example/sparql> { ?s ?p ?o } }",
    ],
)
def test_text_that_only_mentions_service_passes(query: str) -> None:
    check_services(query, ALLOWED)


def test_a_variable_endpoint_is_refused() -> None:
    query = "SELECT * WHERE { VALUES ?e { <https://allowed.example/sparql> } SERVICE ?e { } }"
    with pytest.raises(FederationRefused, match="variable endpoint is not allowed"):
        check_services(query, ALLOWED)


def test_an_empty_allow_list_is_named_as_such() -> None:
    with pytest.raises(FederationRefused, match=r"CITYTOOLS_FEDERATION_ALLOW\): none$"):
        check_services(f"ASK {{ SERVICE <{EVIL}> {{ }} }}", frozenset())


@pytest.mark.parametrize(
    "query",
    [
        "ASK { SERVICE <https://allowed.example/sparql> { SERVICE <http://127.0.0.1:9/x> { } } }",
        # rdflib loses a SERVICE that follows a "#" on its line
        "ASK { ?s <http://a.example/#p> ?o . SERVICE <https://allowed.example/sparql> { } }",
    ],
)
def test_a_query_the_checker_cannot_read_is_refused_not_run(query: str) -> None:
    with pytest.raises(FederationRefused, match=r"could not be checked .*on a line of its own"):
        check_services(query, ALLOWED)


def test_a_malformed_query_that_mentions_service_gets_the_engine_syntax_error() -> None:
    with pytest.raises(InputError, match=r"^malformed SPARQL query: error at 2:\d+: expected"):
        check_services("SELECT * WHERE { ?s <urn:service> ?o .\n ?s ?p }", ALLOWED)


@pytest.mark.parametrize(
    "query",
    [
        # pyoxigraph: a string holding an escaped quote; rdflib (unguarded): an empty
        # string, then a comment that hides the SERVICE
        f'SELECT * WHERE {{ BIND("\\u0022 AS ?x) #" AS ?x) SERVICE <{EVIL}> {{ ?a ?b ?c }}\n}}',
        f'SELECT * WHERE {{ BIND("\\\\u0022 AS ?x) #" AS ?x) SERVICE <{EVIL}> {{ }}\n}}',
        # pyoxigraph ends the comment at the carriage return; rdflib (unguarded) did not
        f"SELECT * WHERE {{ ?s ?p ?o # x\r. SERVICE <{EVIL}> {{ ?a ?b ?c }} \n}}",
    ],
)
def test_what_rdflib_and_pyoxigraph_read_differently_is_refused(query: str) -> None:
    with pytest.raises(FederationRefused):
        check_services(query, ALLOWED)
