"""`/queries`: the catalogue, one operation per saved query, every format, errors, the HTML page."""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Iterator
from xml.etree import ElementTree

import pytest
from fastapi import FastAPI
from http_support import TestClient
from query_support import BASE, DATA, SHIPPED, SPEC_QUERIES, warm_federation_check

from citytools.loaders.iris import Minter
from citytools.service.engine.pool import InlineExecutor
from citytools.service.http.app import create_app
from citytools.service.http.pages import charts
from citytools.service.http.routes.queries import queries_router
from citytools.service.runtime import bootstrap
from citytools.service.store.embedded import EmbeddedStore
from citytools.service.writes.ingest import Source
from citytools.settings import Settings

JSON_RESULTS = "application/sparql-results+json"
XML_RESULTS = "application/sparql-results+xml"
warm_federation_check(SHIPPED)


def _client(store: EmbeddedStore, settings: Settings) -> TestClient:
    executor = InlineExecutor(store.raw, settings)
    return TestClient(create_app(settings, store=store, executor=executor, catalogue=SHIPPED))


def _load(store: EmbeddedStore, settings: Settings, *, illustrative: bool) -> None:
    ingestor = bootstrap.build_ingestor(store, settings)
    for name in ("inventory.csv", "projects.csv"):
        source = Source((DATA / name).read_bytes(), name=name, illustrative=illustrative)
        ingestor.load(source)


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    store_dir = tmp_path_factory.mktemp("queries") / "store"
    return Settings(_env_file=None, store=store_dir)  # type: ignore[call-arg]


@pytest.fixture(scope="module")
def store(settings: Settings) -> Iterator[EmbeddedStore]:
    opened = EmbeddedStore(None)
    bootstrap.ensure_reference(opened, Minter(settings.base_iri))
    _load(opened, settings, illustrative=True)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def client(store: EmbeddedStore, settings: Settings) -> Iterator[TestClient]:
    with _client(store, settings) as started:
        yield started


def rows(response: object) -> list[dict[str, str]]:
    document = json.loads(response.content)  # type: ignore[attr-defined]
    return [{k: b["value"] for k, b in row.items()} for row in document["results"]["bindings"]]


# --- the catalogue --------------------------------------------------------------------------


def test_catalogue_as_json(client: TestClient) -> None:
    response = client.get("/queries")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    listing = {q["name"]: q for q in response.json()["queries"]}
    assert set(listing) == SPEC_QUERIES
    concentration = listing["vendor-concentration"]
    assert concentration["url"] == "/queries/vendor-concentration"
    assert concentration["sparql"] == "/queries/vendor-concentration.rq"
    assert [(p["name"], p["type"], p["default"]) for p in concentration["parameters"]] == [
        ("top", "xsd:integer", "15"),
        ("by", "enum(supplier,manufacturer)", "supplier"),
    ]
    assert concentration["chart"] == {
        "kind": "stacked",
        "label": "vendor_label",
        "value": "deployment_share",
    }


