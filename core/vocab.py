"""The vocabulary in code: every IRI the product writes, in one place.

`ontology/citytools.ttl` declares each `ct:` term named here with a label,
a definition, a domain and a range; `tests/test_ontology.py` fails when a
term below is missing from the ontology, so code and ontology cannot drift.
"""

from __future__ import annotations

from pyoxigraph import NamedNode


class Namespace(str):
    """An IRI prefix whose attributes and items are `NamedNode`s."""

    __slots__ = ()

    def __getattr__(self, name: str) -> NamedNode:
        if name.startswith("__"):
            raise AttributeError(name)
        return NamedNode(self + name)

    def __getitem__(self, name: str) -> NamedNode:  # type: ignore[override]
        return NamedNode(self + name)


CT = Namespace("https://w3id.org/citytools/ontology#")
DEFAULT_BASE_IRI = "https://w3id.org/citytools/id/"

RDF = Namespace("http://www.w3.org/1999/02/22-rdf-syntax-ns#")
RDFS = Namespace("http://www.w3.org/2000/01/rdf-schema#")
OWL = Namespace("http://www.w3.org/2002/07/owl#")
XSD = Namespace("http://www.w3.org/2001/XMLSchema#")
SKOS = Namespace("http://www.w3.org/2004/02/skos/core#")
DCT = Namespace("http://purl.org/dc/terms/")
DCAT = Namespace("http://www.w3.org/ns/dcat#")
PROV = Namespace("http://www.w3.org/ns/prov#")
FOAF = Namespace("http://xmlns.com/foaf/0.1/")
SCHEMA = Namespace("https://schema.org/")
ORG = Namespace("http://www.w3.org/ns/org#")
VOID = Namespace("http://rdfs.org/ns/void#")
SH = Namespace("http://www.w3.org/ns/shacl#")
SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
DOAP = Namespace("http://usefulinc.com/ns/doap#")
CPOV = Namespace("http://data.europa.eu/m8g/")
CPSV = Namespace("http://purl.org/vocab/cpsv#")
FORMATS = Namespace("http://www.w3.org/ns/formats/")  # W3C unique format IRIs

ONS_GEOGRAPHY = "http://statistics.data.gov.uk/id/statistical-geography/"
WIKIDATA_ENTITY = "http://www.wikidata.org/entity/"
ESD_SERVICE = "http://id.esd.org.uk/service/"

PREFIXES: dict[str, str] = {
    "ct": str(CT),
    "rdf": str(RDF),
    "rdfs": str(RDFS),
    "owl": str(OWL),
    "xsd": str(XSD),
    "skos": str(SKOS),
    "dct": str(DCT),
    "dcat": str(DCAT),
    "prov": str(PROV),
    "foaf": str(FOAF),
    "schema": str(SCHEMA),
    "org": str(ORG),
    "void": str(VOID),
    "sh": str(SH),
    "doap": str(DOAP),
    "cpov": str(CPOV),
    "cpsv": str(CPSV),
}

# --- classes -----------------------------------------------------------------
LOCAL_AUTHORITY = CT.LocalAuthority
REGION = CT.Region
SERVICE = CT.Service  # a public service; LGSL entries and authorities' service areas
SERVICE_AREA = CT.ServiceArea  # subclass of ct:Service: a service area as authorities name it
SYSTEM = CT.System
VENDOR = CT.Vendor
DEPLOYMENT = CT.Deployment
CONTRACT = CT.Contract
STANDARD = CT.Standard
PROJECT = CT.Project
SOURCE_GRAPH = CT.SourceGraph  # a named graph holding one loaded source (prov:Entity)
FUNCTION_CONCEPT = CT.Function  # an LGFL function (skos:Concept)

