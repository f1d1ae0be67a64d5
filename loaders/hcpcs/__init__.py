"""HCPCS Level II (CMS) parser: the alpha-numeric fixed-width release file."""
