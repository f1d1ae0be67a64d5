"""The formal model of the coding graph, defined once with owlready2.

Every node label, relationship type, key, required property and index the loaders,
queries and service use is declared here; ``ontology.vocabulary`` exposes the names,
``ontology.schema`` turns the model into Neo4j constraints and indexes, and
``ontology.export`` writes it as OWL (RDF/XML) or Turtle.

Neo4j mapping, carried as annotations on the OWL entities:
- a class's ``neo4jLabel`` is its label; a node carries the labels of its class and of
  every ancestor class (an ICD10CMCode node is also a Code node);
- ``nodeKey`` is the property unique per label (a uniqueness constraint);
- ``requiredProperty`` must be present on every node (checked by ``codegraph ontology check``);
- ``lookupProperty`` gets a range index; ``fulltextProperty`` joins the full-text index;
- an object property's ``neo4jType`` is its relationship type; its domain and range are
  the allowed start and end labels; ``requiredProperty`` on it lists its required properties,
  ``lookupProperty`` on it gets a relationship range index.
"""

from __future__ import annotations

import types
from functools import lru_cache

import owlready2
from owlready2 import AnnotationProperty, DataProperty, ObjectProperty, Thing

ONTOLOGY_IRI = "https://codegraph.dev/ontology/coding#"

# Provenance every relationship carries (the node-side twin is ``load_run``).
EDGE_PROVENANCE = ("release", "load_run")


