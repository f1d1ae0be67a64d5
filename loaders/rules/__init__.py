"""The coding rules the assignment evaluation applies (guidelines, checks, modifier rules), loaded as graph data."""