def test_catalogue_as_html(client: TestClient) -> None:
    response = client.get("/queries", headers={"Accept": "text/html,*/*;q=0.8"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = response.text
    assert page.count('<li class="query">') == 11
    assert '<a href="/queries/joint-procurement?format=html">Joint procurement</a>' in page
    assert '<a href="/queries/joint-procurement.rq">SPARQL</a>' in page
    assert client.get("/queries", params={"format": "html"}).text == page


def test_query_text(client: TestClient) -> None:
    response = client.get("/queries/shared-systems.rq")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/sparql-query; charset=utf-8"
    assert response.text == SHIPPED.get("shared-systems").text


@pytest.mark.parametrize("path", ["/queries/nope", "/queries/nope.rq"])
def test_unknown_query_is_404(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.json() == {
        "error": "not-found",
        "message": "no saved query 'nope'; see /queries for the list",
    }


# --- running a query --------------------------------------------------------------------------


def test_default_answer_is_sparql_json(client: TestClient) -> None:
    response = client.get("/queries/shared-systems")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(JSON_RESULTS)
    found = rows(response)
    assert [int(r["authorities"]) for r in found] == [4, 4, 3, 3, 3, 3, 2, 2]
    assert found[0]["system"] == BASE + "system/mosaic"


def test_parameters_come_from_the_query_string(client: TestClient) -> None:
    response = client.get("/queries/shared-systems", params={"min_authorities": "4"})
    assert {r["system_label"] for r in rows(response)} == {"Mosaic", "Uniform"}
    response = client.get("/queries/systems-of-authority", params={"authority": "westminster"})
    assert len(rows(response)) == 5
    assert {r["authority"] for r in rows(response)} == {BASE + "authority/E09000033"}


@pytest.mark.parametrize(
    ("how", "media_type"),
    [
        ({"params": {"format": "csv"}}, "text/csv"),
        ({"headers": {"Accept": "text/csv"}}, "text/csv"),
        ({"params": {"format": "tsv"}}, "text/tab-separated-values"),
        ({"params": {"format": "xml"}}, XML_RESULTS),
        (
            {"headers": {"Accept": "application/sparql-results+xml"}},
            "application/sparql-results+xml",
        ),
        ({"params": {"format": "json"}}, JSON_RESULTS),
    ],
)
def test_every_result_format(
    client: TestClient, how: dict[str, dict[str, str]], media_type: str
) -> None:
    params = {"min_authorities": "3", **how.get("params", {})}
    response = client.get("/queries/shared-systems", params=params, headers=how.get("headers"))
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == media_type
    if media_type == "text/csv":
        table = list(csv.reader(io.StringIO(response.text)))
        assert table[0] == list(SHIPPED.get("shared-systems").columns)
        assert len(table) == 1 + 6


def test_unacceptable_media_type_is_406(client: TestClient) -> None:
    response = client.get("/queries/shared-systems", headers={"Accept": "application/pdf"})
    assert response.status_code == 406


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"min_authorities": "two"}, "parameter 'min_authorities': 'two' is not a whole number"),
        ({"min_authorities": "0"}, "parameter 'min_authorities': must be at least 1, not 0"),
        ({"colour": "red"}, "parameter 'colour': 'shared-systems' has no such parameter"),
        ({"format": "pdf"}, "parameter 'format': unknown format 'pdf'"),
    ],
)
def test_bad_parameters_are_422(client: TestClient, params: dict[str, str], message: str) -> None:
    response = client.get("/queries/shared-systems", params=params)
    assert response.status_code == 422
    assert response.json()["error"] == "bad-parameter"
    assert message in response.json()["message"]


def test_a_repeated_parameter_is_422(client: TestClient) -> None:
    response = client.get("/queries/shared-systems?min_authorities=2&min_authorities=3")
    assert response.status_code == 422
    assert "given 2 times" in response.json()["message"]


def test_an_authority_not_in_the_graph_is_422(client: TestClient) -> None:
    response = client.get("/queries/skills-peers", params={"authority": "Cardiff"})
    assert response.status_code == 422
    assert response.json() == {
        "error": "bad-parameter",
        "message": "parameter 'authority': no authority 'Cardiff' in the graph",
    }


@pytest.mark.parametrize("attempt", ['x" } ; DROP ALL ; #', "<http://evil>", "?s ?p ?o"])
def test_injection_changes_nothing(client: TestClient, store: EmbeddedStore, attempt: str) -> None:
    before = store.quad_count()
    for name, parameter in [
        ("systems-of-authority", "authority"),
        ("contract-pipeline", "service_area"),
        ("contract-pipeline", "from"),
        ("vendor-concentration", "by"),
        ("single-supplier-dependency", "threshold"),
    ]:
        response = client.get(f"/queries/{name}", params={parameter: attempt})
        assert response.status_code == 422, (name, parameter)
        assert response.json()["message"].startswith(f"parameter '{parameter}': ")
    assert store.quad_count() == before


