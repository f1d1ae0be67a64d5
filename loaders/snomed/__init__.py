"""SNOMED CT RF2 (US Edition) parsers and the ICD-10-CM extended-map rule engine."""
