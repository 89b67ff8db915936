"""The ontology: parses everywhere, declares every ct: term the code writes, and aligns it."""

from __future__ import annotations

import pytest
from pyoxigraph import NamedNode, RdfFormat, parse, serialize
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.compare import isomorphic

from citytools import vocab
from citytools.resources import ONTOLOGY_IRI, ontology_file

RDF_TYPE = URIRef(vocab.RDF.type.value)
LABEL = URIRef(vocab.RDFS.label.value)
DOMAIN = URIRef(vocab.RDFS.domain.value)
RANGE = URIRef(vocab.RDFS.range.value)
DEFINITION = URIRef(vocab.SKOS.definition.value)
OWL_CLASS = URIRef(vocab.OWL.Class.value)
OBJECT_PROPERTY = URIRef(vocab.OWL.ObjectProperty.value)
DATATYPE_PROPERTY = URIRef(vocab.OWL.DatatypeProperty.value)
ALIGNING = tuple(
    URIRef(p.value)
    for p in (
        vocab.RDFS.subClassOf,
        vocab.RDFS.subPropertyOf,
        vocab.OWL.equivalentClass,
        vocab.OWL.equivalentProperty,
    )
)

# Terms no public vocabulary names; each is the product's own contribution or bookkeeping.
PRODUCT_SPECIFIC = {
    vocab.HOSTING,  # survey answer: where the deployment runs
    vocab.IN_HOUSE_SKILL,  # survey answer: the authority's own expertise
    vocab.SATISFACTION,  # survey answer: 1-5 score
    vocab.ANNUAL_VALUE,  # plain GBP decimals, not schema:MonetaryAmount nodes, for simple queries
    vocab.TOTAL_VALUE,
    vocab.CHECKSUM,  # ingest bookkeeping, in the provenance graph
    vocab.GRAPH_CHANGE,
    vocab.GRAPH_CHANGE_PROP,
    vocab.CHANGED_GRAPH,
    vocab.TRIPLES_ADDED,
    vocab.TRIPLES_REMOVED,
    vocab.DEPLOYMENTS_ADDED,
    vocab.DEPLOYMENTS_REMOVED,
    vocab.CONTRACT_ENDS_MOVED,
    vocab.INPUT_KIND,
    vocab.ILLUSTRATIVE,
}


def _vocab_terms() -> list[NamedNode]:
    """Every ct: IRI in core/vocab.py: module constants plus the controlled-value tables."""
    terms = {
        value
        for value in vars(vocab).values()
        if isinstance(value, NamedNode) and value.value.startswith(str(vocab.CT))
    }
    for table in (vocab.FUNCTIONS, vocab.HOSTINGS, vocab.SKILLS, vocab.STATUSES):
        terms.update(table.values())
    return sorted(terms, key=lambda t: t.value)


VOCAB_TERMS = _vocab_terms()


def ref(term: NamedNode) -> URIRef:
    return URIRef(term.value)


@pytest.fixture(scope="module")
def onto() -> Graph:
    return Graph().parse(data=ontology_file().read_bytes(), format="turtle")


def ct_terms_of_type(onto: Graph, *types: URIRef) -> set[URIRef]:
    return {
        s
        for t in types
        for s in onto.subjects(RDF_TYPE, t)
        if isinstance(s, URIRef) and str(s).startswith(str(vocab.CT))
    }


def test_vocab_scan_finds_the_whole_vocabulary() -> None:
    assert len(VOCAB_TERMS) == 64
    assert {vocab.DEPLOYMENT, vocab.SERVICE_AREA, vocab.GSS_CODE, vocab.HOSTINGS["saas"]} <= set(
        VOCAB_TERMS
    )


def test_rdflib_and_pyoxigraph_read_the_same_graph(onto: Graph) -> None:
    triples = [q.triple for q in parse(ontology_file().read_bytes(), format=RdfFormat.TURTLE)]
    as_ntriples = serialize(triples, format=RdfFormat.N_TRIPLES)
    assert as_ntriples is not None
    assert len(triples) == len(onto) > 400
    assert isomorphic(Graph().parse(data=as_ntriples, format="nt"), onto)