def test_answers_carry_validators(client: TestClient) -> None:
    first = client.get("/queries/region-comparison")
    assert first.status_code == 200
    again = client.get(
        "/queries/region-comparison", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304


# --- the HTML page ----------------------------------------------------------------------------


def test_html_page_has_table_chart_form_and_links(client: TestClient) -> None:
    response = client.get(
        "/queries/vendor-concentration",
        params={"top": "3"},
        headers={"Accept": "text/html,application/xhtml+xml"},
    )
    assert response.status_code == 200
    page = response.text
    assert '<p class="banner" role="note"><strong>Illustrative data:</strong>' in page
    assert '<svg xmlns="http://www.w3.org/2000/svg" role="img"' in page
    assert "Civica: 35.7% (cumulative 35.7%)" in page
    assert '<input id="param-top" name="top" value="3"' in page
    assert '<option value="supplier" selected>supplier</option>' in page
    assert '<a href="/queries/vendor-concentration?top=3&amp;format=csv">CSV</a>' in page
    assert '<a href="/queries/vendor-concentration.rq">SPARQL (.rq)</a>' in page
    assert "<caption>3 rows</caption>" in page
    # Vendor IRIs link to their pages, labelled; the repeated parameters are not columns.
    assert '<a href="/id/vendor/civica">Civica</a>' in page
    assert '<th scope="col">by</th>' not in page
    assert '<td class="number">35.7%</td>' in page


def test_first_visit_without_required_parameter_shows_the_form(client: TestClient) -> None:
    response = client.get("/queries/skills-peers", params={"format": "html"})
    assert response.status_code == 200
    assert '<input id="param-authority" name="authority" value=""' in response.text
    assert 'role="alert"' not in response.text
    assert "<table>" not in response.text


def test_html_error_is_shown_in_the_page_and_escaped(client: TestClient) -> None:
    response = client.get(
        "/queries/skills-peers", params={"authority": "<script>x</script>", "format": "html"}
    )
    assert response.status_code == 422
    assert "<script>x" not in response.text
    assert "no authority &#39;&lt;script&gt;x&lt;/script&gt;&#39; in the graph" in response.text
    assert 'value="&lt;script&gt;x&lt;/script&gt;"' in response.text


def test_html_page_without_illustrative_data_has_no_banner(settings: Settings) -> None:
    store = EmbeddedStore(None)
    bootstrap.ensure_reference(store, Minter(settings.base_iri))
    _load(store, settings, illustrative=False)
    with _client(store, settings) as client:
        page = client.get("/queries/region-comparison", params={"format": "html"}).text
    store.close()
    assert "Illustrative data" not in page
    assert "<caption>2 rows</caption>" in page


# --- OpenAPI ----------------------------------------------------------------------------------


def test_one_openapi_operation_per_saved_query() -> None:
    # The router alone: the schema of the other route groups is theirs to test.
    app = FastAPI()
    app.include_router(queries_router(SHIPPED))
    spec = app.openapi()
    operations = {
        op["operationId"]: op
        for path, item in spec["paths"].items()
        if path.startswith("/queries/")
        for op in item.values()
        if "operationId" in op
    }
    assert set(operations) >= SPEC_QUERIES
    shared = {p["name"]: p for p in operations["shared-systems"]["parameters"]}
    assert shared["min_authorities"]["schema"] == {"type": "integer", "default": 2, "minimum": 1}
    assert shared["format"]["schema"]["enum"] == ["json", "xml", "csv", "tsv", "html"]
    pipeline = {p["name"]: p for p in operations["contract-pipeline"]["parameters"]}
    assert pipeline["from"]["schema"] == {"type": "string", "format": "date"}
    assert pipeline["service_area"]["required"] is False
    concentration = {p["name"]: p for p in operations["vendor-concentration"]["parameters"]}
    assert concentration["by"]["schema"] == {
        "type": "string",
        "enum": ["supplier", "manufacturer"],
        "default": "supplier",
    }
    assert operations["skills-peers"]["parameters"][0]["required"] is True


# --- charts -----------------------------------------------------------------------------------


def test_charts_are_well_formed_svg_with_escaped_text() -> None:
    bars = charts.bar_chart(["<b>A & B</b>", "C"], [3.0, 1.5], title="Count <of> things")
    root = ElementTree.fromstring(str(bars))
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert texts == ["<b>A & B</b>", "3", "C", "1.5"]
    assert root.find("{http://www.w3.org/2000/svg}title").text == "Count <of> things"  # type: ignore[union-attr]
    widths = [r.get("width") for r in root.iter("{http://www.w3.org/2000/svg}rect")]
    assert widths == ["400.0", "200.0"]
    stacked = ElementTree.fromstring(str(charts.stacked_chart(["A", "B"], [0.5, 0.25], title="T")))
    keys = [t.text for t in stacked.iter("{http://www.w3.org/2000/svg}text")]
    assert keys == ["A: 50.0% (cumulative 50.0%)", "B: 25.0% (cumulative 75.0%)", "others: 25.0%"]


def test_the_app_serves_the_shipped_catalogue_in_its_openapi(settings: Settings) -> None:
    app = create_app(settings)  # not started: the schema needs no store
    paths = app.openapi()["paths"]
    assert {f"/queries/{name}" for name in SPEC_QUERIES} <= set(paths)


def test_the_root_leads_to_the_catalogue(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == "/queries"
    page = client.get("/", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "shared-systems" in page.text


def test_a_chart_label_can_join_columns(client: TestClient) -> None:
    # shared-systems rows are (product, service area): one product in two areas is two bars.
    page = client.get("/queries/shared-systems", params={"format": "html"}).text
    rows = client.get("/queries/shared-systems", params={"format": "json"}).json()
    first = rows["results"]["bindings"][0]
    label = f"{first['system_label']['value']} — {first['service_area_label']['value']}"
    assert html.escape(label) in page
