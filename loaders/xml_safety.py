"""One way to read the official XML files (ICD-10-CM tabular, ICD-10-PCS tables): safely and with caps.

- No entity is ever resolved, local or remote, and no DTD is loaded (``resolve_entities=False``,
  ``no_network=True``, ``load_dtd=False``); a document with a DOCTYPE at all is refused, naming its line —
  the CMS files have none, so one is either a mistake or an attack.
- libxml2's own limits stay on (``huge_tree=False``: no text node over 10 MB, no pathological depth), the
  file size is capped per format before reading, and elements may nest only ``max_depth`` deep.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

from lxml import etree

from loaders.errors import ParseError
from loaders.input_checks import check_file_size

_PARSER_OPTIONS = {"resolve_entities": False, "no_network": True, "load_dtd": False, "huge_tree": False}
_PROLOG_BYTES = 1 << 16  # a DOCTYPE sits before the root element, near the top


def safe_parser(**options: bool) -> etree.XMLParser:
    """An lxml parser that resolves nothing and keeps libxml2's limits."""
    return etree.XMLParser(**_PARSER_OPTIONS, **options)


def xml_path(element: etree._Element) -> str:
    """Where an element sits, e.g. ``/ICD10CM.tabular/chapter[1]/section[2]/diag[3]/desc``."""
    return element.getroottree().getpath(element)


def _doctype_line(path: Path, head: bytes) -> int:
    at = head.find(b"<!DOCTYPE")
    return head[:at].count(b"\n") + 1 if at >= 0 else 1


def _refuse_doctype(path: Path, root: etree._Element, head: bytes) -> None:
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise ParseError(path, _doctype_line(path, head), "DOCTYPE",
                         "an XML document without a DOCTYPE or entity declarations (none is ever resolved)",
                         (docinfo.doctype or "<!DOCTYPE …>")[:80])


def _head(source: Path | bytes) -> bytes:
    if isinstance(source, bytes):
        return source[:_PROLOG_BYTES]
    with source.open("rb") as handle:
        return handle.read(_PROLOG_BYTES)


def safe_iterparse(
    path: Path,
    *,
    max_bytes: int,
    max_depth: int,
    what: str,
    data: bytes | None = None,
    remove_comments: bool = False,
) -> Iterator[tuple[str, etree._Element]]:
    """("start" | "end", element) of ``path`` (or of ``data``, its bytes already read), streaming, after the
    checks above; a syntax error, a DOCTYPE or a too-deep element raise a ParseError naming file and line."""
    if data is None:
        check_file_size(path, max_bytes, what)
    elif len(data) > max_bytes:
        raise ParseError(path, None, "file size", f"a {what} of at most {max_bytes:,} bytes", f"{len(data):,} bytes")
    head = _head(data if data is not None else path)
    source = io.BytesIO(data) if data is not None else str(path)
    events = etree.iterparse(source, events=("start", "end"), remove_comments=remove_comments, **_PARSER_OPTIONS)
    depth = 0
    try:
        for event, element in events:
            if event == "start":
                if depth == 0:
                    _refuse_doctype(path, element, head)
                depth += 1
                if depth > max_depth:
                    raise ParseError(path, element.sourceline, xml_path(element),
                                     f"elements nested at most {max_depth} deep ({what})", f"depth {depth}")
            else:
                depth -= 1
            yield event, element
    except etree.XMLSyntaxError as error:
        line = (error.position[0] if error.position else error.lineno) or None  # 0: no line (an empty file)
        if "Resource limit exceeded" in error.msg or "huge" in error.msg.lower():
            raise ParseError(path, line, "text", "text nodes under libxml2's 10,000,000-byte cap (the format's "
                             "field widths are far smaller)", error.msg) from error
        raise ParseError(path, line, "xml", "well-formed UTF-8 XML (file truncated or mis-encoded?)",
                         error.msg) from error


def parse_safely(path: Path, *, max_bytes: int, max_depth: int, what: str) -> etree._Element:
    """The whole document's root element, read with ``safe_iterparse``'s checks."""
    check_file_size(path, max_bytes, what)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ParseError(path, None, None, "a readable file", str(error)) from error
    root: etree._Element | None = None
    for _event, element in safe_iterparse(path, max_bytes=max_bytes, max_depth=max_depth, what=what, data=data):
        root = element if root is None else root
    if root is None:
        raise ParseError(path, None, "xml", "an XML document", "an empty file")
    return root
