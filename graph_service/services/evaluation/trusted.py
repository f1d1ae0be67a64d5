"""Response models built from the service's own values, without running their validators again.

An evaluation builds ~40 response models per claim (findings, rule references, verdicts); the request was
validated on the way in and every other value comes from the release tables and the engines in the declared type.
pydantic's ``model_construct`` is no cheaper than validation for these models (it resolves each field's default
and aliases), so ``trusted`` sets exactly what it would set when every field is given. Any other case — a field
missing or unknown, a model with extra fields, private attributes or a post-init hook — goes through
``model_construct`` itself. ``tests/graph_service/evaluation/test_trusted_models.py`` checks both agree."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)
_set = object.__setattr__
_plain: dict[type[BaseModel], frozenset[str] | None] = {}  # model → its field names, or None if not plain


def _fields_if_plain(cls: type[BaseModel]) -> frozenset[str] | None:
    if cls not in _plain:
        plain = (cls.model_config.get("extra") != "allow" and not cls.__pydantic_root_model__
                 and not cls.__pydantic_post_init__ and not cls.__private_attributes__)
        _plain[cls] = frozenset(cls.model_fields) if plain else None
    return _plain[cls]


def trusted(cls: type[M], **values: Any) -> M:
    """``cls.model_construct(**values)``: ``values`` are taken as they are (each in its field's type)."""
    fields = _fields_if_plain(cls)
    if fields is None or values.keys() != fields:
        return cls.model_construct(**values)
    m = cls.__new__(cls)
    _set(m, "__dict__", values)
    _set(m, "__pydantic_fields_set__", set(values))
    _set(m, "__pydantic_extra__", None)
    _set(m, "__pydantic_private__", None)
    return m
