"""CMS MS-DRG / IPPS tables: Table 5 weights, Tables 6I/6J CC and MCC lists, Table 6K CC exclusions."""
