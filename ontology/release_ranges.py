"""Relationships stored once over a range of releases, and the Cypher that reads "valid in release X".

A release of a code system differs from the one before in a few hundred of its ~100k codes, so a code's
membership (``IN_RELEASE``), its ``IS_A`` and the code-to-code edges its release writes (ICD-10-CM's notes) are
not one per release: each holds one set of values from the release that introduced it (``release``; the
membership points at that release's node) until the release that dropped or changed it (``until``; absent
while current). NCCI PTP edits (``BUNDLES``) are stored the same way.

The releases a range runs over form a chain, each chain release holding its **scope**: the ids of the chain up to
and including itself. A relationship is valid in a release when it started inside the scope and did not end
inside it::

    e.release IN scope AND (e.until IS NULL OR NOT e.until IN scope)

A release written in full (before this layout, a back-fill, a release of another coverage) has no scope: it is
its own (``[id]``), and its relationships name it in ``release`` and have no ``until``, so the same predicate
reads both layouts. A release being staged is in no other release's scope, so what it closes changes nothing
for the readers of the releases before it.
"""

from __future__ import annotations

from ontology.vocabulary import L, R

# ICD-10-CM's instructional notes, written by its loader as code-to-code edges and read by the service.
NOTE_TYPES = (R.EXCLUDES1, R.EXCLUDES2, R.CODE_FIRST, R.USE_ADDITIONAL, R.CODE_ALSO)
# What a code release stores as ranges besides its memberships: its hierarchy and its notes.
RANGED_CODE_EDGES = (R.IS_A, *NOTE_TYPES)


CODE_PREFIX = "code"  # a code-system Release's ranged properties: code_layout, code_scope


def release_scope(rel: str, prefix: str) -> str:
    """The scope of the Release bound to ``rel`` for the ranged content whose Release properties start with
    ``prefix`` (``code``, ``ptp``: loaders/machinery/release_chain.py); a release written in full: its own id."""
    return f"coalesce({rel}.{prefix}_scope, [{rel}.id])"


def code_scope(rel: str) -> str:
    """The scope of the code-system Release bound to ``rel`` (a release written in full: its own id)."""
    return release_scope(rel, CODE_PREFIX)


def valid_in(edge: str, scope: str) -> str:
    """Predicate: the relationship ``edge`` is valid in the release whose scope (a list of release ids) is
    ``scope``."""
    return f"({edge}.release IN {scope} AND ({edge}.until IS NULL OR NOT {edge}.until IN {scope}))"


def with_scope(release: str = "$release", scope: str = "scope") -> str:
    """``MATCH`` the release by id and bind its scope."""
    return (f"MATCH ({scope}_rel:{L.Release} {{id: {release}}})\n"
            f"WITH {code_scope(scope + '_rel')} AS {scope}")


def membership(code: str, m: str, scope: str) -> str:
    """Pattern + WHERE: ``code``'s membership ``m`` valid in ``scope`` (anchored on the code: a few edges)."""
    return f"({code})-[{m}:{R.IN_RELEASE}]->(:{L.Release}) WHERE {valid_in(m, scope)}"


def in_release(code: str, rel: str, *, m: str = "held") -> str:
    """Predicate: ``code`` has a membership valid in the Release bound to ``rel``. "The releases holding a code" are
    found this way (enumerate the releases, test each): a membership names only the release that started it."""
    return f"EXISTS {{ ({code})-[{m}:{R.IN_RELEASE}]->(:{L.Release}) WHERE {valid_in(m, code_scope(rel))} }}"


def members(scope: str, code: str, m: str, *, label: str = L.Code) -> str:
    """``UNWIND`` + ``MATCH``: every code valid in ``scope`` with its membership ``m`` (anchored on the scope's
    release nodes: each code's range points at the release that started it)."""
    rid = f"{m}_rid"
    return (f"UNWIND {scope} AS {rid}\n"
            f"MATCH (:{L.Release} {{id: {rid}}})<-[{m}:{R.IN_RELEASE}]-({code}:{label})\n"
            f"WHERE ({m}.until IS NULL OR NOT {m}.until IN {scope})")


def is_a_path(start: str, end: str, scope: str, hops: str = "1,12", *, down: bool = False, e: str = "e") -> str:
    """A quantified path along ``IS_A`` edges valid in ``scope``, ``start`` up to its ancestor ``end`` (``down``:
    to its descendant). ``hops`` is the quantifier's ``min,max``; bounded wherever auditors' Cypher could copy it
    (their guard refuses unbounded patterns)."""
    step = (f"()<-[{e}:{R.IS_A} WHERE {valid_in(e, scope)}]-()" if down
            else f"()-[{e}:{R.IS_A} WHERE {valid_in(e, scope)}]->()")
    return f"({start}) ({step}){{{hops}}} ({end})"


def valid_in_not_in(a: str, b: str, code: str, m: str, *, label: str = L.Code) -> str:
    """A ``CALL`` binding each code valid in scope ``a`` but not in scope ``b`` with its membership ``m`` (valid
    in ``a``): the ranges that start in ``a`` outside ``b``, and those of ``a`` closed by a release of ``b``
    outside ``a`` (a seek of the ``until`` index). For two releases of one chain that is only what one changed
    against the other; two releases written in full are walked whole, as before."""
    return f"""CALL ({a}, {b}) {{
  UNWIND [x IN {a} WHERE NOT x IN {b}] AS {m}_rid
  MATCH (:{L.Release} {{id: {m}_rid}})<-[{m}:{R.IN_RELEASE}]-({code}:{label})
  WHERE {m}.until IS NULL OR NOT {m}.until IN {a}
  RETURN {code}, {m}
  UNION
  UNWIND [x IN {b} WHERE NOT x IN {a}] AS {m}_until
  MATCH ({code}:{label})-[{m}:{R.IN_RELEASE}]->(:{L.Release})
  WHERE {m}.until = {m}_until AND {m}.release IN {a}
  RETURN {code}, {m}
}}"""
