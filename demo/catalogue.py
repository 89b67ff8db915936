"""The fictional market the illustrative data is drawn from: vendors, products, service areas.

Every vendor and product here is INVENTED (London street and river names plus
generic words); any likeness to a real firm or product is accidental. Service
areas are named as councils name them and classified by real LGSL ids.
Vendors are listed by market rank: the generator weights them Zipf-like
(1/rank), which gives the study's shape — about ten vendors hold over half
of the contracts. `bench/generate.py` turns this catalogue into inventory and
projects CSVs; `demo/inventory.csv` is one such draw.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Vendor:
    """A fictional organisation; `variants` are other spellings seen in real inventories."""

    name: str
    variants: tuple[str, ...] = ()

    @property
    def spellings(self) -> tuple[str, ...]:
        """The canonical name first, then the variants."""
        return (self.name, *self.variants)


@dataclass(frozen=True)
class ServiceArea:
    """A service area as councils name it, with what runs there and what it costs."""

    name: str
    function: str  # `frontline` or `corporate`
    lgsl: tuple[int, ...]  # LGSL ids, all present in reference/lgsl_services.csv
    products: tuple[str, ...]  # keys of PRODUCTS
    standards: tuple[str, ...]  # standards deployments in this area plausibly conform to
    weight: float  # how often an authority's inventory lists a system here
    median_cost: int  # typical annual cost in GBP


# Manufacturers, by market rank (rank 1 = largest).
VENDORS: tuple[Vendor, ...] = (
    Vendor("Aldgate Software Ltd", ("Aldgate Software", "ALDGATE SOFTWARE LIMITED")),
    Vendor("Borough Ledger Ltd", ("Borough Ledger Limited", "Borough Ledger")),
    Vendor("Thameside Data plc", ("Thameside Data PLC", "Thameside Data")),
    Vendor("Moorgate Informatics Ltd", ("Moorgate Informatics (UK) Ltd", "MOORGATE INFORMATICS")),
    Vendor("Cheapside Civic Systems Ltd", ("Cheapside Civic Systems",)),
    Vendor("Bankside Casework Ltd", ("Bankside Casework Limited",)),
    Vendor("Wapping Digital Ltd", ("Wapping Digital",)),
    Vendor("Holloway Cloud Services Ltd", ("Holloway Cloud Services",)),
    Vendor("Limehouse Analytics Ltd"),
    Vendor("Fleet Valley Systems Ltd", ("Fleet Valley Systems Limited",)),
    Vendor("Tyburn Payments Ltd"),
    Vendor("Walbrook Workforce Ltd"),
    Vendor("Effra Environmental Software Ltd"),
    Vendor("Westbourne Learning Systems Ltd"),
    Vendor("Ravensbourne Health Informatics Ltd"),
    Vendor("Kennington Mapping Ltd"),
    Vendor("Shadwell Housing Software Ltd"),
    Vendor("Greenhithe Records Ltd"),
    Vendor("Hornsey Library Systems Ltd"),
    Vendor("Quaggy Parking Systems Ltd"),
    Vendor("Wandle Ballot Systems Ltd"),
    Vendor("Ingrebourne Leisure Software Ltd"),
    Vendor("Beverley Brook Bereavement Systems Ltd"),
    Vendor("Pinn Licensing Software Ltd"),
    Vendor("Yeading Forms Ltd"),
    Vendor("Silk Stream Software Ltd"),
    Vendor("Dollis Data Services Ltd"),
    Vendor("Hogsmill Informatics Ltd"),
    Vendor("Cray Valley Systems Ltd"),
    Vendor("Darent Digital Ltd"),
    Vendor("Beam Valley Software Ltd"),
    Vendor("Rom River Systems Ltd"),
    Vendor("Mutton Brook Software Ltd"),
    Vendor("Pool River Labs Ltd"),
    Vendor("Ching Brook Technologies Ltd"),
    Vendor("Salmons Brook Systems Ltd"),
)

# Resellers: they hold contracts for other firms' products (supplier != manufacturer).
RESELLERS: tuple[Vendor, ...] = (
    Vendor("Cannon Street IT Services Ltd", ("Cannon Street IT Services",)),
    Vendor("Ludgate Technology Partners LLP"),
    Vendor("Eastcheap Solutions Ltd"),
)

# Product -> canonical manufacturer name.
PRODUCTS: dict[str, str] = {
    "RevenueDock": "Aldgate Software Ltd",
    "HomeLedger": "Aldgate Software Ltd",
    "ContactHarbour": "Aldgate Software Ltd",
    "PlotFolio": "Aldgate Software Ltd",
    "ZoneKeeper": "Rom River Systems Ltd",
    "PermitPad": "Aldgate Software Ltd",
    "FieldNotes EH": "Dollis Data Services Ltd",
    "Folderbank": "Aldgate Software Ltd",
    "SupportPlan Online": "Aldgate Software Ltd",
    "PollPoint": "Darent Digital Ltd",
    "LedgerWell": "Borough Ledger Ltd",
    "LedgerWell Revenues": "Borough Ledger Ltd",
    "PeopleLedger": "Borough Ledger Ltd",
    "SchoolLedger": "Borough Ledger Ltd",
    "CaseHarbour Adults": "Thameside Data plc",
    "CaseHarbour Children": "Thameside Data plc",
    "PlanForward SEN": "Thameside Data plc",
    "CaseHarbour Health": "Thameside Data plc",
    "ConsentWorks": "Moorgate Informatics Ltd",
    "GridStreet": "Moorgate Informatics Ltd",
    "SearchBook": "Moorgate Informatics Ltd",
    "CivicDesk": "Cheapside Civic Systems Ltd",
    "RollCall Electoral": "Cheapside Civic Systems Ltd",
    "CivicDiary": "Cheapside Civic Systems Ltd",
    "Bookfold": "Cheapside Civic Systems Ltd",
    "CollectionDay": "Cheapside Civic Systems Ltd",
    "CareLedger": "Bankside Casework Ltd",
    "KinRecord": "Bankside Casework Ltd",
    "KeyRing Housing": "Bankside Casework Ltd",
    "KeyRing Cases": "Bankside Casework Ltd",
    "AskTheBorough": "Wapping Digital Ltd",
    "ClaimStream": "Wapping Digital Ltd",
    "Kerbside Hub": "Wapping Digital Ltd",
    "CourtBook": "Wapping Digital Ltd",
    "Tallyhall": "Holloway Cloud Services Ltd",
    "Tallyhall HR": "Holloway Cloud Services Ltd",
    "RecordRoom": "Holloway Cloud Services Ltd",
    "HelpHarbour": "Holloway Cloud Services Ltd",
    "Layerline": "Limehouse Analytics Ltd",
    "StreetAsset": "Limehouse Analytics Ltd",
    "PopStats Health": "Limehouse Analytics Ltd",
    "AssetArk": "Limehouse Analytics Ltd",
    "BinRoute": "Fleet Valley Systems Ltd",
    "GullyGrid": "Fleet Valley Systems Ltd",
    "KerbCharge": "Fleet Valley Systems Ltd",
    "TicketTrail": "Tyburn Payments Ltd",
    "TaxTally": "Tyburn Payments Ltd",
    "PayPort": "Walbrook Workforce Ltd",
    "InspectLog": "Effra Environmental Software Ltd",
    "LitterLog": "Effra Environmental Software Ltd",
    "GraveMap": "Effra Environmental Software Ltd",
    "PupilPath": "Westbourne Learning Systems Ltd",
    "LoanLantern": "Westbourne Learning Systems Ltd",
    "CohortCompass": "Ravensbourne Health Informatics Ltd",
    "CareKeel": "Ravensbourne Health Informatics Ltd",
    "Kinfold": "Ravensbourne Health Informatics Ltd",
    "MapMerge": "Kennington Mapping Ltd",
    "Kerbline Maps": "Kennington Mapping Ltd",
    "TenancyDock": "Shadwell Housing Software Ltd",
    "FileHarbour": "Greenhithe Records Ltd",
    "RegisterRoom": "Greenhithe Records Ltd",
    "RestRegister": "Greenhithe Records Ltd",
    "ShelfMark": "Hornsey Library Systems Ltd",
    "PermitPost": "Quaggy Parking Systems Ltd",
    "BallotBook": "Wandle Ballot Systems Ltd",
    "SwimSlot": "Ingrebourne Leisure Software Ltd",
    "LaneLedger": "Ingrebourne Leisure Software Ltd",
    "PlotKeeper": "Beverley Brook Bereavement Systems Ltd",
    "LicenceLoom": "Pinn Licensing Software Ltd",
    "FormFoundry": "Yeading Forms Ltd",
    "FootingFile": "Silk Stream Software Ltd",
    "TraderTrack": "Dollis Data Services Ltd",
    "QuitCounter": "Hogsmill Informatics Ltd",
    "Classfold": "Cray Valley Systems Ltd",
    "CeremonyBook": "Darent Digital Ltd",
    "RoundRunner": "Beam Valley Software Ltd",
    "RoadRegister": "Rom River Systems Ltd",
    "Ratepoint": "Mutton Brook Software Ltd",
    "LedgerLite": "Mutton Brook Software Ltd",
    "OpenCounter": "Pool River Labs Ltd",
    "TicketTide": "Pool River Labs Ltd",
    "RotaRiver": "Ching Brook Technologies Ltd",
    "Roofline": "Salmons Brook Systems Ltd",
}

_FRONT, _CORP = "frontline", "corporate"

# A table, one area per block (the formatter would give every field its own line).
# fmt: off
SERVICE_AREAS: tuple[ServiceArea, ...] = (
    ServiceArea(
        "Revenues and Benefits", _FRONT, (69, 70, 68, 54, 56, 1148, 726),
        ("RevenueDock", "LedgerWell Revenues", "ClaimStream", "Ratepoint"),
        ("OpenAPI", "CSV on the Web", "GOV.UK Notify API", "UPRN", "OData"), 1.6, 180_000,
    ),
    ServiceArea(
        "Council Tax", _FRONT, (57, 58, 59, 60, 61),
        ("RevenueDock", "LedgerWell Revenues", "TaxTally", "Ratepoint"),
        ("UPRN", "BS 7666", "GOV.UK Notify API", "OpenAPI"), 1.0, 90_000,
    ),
    ServiceArea(
        "Adult Social Care", _FRONT, (209, 242, 287, 292, 731, 313),
        ("CaseHarbour Adults", "CareLedger", "CareKeel", "SupportPlan Online"),
        ("HL7 FHIR", "OpenAPI", "SAML 2.0", "Open Referral UK", "GOV.UK Notify API"), 1.6, 220_000,
    ),
    ServiceArea(
        "Children's Social Care", _FRONT, (266, 159, 160, 840, 918),
        ("CaseHarbour Children", "KinRecord", "Kinfold"),
        ("HL7 FHIR", "OpenAPI", "SAML 2.0"), 1.5, 200_000,
    ),
    ServiceArea(
        "Housing Management", _FRONT, (89, 120, 116, 141, 112, 109),
        ("HomeLedger", "TenancyDock", "KeyRing Housing", "Roofline"),
        ("UPRN", "BS 7666", "OpenAPI", "GOV.UK Notify API"), 1.4, 150_000,
    ),
    ServiceArea(
        "Planning", _FRONT, (487, 485, 855, 1158, 672),
        ("ConsentWorks", "PlotFolio", "SearchBook"),
        ("UPRN", "BS 7666", "GeoJSON", "OpenAPI"), 1.2, 70_000,
    ),
    ServiceArea(
        "Building Control", _FRONT, (499, 1157),
        ("ConsentWorks", "FootingFile", "PlotFolio"),
        ("UPRN", "BS 7666", "GeoJSON"), 0.8, 25_000,
    ),
    ServiceArea(
        "Waste and Recycling", _FRONT, (524, 526, 528, 530, 1130, 587, 517),
        ("BinRoute", "Kerbside Hub", "RoundRunner", "LitterLog", "CollectionDay"),
        ("UPRN", "GeoJSON", "iCalendar", "GOV.UK Notify API", "OpenAPI"), 1.2, 60_000,
    ),
    ServiceArea(
        "Parking", _FRONT, (471, 474, 473, 279),
        ("PermitPost", "TicketTrail", "KerbCharge", "ZoneKeeper"),
        ("OpenAPI", "GeoJSON", "GOV.UK Notify API"), 1.1, 80_000,
    ),
    ServiceArea(
        "Libraries", _FRONT, (437, 438, 439, 440, 441, 443),
        ("ShelfMark", "Bookfold", "LoanLantern"),
        ("OpenID Connect", "OpenAPI", "iCalendar"), 0.9, 45_000,
    ),
    ServiceArea(
        "Electoral Registration", _FRONT, (364, 365, 999),
        ("BallotBook", "RollCall Electoral", "PollPoint"),
        ("UPRN", "BS 7666", "CSV on the Web"), 0.8, 30_000,
    ),
    ServiceArea(
        "Licensing", _FRONT, (860, 632, 635, 400, 1134, 910),
        ("LicenceLoom", "ConsentWorks", "PermitPad"),
        ("UPRN", "OpenAPI", "GOV.UK Notify API"), 0.8, 25_000,
    ),
    ServiceArea(
        "Environmental Health", _FRONT, (406, 407, 412, 413, 431, 390),
        ("InspectLog", "ConsentWorks", "FieldNotes EH"),
        ("UPRN", "OpenAPI", "CSV on the Web"), 0.9, 30_000,
    ),
    ServiceArea(
        "Highways", _FRONT, (557, 564, 555, 569, 570, 477),
        ("RoadRegister", "StreetAsset", "GullyGrid", "Kerbline Maps"),
        ("GeoJSON", "UPRN", "BS 7666", "OpenAPI"), 0.9, 50_000,
    ),
    ServiceArea(
        "Education / SEN", _FRONT, (8, 9, 40, 13, 14, 15, 705),
        ("PupilPath", "PlanForward SEN", "SchoolLedger", "Classfold"),
        ("OpenAPI", "SAML 2.0", "CSV on the Web"), 1.1, 90_000,
    ),
    ServiceArea(
        "Customer Contact / CRM", _CORP, (353, 653, 867, 722),
        ("CivicDesk", "AskTheBorough", "ContactHarbour", "FormFoundry", "OpenCounter"),
        ("OpenAPI", "OpenID Connect", "SAML 2.0", "GOV.UK Notify API", "UPRN"), 1.3, 100_000,
    ),
    ServiceArea(
        "Finance / ERP", _CORP, (967, 968, 971, 1629, 829),
        ("LedgerWell", "Tallyhall", "LedgerLite"),
        ("OData", "OpenAPI", "SAML 2.0", "CSV on the Web"), 1.3, 250_000,
    ),
    ServiceArea(
        "HR and Payroll", _CORP, (979, 1645, 1143, 973, 1529),
        ("PayPort", "PeopleLedger", "Tallyhall HR", "RotaRiver"),
        ("OData", "SAML 2.0", "OpenID Connect", "OpenAPI"), 1.2, 150_000,
    ),
    ServiceArea(
        "Document Management", _CORP, (1305, 990, 996),
        ("FileHarbour", "RecordRoom", "Folderbank"),
        ("OData", "SAML 2.0", "OpenAPI"), 1.0, 70_000,
    ),
    ServiceArea(
        "GIS", _CORP, (1421, 592, 986, 1577),
        ("MapMerge", "Layerline", "GridStreet"),
        ("GeoJSON", "UPRN", "BS 7666", "OpenAPI", "CSV on the Web"), 0.9, 35_000,
    ),
    ServiceArea(
        "Public Health", _FRONT, (1745, 1395, 1746, 1747, 730),
        ("CohortCompass", "QuitCounter", "PopStats Health", "CaseHarbour Health"),
        ("HL7 FHIR", "Open Referral UK", "CSV on the Web", "OpenAPI"), 0.7, 30_000,
    ),
    ServiceArea(
        "Registrars", _FRONT, (319, 321, 876, 1716, 852),
        ("CeremonyBook", "RegisterRoom", "CivicDiary"),
        ("iCalendar", "OpenAPI", "GOV.UK Notify API"), 0.7, 20_000,
    ),
    ServiceArea(
        "Trading Standards", _FRONT, (401, 403, 1430, 789),
        ("TraderTrack", "InspectLog", "KeyRing Cases"),
        ("OpenAPI", "CSV on the Web"), 0.6, 15_000,
    ),
    ServiceArea(
        "Leisure", _FRONT, (451, 1674, 456, 644),
        ("SwimSlot", "CourtBook", "LaneLedger"),
        ("iCalendar", "OpenID Connect", "Open Referral UK", "OpenAPI"), 0.6, 30_000,
    ),
    ServiceArea(
        "Cemeteries and Crematoria", _FRONT, (1538, 333, 330),
        ("PlotKeeper", "RestRegister", "GraveMap"),
        ("GeoJSON", "UPRN", "iCalendar"), 0.5, 12_000,
    ),
    ServiceArea(
        "ICT Service Desk", _CORP, (988, 992, 1634),
        ("HelpHarbour", "TicketTide", "AssetArk"),
        ("OpenAPI", "SAML 2.0", "OpenID Connect"), 0.8, 60_000,
    ),
)
# fmt: on

# Standards no curated list knows: about 1% of rows name one, to exercise the warning path.
UNKNOWN_STANDARDS: tuple[str, ...] = (
    "LedgerWell Export Format 2",
    "BinRoute XML",
    "Borough Case Interchange 1.0",
)

# Data formats a project can publish in (the other standards are APIs, sign-in or identifiers).
DATA_FORMATS = frozenset(
    {"CSV on the Web", "GeoJSON", "iCalendar", "Open Referral UK", "OData", "HL7 FHIR"}
)

# Synthetic collaboration projects: (title, description); {product}, {area}, {format}, {lead}.
PROJECT_TEMPLATES: tuple[tuple[str, str], ...] = (
    (
        "Shared {product} upgrade",
        "{lead} and partners upgrade {product} together for {area}: one configuration, "
        "shared test scripts and a single conversation with the supplier.",
    ),
    (
        "{area} {format} pilot",
        "Piloting {format} for {area} data exchange between {product} and neighbouring "
        "systems, so each partner reuses the same integration instead of buying its own.",
    ),
    (
        "Joint {area} procurement",
        "Aligning contract end dates so the partners can buy {area} software together "
        "through one call-off, starting from their current {product} contracts.",
    ),
    (
        "{product} user group",
        "A London user group for {product}: shared roadmap requests to the supplier, "
        "joint training and a common backlog of fixes.",
    ),
    (
        "{area} open data feed",
        "Publishing {area} data from {product} as {format} so residents, researchers "
        "and smaller suppliers can reuse it.",
    ),
)
