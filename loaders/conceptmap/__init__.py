"""FHIR R4 ConceptMap resources: clinical procedure concepts to billing codes, with map-target conditions."""
