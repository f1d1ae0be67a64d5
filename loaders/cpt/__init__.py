"""CPT (AMA, licensed) parser: a licensee's tab-delimited code and descriptor file."""