def test_ontology_header(onto: Graph) -> None:
    ontology = URIRef(ONTOLOGY_IRI)
    assert (ontology, RDF_TYPE, URIRef(vocab.OWL.Ontology.value)) in onto
    assert onto.value(ontology, ref(vocab.OWL.versionIRI)) == URIRef(ONTOLOGY_IRI + "/0.1.0")
    assert onto.value(ontology, ref(vocab.OWL.versionInfo)) == Literal("0.1.0")
    assert onto.value(ontology, ref(vocab.DCT.license)) == URIRef(
        "https://creativecommons.org/licenses/by/4.0/"
    )
    title = onto.value(ontology, ref(vocab.DCT["title"]))
    assert title == Literal("City Tools ontology", lang="en")
    description = onto.value(ontology, ref(vocab.DCT.description))
    assert isinstance(description, Literal)
    assert description.language == "en"
    assert isinstance(onto.value(ontology, ref(vocab.DCT.creator)), BNode)
    prefix = URIRef("http://purl.org/vocab/vann/preferredNamespacePrefix")
    assert onto.value(ontology, prefix) == Literal("ct")
    comment = str(onto.value(ontology, ref(vocab.RDFS.comment)))
    assert "dct:conformsTo" in comment
    assert "doap:Project" in comment


@pytest.mark.parametrize("term", VOCAB_TERMS, ids=lambda t: t.value.rsplit("#", 1)[1])
def test_vocab_term_is_declared_with_one_english_label_and_definition(
    onto: Graph, term: NamedNode
) -> None:
    subject = ref(term)
    assert set(onto.objects(subject, RDF_TYPE)), f"{term} is not declared"
    labels = [o for o in onto.objects(subject, LABEL) if isinstance(o, Literal)]
    assert [label.language for label in labels] == ["en"]
    definitions = list(onto.objects(subject, DEFINITION))
    assert len(definitions) == 1
    definition = definitions[0]
    assert isinstance(definition, Literal)
    assert definition.language == "en"
    assert str(definition).endswith(".")
    assert len(str(definition).split()) >= 6


def test_every_ct_term_in_the_ontology_is_labelled_and_defined(onto: Graph) -> None:
    subjects = {
        s for s in onto.subjects() if isinstance(s, URIRef) and str(s).startswith(str(vocab.CT))
    }
    assert len(subjects) == 68  # the vocabulary plus the four concept schemes
    for subject in subjects:
        assert len(list(onto.objects(subject, LABEL))) == 1, subject
        assert len(list(onto.objects(subject, DEFINITION))) == 1, subject


def test_every_class_and_property_of_the_ontology_is_named_in_vocab(onto: Graph) -> None:
    declared = ct_terms_of_type(onto, OWL_CLASS, OBJECT_PROPERTY, DATATYPE_PROPERTY)
    assert declared == {ref(t) for t in VOCAB_TERMS if not _is_concept(onto, t)}


def _is_concept(onto: Graph, term: NamedNode) -> bool:
    return (ref(term), RDF_TYPE, ref(vocab.SKOS.Concept)) in onto


def test_properties_have_domain_and_range(onto: Graph) -> None:
    xsd = str(vocab.XSD)
    datatype_properties = ct_terms_of_type(onto, DATATYPE_PROPERTY)
    object_properties = ct_terms_of_type(onto, OBJECT_PROPERTY)
    assert len(datatype_properties) == 19
    assert len(object_properties) == 19
    for prop in datatype_properties | object_properties:
        assert onto.value(prop, DOMAIN) is not None, prop
        assert len(list(onto.objects(prop, RANGE))) == 1, prop
    for prop in datatype_properties:
        assert str(onto.value(prop, RANGE)).startswith(xsd), prop
    for prop in object_properties:
        assert not str(onto.value(prop, RANGE)).startswith(xsd), prop


def test_ranges_of_key_properties(onto: Graph) -> None:
    xsd = vocab.XSD
    expected = {
        vocab.SATISFACTION: xsd.integer,
        vocab.START_DATE: xsd.date,
        vocab.ANNUAL_VALUE: xsd.decimal,
        vocab.ILLUSTRATIVE: xsd.boolean,
        vocab.SERVICE_PROP: vocab.SERVICE,
        vocab.SUPPLIER: vocab.VENDOR,
        vocab.STATUS: vocab.SKOS.Concept,
    }
    assert {p: onto.value(ref(p), RANGE) for p in expected} == {
        p: ref(r) for p, r in expected.items()
    }


