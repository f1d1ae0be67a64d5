"""Coverage policy parsers: the Medicare Coverage Database article export and commercial payer rule files."""