def _build() -> owlready2.Ontology:
    world = owlready2.World()
    onto = world.get_ontology(ONTOLOGY_IRI)

    with onto:

        class neo4jLabel(AnnotationProperty):
            pass

        class neo4jType(AnnotationProperty):
            pass

        class nodeKey(AnnotationProperty):
            pass

        class requiredProperty(AnnotationProperty):
            pass

        class lookupProperty(AnnotationProperty):
            pass

        class fulltextProperty(AnnotationProperty):
            pass

        def node(
            name: str,
            parent: type = Thing,
            *,
            comment: str,
            key: str | None = None,
            required: tuple[str, ...] = (),
            lookups: tuple[str, ...] = (),
            fulltext: tuple[str, ...] = (),
        ) -> type:
            cls = types.new_class(name, (parent,))
            cls.neo4jLabel = [name]
            cls.comment = [comment]
            if key:
                cls.nodeKey = [key]
            cls.requiredProperty = list(required)
            cls.lookupProperty = list(lookups)
            cls.fulltextProperty = list(fulltext)
            return cls

        def rel(
            name: str,
            rel_type: str,
            domain: list[type],
            range_: list[type],
            *,
            comment: str,
            required: tuple[str, ...] = EDGE_PROVENANCE,
            lookups: tuple[str, ...] = (),
        ) -> type:
            prop = types.new_class(name, (ObjectProperty,))
            prop.domain = domain
            prop.range = range_
            prop.neo4jType = [rel_type]
            prop.comment = [comment]
            prop.requiredProperty = list(required)
            prop.lookupProperty = list(lookups)
            return prop

        def data(name: str, domain: list[type], range_: type, comment: str) -> type:
            prop = types.new_class(name, (DataProperty,))
            prop.domain = domain
            prop.range = [range_]
            prop.comment = [comment]
            return prop

        # ---- provenance and releases ------------------------------------------------
        LoadRun = node(
            "LoadRun", comment="One execution of a loader: source files with sha256, release, counts, status.",
            key="id", required=("id", "loader", "status", "started_at"), lookups=("status",),
        )
        CodeSystem = node(
            "CodeSystem", comment="A code system or terminology (ICD-10-CM, ICD-10-PCS, CPT, HCPCS, SNOMED CT, …).",
            key="id", required=("id", "name", "load_run"),
        )
        Release = node(
            "Release",
            comment="One release of a source (e.g. ICD-10-CM FY2026) with its effective window and visibility.",
            key="id", required=("id", "system", "version", "status", "load_run"),
            lookups=("system", "status"),
        )

        # ---- codes ---------------------------------------------------------------------
        Code = node(
            "Code",
            comment="An identifier in a code system; validity and titles per release hang off IN_RELEASE.",
            key="key", required=("key", "system", "code", "load_run"), lookups=("code", "system"),
            fulltext=("title", "search_terms"),
        )
        ICD10CMCode = node("ICD10CMCode", Code, comment="An ICD-10-CM diagnosis category, subcategory or code.")
        node("ICD10CMChapter", Code, comment="A chapter of the ICD-10-CM tabular list.")
        node("ICD10CMSection", Code, comment="A block of categories within a chapter.")
        node("ICD10PCSCode", Code, comment="An ICD-10-PCS procedure code or table stem.")
        node("CPTCode", Code, comment="A CPT (HCPCS Level I) code; descriptors only from a licensee's file.")
        node("HCPCSCode", Code, comment="An HCPCS Level II code.")
        node("Modifier", Code, comment="A CPT/HCPCS modifier (25, 59, LT, XS, …).")
        SnomedConcept = node(
            "SnomedConcept", Code, comment="A SNOMED CT concept (clinical finding, body structure, …)."
        )
        MapRule = node(
            "MapRule",
            comment="One row of the SNOMED CT → ICD-10-CM extended map: group, priority, rule, advice.",
            key="id", required=("id", "group", "priority", "rule", "load_run"),
        )

        # ---- rules: NCCI, coverage -------------------------------------------------------
        MUE = node(
            "MUE", comment="A medically unlikely edit: units limit for a code in a setting, with its MAI.",
            key="key", required=("key", "code", "setting", "value", "mai", "load_run"),
        )
        Payer = node("Payer", comment="A payer (Medicare, a commercial insurer).", key="id",
                     required=("id", "name", "load_run"))
        PayerPolicy = node(
            "PayerPolicy",
            comment="A coverage document: an MCD billing article or a commercial policy, versioned.",
            key="key", required=("key", "payer", "document_id", "version", "load_run"),
        )
        PolicyRule = node(
            "PolicyRule",
            comment="A pairing inside a policy: these procedures are covered with these diagnoses.",
            key="key", required=("key", "policy", "load_run"),
        )

        # ---- MS-DRG ----------------------------------------------------------------------
        MDC = node("MDC", comment="A major diagnostic category.", key="key",
                   required=("key", "mdc", "title", "load_run"))
        MSDRG = node(
            "MSDRG", comment="A Medicare Severity DRG in one grouper version, with weight and mean LOS.",
            key="key", required=("key", "drg", "version", "title", "load_run"), lookups=("drg",),
        )
        SeverityDesignation = node(
            "SeverityDesignation",
            comment="A CC or MCC designation of an ICD-10-CM code as a secondary diagnosis in one version.",
            key="key", required=("key", "code", "level", "version", "load_run"),
        )
        PDXExclusionCollection = node(
            "PDXExclusionCollection",
            comment="A Table 6K collection of principal diagnoses that turn a CC/MCC into a non-CC.",
            key="key", required=("key", "collection", "version", "load_run"),
        )

        # ---- encounters and coding ---------------------------------------------------------
        Patient = node("Patient", comment="A pseudonymous patient.", key="id", required=("id", "load_run"))
        Encounter = node("Encounter", comment="A patient encounter (inpatient stay, visit).", key="id",
                         required=("id", "load_run"), lookups=("period_start",))
        ClinicalDocument = node("ClinicalDocument", comment="A note (discharge summary, operative report, …).",
                                key="id", required=("id", "load_run"))
        DocumentSection = node("DocumentSection", comment="A titled section of a clinical document.",
                               key="id", required=("id", "title", "load_run"))
        Evidence = node(
            "Evidence", comment="A clinical statement (condition, procedure, finding) that can support a code.",
            key="id", required=("id", "kind", "load_run"),
        )
        node("Observation", Evidence, comment="A lab or vital-sign observation (LOINC).")
        Coder = node("Coder", comment="A human coder or a coding engine.", key="id",
                     required=("id", "kind", "load_run"))
        CodingAssignment = node(
            "CodingAssignment",
            comment="One version of an encounter's code set by a coder, with status and DRG outcome.",
            key="id", required=("id", "status", "created_at", "load_run"),
            # DRG-shift audits seek revisions by payment change; the evaluation's history seeks codings by DRG
            lookups=("status", "payment_delta_abs", "drg"),
        )
        AssignedCode = node("AssignedCode", comment="One code in a coding assignment with role, sequence, POA.",
                            key="id", required=("id", "role", "load_run"),
                            lookups=("code",))  # the evaluation's history seeks principal codes by category prefix

        # ---- rules as data and evaluations (issue 12) ----------------------------------------
        Guideline = node(
            "Guideline",
            comment="A section of the ICD-10-CM Official Guidelines (e.g. I.A.12.a) of one fiscal year, with a "
                    "short statement in our own words.",
            key="key", required=("key", "section", "title", "fiscal_year", "statement", "load_run"),
        )
        RuleCheck = node(
            "RuleCheck", comment="A check the assignment evaluation runs (one rule family), and what it reads.",
            key="key", required=("key", "check", "family", "load_run"),
        )
        ModifierRule = node(
            "ModifierRule",
            comment="What a CPT/HCPCS modifier does to NCCI edits: bypasses indicator 1 or not, its kind.",
            key="key", required=("key", "modifier", "kind", "load_run"),
        )
        ProcedureMap = node(
            "ProcedureMap",
            comment="One element→target of a FHIR ConceptMap: a procedure concept to a billing code, with its "
                    "dependsOn conditions (laterality, approach, device) and the modifiers they call for.",
            key="key", required=("key", "source_code", "target_code", "equivalence", "load_run"),
        )
        ValueSet = node(
            "ValueSet",
            comment="A FHIR ValueSet as loaded (url, version, the resource's compose as JSON); its members are "
                    "resolved against the code system releases in the graph when it is loaded.",
            key="key", required=("key", "url", "version", "release", "load_run"), lookups=("url",),
        )
        Evaluation = node(
            "Evaluation", comment="The evaluation of a final or amended coding assignment, as the coder saw it.",
            key="id", required=("id", "overall", "created_at", "load_run"),
        )

        # ---- relationships -------------------------------------------------------------------
        # Stored once over a range of releases: closed (``until``) by the release that dropped or changed it, by
        # run ``closed_by``; a discarded run re-opens what it closed, an archived release renames its ``until``.
        RANGED = ("until", "closed_by")
        rel("releaseOf", "RELEASE_OF", [Release], [CodeSystem], comment="A release belongs to its code system.")
        rel("producedBy", "PRODUCED_BY", [Release], [LoadRun], comment="The load run that wrote the release.")
        rel("inRelease", "IN_RELEASE", [Code, MSDRG, SeverityDesignation, PayerPolicy, MUE, Guideline, RuleCheck,
                                           ModifierRule, ProcedureMap], [Release],
            comment="The node is valid in the release; per-release title, billable flag and notes live here. A "
                    "code's membership is stored once over a range of releases (ontology/release_ranges.py).",
            lookups=RANGED)
        rel("isA", "IS_A", [Code], [Code], comment="Child → parent in the classification of a range of releases.",
            lookups=RANGED)
        for name, rtype, meaning in (
            ("excludes1", "EXCLUDES1", "never coded together with the target (pure exclusion)"),
            ("excludes2", "EXCLUDES2", "not included here; both may be coded"),
            ("codeFirst", "CODE_FIRST", "the target (etiology) must be sequenced first"),
            ("useAdditional", "USE_ADDITIONAL", "an additional code from the target should be added"),
            ("codeAlso", "CODE_ALSO", "the target may also be needed; sequencing discretionary"),
        ):
            rel(name, rtype, [Code], [Code], comment=f"ICD-10-CM note: {meaning}.", lookups=RANGED)
        rel("replacedBy", "REPLACED_BY", [Code], [Code],
            comment="Conversion: a code of an older release → its successor.")
        rel("hasMapRule", "HAS_MAP_RULE", [SnomedConcept], [MapRule], comment="A map row of the concept.")
        rel("mapsTo", "MAPS_TO", [MapRule], [ICD10CMCode], comment="The ICD-10-CM target chosen when the rule holds.")
        # Stored once over a range of NCCI releases: from ``release`` (the one that introduced it with these values)
        # until ``until`` (the one that dropped or changed it, closed by run ``closed_by``); readers ask for the edges
        # valid at the release they serve (loaders/ncci/ptp_ranges.py), so a staged or discarded release hides nothing.
        rel("bundles", "BUNDLES", [Code], [Code],
            comment="NCCI PTP edit, column 1 → column 2, per setting and date window, valid from its release "
                    "until the release that dropped or changed it.",
            lookups=("release", "until", "closed_by"))
        rel("hasMUE", "HAS_MUE", [Code], [MUE], comment="The code's MUE in a setting.")
        rel("issuedBy", "ISSUED_BY", [PayerPolicy], [Payer], comment="The payer (or contractor) of a policy.")
        rel("hasRule", "HAS_RULE", [PayerPolicy], [PolicyRule], comment="A coverage rule of the policy.")
        rel("coveredBy", "COVERED_BY", [Code], [PolicyRule], comment="A procedure the rule governs.")
        rel("coversDiagnosis", "COVERS_DIAGNOSIS", [PolicyRule], [Code],
            comment="A diagnosis (or, with descendants, a category) that supports medical necessity.")
        rel("deniesDiagnosis", "DENIES_DIAGNOSIS", [PolicyRule], [Code], comment="A diagnosis explicitly not covered.")
        rel("inMDC", "IN_MDC", [MSDRG], [MDC], comment="The MDC of a DRG.")
        rel("hasSeverity", "HAS_SEVERITY", [ICD10CMCode], [SeverityDesignation], comment="The code is a CC/MCC.")
        rel("excludedWith", "EXCLUDED_WITH", [SeverityDesignation], [PDXExclusionCollection],
            comment="The CC/MCC is excluded when the principal diagnosis is in the collection.")
        rel("inCollection", "IN_COLLECTION", [ICD10CMCode], [PDXExclusionCollection],
            comment="A principal diagnosis member of an exclusion collection.")
        rel("hasEncounter", "HAS_ENCOUNTER", [Patient], [Encounter], comment="The patient's encounter.")
        rel("insuredBy", "INSURED_BY", [Encounter], [Payer], comment="The encounter's payer (FHIR Coverage).")
        rel("hasDocument", "HAS_DOCUMENT", [Encounter], [ClinicalDocument], comment="A note of the encounter.")
        rel("hasSection", "HAS_SECTION", [ClinicalDocument], [DocumentSection], comment="A section of the note.")
        rel("hasEvidence", "HAS_EVIDENCE", [Encounter], [Evidence], comment="A clinical statement of the encounter.")
        rel("documentedIn", "DOCUMENTED_IN", [Evidence], [DocumentSection, ClinicalDocument],
            comment="Where the statement is written.")
        rel("aboutConcept", "ABOUT_CONCEPT", [Evidence], [Code], comment="The concept or code the statement names.")
        rel("hasAssignment", "HAS_ASSIGNMENT", [Encounter], [CodingAssignment], comment="A coding of the encounter.")
        rel("assignedBy", "ASSIGNED_BY", [CodingAssignment], [Coder], comment="Who coded it.")
        rel("supersedes", "SUPERSEDES", [CodingAssignment], [CodingAssignment],
            comment="The newer assignment replaces the older one (which is kept).")
        rel("hasCode", "HAS_CODE", [CodingAssignment], [AssignedCode], comment="A code line of the assignment.")
        rel("assigns", "ASSIGNS", [AssignedCode], [Code], comment="The code the line assigns.")
        supported_by = rel("supportedBy", "SUPPORTED_BY", [AssignedCode], [Evidence],
                           comment="The evidence that supports the assigned code.")
        supports = types.new_class("supports", (ObjectProperty,))
        supports.inverse_property = supported_by
        supports.comment = ["Inverse of supportedBy (not stored in Neo4j)."]
        rel("groupedTo", "GROUPED_TO", [CodingAssignment], [MSDRG], comment="The DRG the final assignment groups to.")
        rel("implements", "IMPLEMENTS", [RuleCheck], [Guideline], comment="The check applies the guideline section.")
        rel("hasProcedureMap", "HAS_PROCEDURE_MAP", [Code], [ProcedureMap],
            comment="A ConceptMap element of the procedure concept.")
        rel("procedureMapsTo", "PROCEDURE_MAPS_TO", [ProcedureMap], [Code], comment="The billing code the map targets.")
        rel("contains", "CONTAINS", [ValueSet], [Code],
            comment="A member of the value set, in the code system release named by code_release.")
        rel("evaluates", "EVALUATES", [Evaluation], [CodingAssignment], comment="The assignment evaluated.")
        rel("cites", "CITES", [Evaluation],
            [Guideline, RuleCheck, ModifierRule, MUE, MSDRG, SeverityDesignation, PDXExclusionCollection, PolicyRule,
             MapRule, ProcedureMap, Code],
            comment="A rule node a finding of the evaluation names (an NCCI PTP row: its column-2 code, with the row).")

        # ---- datatype properties (documentary; the Neo4j keys above are what is enforced) ----
        data("code", [Code], str, "The code as the system writes it (ICD-10-CM dotted).")
        data("system", [Code, Release], str, "The code system id (icd10cm, icd10pcs, cpt, hcpcs, modifier, snomed).")
        data("title", [Code, MSDRG, MDC], str, "Display title (of the newest visible release for codes).")
        data("billable", [Code], bool, "Valid for claims in the release (per IN_RELEASE).")
        data("effectiveFrom", [Release], str, "First day the release is in force (ISO date).")
        data("effectiveTo", [Release], str, "Day after the last day in force (ISO date), if known.")
        data("relativeWeight", [MSDRG], float, "CMS relative weight (10% cap applied).")
        data("expectedPayment", [CodingAssignment], float, "Relative weight × the payer's base rate.")
        data("paymentDelta", [CodingAssignment], float,
             "Expected payment minus that of the nearest earlier grouped version, stored when the revision is "
             "recorded (payment_delta; its absolute value payment_delta_abs is indexed).")

    return onto


@lru_cache(maxsize=1)
def ontology() -> owlready2.Ontology:
    """The built ontology (built once per process)."""
    return _build()