@pytest.mark.parametrize(
    ("table", "scheme"),
    [
        (vocab.FUNCTIONS, "FunctionScheme"),
        (vocab.HOSTINGS, "HostingScheme"),
        (vocab.SKILLS, "SkillScheme"),
        (vocab.STATUSES, "ProjectStatusScheme"),
    ],
)
def test_controlled_values_are_concepts_of_their_scheme(
    onto: Graph, table: dict[str, NamedNode], scheme: str
) -> None:
    scheme_iri = ref(vocab.CT[scheme])
    assert (scheme_iri, RDF_TYPE, ref(vocab.SKOS.ConceptScheme)) in onto
    in_scheme = set(onto.subjects(ref(vocab.SKOS.inScheme), scheme_iri))
    assert in_scheme == {ref(c) for c in table.values()}
    for code, concept in table.items():
        assert _is_concept(onto, concept)
        assert onto.value(ref(concept), ref(vocab.SKOS.notation)) == Literal(code)


def _aligned(onto: Graph, term: URIRef, seen: frozenset[URIRef] = frozenset()) -> bool:
    """True when the term reaches a non-ct: term through subclass/subproperty/equivalence."""
    for predicate in ALIGNING:
        for target in onto.objects(term, predicate):
            if not isinstance(target, URIRef) or target in seen:
                continue
            if not str(target).startswith(str(vocab.CT)):
                return True
            if _aligned(onto, target, seen | {term}):
                return True
    return False


def test_classes_and_properties_are_aligned_or_product_specific(onto: Graph) -> None:
    terms = ct_terms_of_type(onto, OWL_CLASS, OBJECT_PROPERTY, DATATYPE_PROPERTY)
    unaligned = {t for t in terms if not _aligned(onto, t)}
    assert unaligned == {ref(t) for t in PRODUCT_SPECIFIC}


@pytest.mark.parametrize(
    ("term", "predicate", "target"),
    [
        (vocab.LOCAL_AUTHORITY, vocab.RDFS.subClassOf, vocab.ORG.Organization),
        (vocab.LOCAL_AUTHORITY, vocab.RDFS.subClassOf, vocab.CPOV.PublicOrganisation),
        (vocab.LOCAL_AUTHORITY, vocab.RDFS.subClassOf, vocab.SCHEMA.GovernmentOrganization),
        (vocab.SERVICE, vocab.RDFS.subClassOf, vocab.CPSV.PublicService),
        (vocab.SERVICE_AREA, vocab.RDFS.subClassOf, vocab.SERVICE),
        (vocab.SYSTEM, vocab.RDFS.subClassOf, vocab.SCHEMA.SoftwareApplication),
        (vocab.VENDOR, vocab.RDFS.subClassOf, vocab.SCHEMA.Organization),
        (vocab.STANDARD, vocab.RDFS.subClassOf, vocab.DCT.Standard),
        (vocab.PROJECT, vocab.RDFS.subClassOf, vocab.FOAF.Project),
        (vocab.SOURCE_GRAPH, vocab.RDFS.subClassOf, vocab.PROV.Entity),
        (vocab.SOURCE_GRAPH, vocab.RDFS.subClassOf, vocab.VOID.Dataset),
        (vocab.SOURCE_GRAPH, vocab.RDFS.subClassOf, vocab.DCAT.Dataset),
        (vocab.FUNCTION_CONCEPT, vocab.RDFS.subClassOf, vocab.SKOS.Concept),
        (vocab.START_DATE, vocab.RDFS.subPropertyOf, vocab.SCHEMA.startDate),
        (vocab.END_DATE, vocab.RDFS.subPropertyOf, vocab.SCHEMA.endDate),
        (vocab.GSS_CODE, vocab.RDFS.subPropertyOf, vocab.DCT.identifier),
    ],
    ids=lambda x: x.value.rsplit("/", 1)[-1],
)
def test_named_alignments(
    onto: Graph, term: NamedNode, predicate: NamedNode, target: NamedNode
) -> None:
    assert (ref(term), ref(predicate), ref(target)) in onto


def test_project_is_not_a_doap_software_project(onto: Graph) -> None:
    assert (ref(vocab.PROJECT), ref(vocab.RDFS.subClassOf), ref(vocab.DOAP.Project)) not in onto
