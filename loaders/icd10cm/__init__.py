"""ICD-10-CM (NCHS/CMS) parsers: tabular XML, note references and the flat code lists."""
