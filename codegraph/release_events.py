"""An in-process notice that the visible releases changed (promotion, discard, wipe).

Caches of release data in the same process (``graph_service.reference``) compare this generation on every
read, so a release promoted by this process is seen by its next request at once; other processes see it
through the reference store's catalog poll (bounded staleness, ``CODEGRAPH_RELEASE_POLL_S``).
"""

from __future__ import annotations

import itertools
import threading

_counter = itertools.count(1)
_lock = threading.Lock()
_generation = 0


def releases_changed() -> None:
    global _generation
    with _lock:
        _generation = next(_counter)


def generation() -> int:
    return _generation
