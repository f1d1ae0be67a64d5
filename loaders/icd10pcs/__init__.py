"""ICD-10-PCS (CMS) parsers: the flat code lists and the tables XML."""