# --- properties ---------------------------------------------------------------
GSS_CODE = CT.gssCode  # LocalAuthority -> xsd:string, pattern [ENSW]\d{8}
REGION_PROP = CT.region  # LocalAuthority -> Region
AUTHORITY_TYPE = CT.authorityType  # LocalAuthority -> xsd:string ("London borough")
LGSL_ID = CT.lgslId  # Service (LGSL entry) -> xsd:integer
CLASSIFIED_AS = CT.classifiedAs  # ServiceArea -> Service (LGSL entry)
LGFL_FUNCTION = CT.lgflFunction  # Service (LGSL entry) -> skos:Concept (LGFL function)
INNER_OUTER = CT.innerOuter  # LocalAuthority (London) -> "Inner" | "Outer" (ONS definition)
MANUFACTURER = CT.manufacturer  # System -> Vendor
AUTHORITY = CT.authority  # Deployment -> LocalAuthority (exactly one)
SYSTEM_PROP = CT.system  # Deployment -> System (exactly one)
SERVICE_PROP = CT.service  # Deployment -> ServiceArea (exactly one)
FUNCTION = CT.function  # Deployment -> ct:Frontline | ct:Corporate
HOSTING = CT.hosting  # Deployment -> ct:OnPremises | ct:Cloud | ct:SaaS | ct:Hybrid
SATISFACTION = CT.satisfaction  # Deployment -> xsd:integer 1..5
IN_HOUSE_SKILL = CT.inHouseSkill  # Deployment -> ct:SkillNone|SkillBasic|SkillAdvanced|SkillExpert
CONTRACT_PROP = CT.contract  # Deployment -> Contract
SUPPLIER = CT.supplier  # Contract -> Vendor (exactly one)
BUYER = CT.buyer  # Contract -> LocalAuthority
START_DATE = CT.startDate  # Contract | Project -> xsd:date
END_DATE = CT.endDate  # Contract | Project -> xsd:date
ANNUAL_VALUE = CT.annualValue  # Contract -> xsd:decimal, GBP per year, >= 0
TOTAL_VALUE = CT.totalValue  # Contract (OCDS) -> xsd:decimal, GBP over the contract, >= 0
OCID = CT.ocid  # Contract (OCDS) -> xsd:string
LEAD_AUTHORITY = CT.leadAuthority  # Project -> LocalAuthority (exactly one)
PARTNER = CT.partner  # Project -> LocalAuthority
STATUS = CT.status  # Project -> ct:StatusIdea | ct:StatusActive | ct:StatusDone
USES_SYSTEM = CT.usesSystem  # Project -> System
ORIGINAL_NAME = CT.originalName  # Vendor/System/ServiceArea -> name as written in a source
ILLUSTRATIVE = CT.illustrative  # SourceGraph -> xsd:boolean
CHECKSUM = CT.checksum  # SourceGraph -> "sha256:..." of the source bytes
INPUT_KIND = CT.inputKind  # SourceGraph -> xsd:string (inventory-csv, projects-csv, ...)
# what each write did, in the provenance graph (a prov:Activity per write)
GRAPH_CHANGE = CT.GraphChange  # one graph's part in a write
GRAPH_CHANGE_PROP = CT.graphChange  # prov:Activity -> GraphChange
CHANGED_GRAPH = CT.changedGraph  # GraphChange -> the graph (prov:Entity)
TRIPLES_ADDED = CT.triplesAdded  # GraphChange -> xsd:integer
TRIPLES_REMOVED = CT.triplesRemoved  # GraphChange -> xsd:integer
DEPLOYMENTS_ADDED = CT.deploymentsAdded  # GraphChange -> xsd:integer
DEPLOYMENTS_REMOVED = CT.deploymentsRemoved  # GraphChange -> xsd:integer
CONTRACT_ENDS_MOVED = CT.contractEndsMoved  # GraphChange -> xsd:integer

# --- controlled values (skos:Concept, each in a ct: concept scheme) -----------
FUNCTIONS = {"frontline": CT.Frontline, "corporate": CT.Corporate}
HOSTINGS = {
    "on-premises": CT.OnPremises,
    "cloud": CT.Cloud,
    "saas": CT.SaaS,
    "hybrid": CT.Hybrid,
}
SKILLS = {
    "none": CT.SkillNone,
    "basic": CT.SkillBasic,
    "advanced": CT.SkillAdvanced,
    "expert": CT.SkillExpert,
}
STATUSES = {"idea": CT.StatusIdea, "active": CT.StatusActive, "done": CT.StatusDone}
