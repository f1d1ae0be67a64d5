"""Records read from the Medicare Coverage Database article download; every one is keyed by (article_id, version)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

GroupKind = Literal["hcpc", "covered", "noncovered"]
DiagnosisKind = Literal["covered", "noncovered"]


@dataclass(frozen=True, slots=True)
class McdArticle:
    """A billing/coding article version (``article.csv``). ``display_id`` carries the prefix: ``A52840``."""

    article_id: int
    version: int
    display_id: str
    title: str
    article_type: int  # id in article_type_lookup.csv
    effective: date
    end: date | None
    status: str  # A active, R retired, F future (as the export writes it)


@dataclass(frozen=True, slots=True)
class McdProcedureCode:
    """A CPT/HCPCS code listed in an article's HCPCS group (``article_x_hcpc_code.csv``)."""

    article_id: int
    version: int
    group: int
    code: str
    description: str


@dataclass(frozen=True, slots=True)
class McdCodeGroup:
    """The paragraph heading one code group; it alone says which procedures a diagnosis list supports."""

    article_id: int
    version: int
    kind: GroupKind
    group: int
    paragraph_text: str  # HTML stripped
    asterisk_text: str  # covered groups only: what an asterisk on a code means; "" otherwise


@dataclass(frozen=True, slots=True)
class McdDiagnosisCode:
    """An ICD-10-CM code (dotted) in a covered or non-covered group of an article."""

    article_id: int
    version: int
    kind: DiagnosisKind
    group: int
    code: str
    asterisk: bool  # covered only: the group's asterisk text applies to this code
    sort_order: int | None
    description: str


@dataclass(frozen=True, slots=True)
class McdRelatedLcd:
    """An LCD the article belongs to (``article_related_documents.csv`` rows with an ``r_lcd_id``)."""

    article_id: int
    version: int
    lcd_id: int
    lcd_version: int | None


@dataclass(frozen=True, slots=True)
class McdArticleContractor:
    """Which contractor (MAC) publishes an article (``article_x_contractor.csv``)."""

    article_id: int
    version: int
    contractor_id: int
    contractor_type_id: int
    contractor_version: int


@dataclass(frozen=True, slots=True)
class McdContractor:
    """A Medicare contractor (``contractor.csv``) with the states of its jurisdiction.

    ``states`` holds abbreviations from ``contractor_jurisdiction.csv`` + ``state_lookup.csv`` when the
    export has them (active rows only); it is empty otherwise.
    """

    contractor_id: int
    contractor_type_id: int
    contractor_version: int
    name: str
    number: str
    states: tuple[str, ...]
