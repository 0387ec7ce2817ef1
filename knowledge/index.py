"""One search index per process, kept in step with the database.

Each search first reads the help centre's revision (one row by primary key). When another process (the console, an
import, a second action server) changed the articles, the revision moved and the index is rebuilt from the stored
passages and embeddings before searching: nothing is embedded here, and every process answers from the same
articles.
"""

from __future__ import annotations

import threading

import numpy as np

from knowledge.search import Hit, SearchIndex
from knowledge.store import KnowledgeStore


class LiveIndex:
    def __init__(self, store: KnowledgeStore) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._index: SearchIndex | None = None
        self._revision: int | None = None
        self.rebuilds = 0

    def current(self) -> SearchIndex:
        revision = self._store.revision()
        with self._lock:
            if self._index is None or revision != self._revision:
                snapshot = self._store.snapshot()
                self._index = SearchIndex(snapshot.entries, snapshot.vectors)
                self._revision = snapshot.revision
                self.rebuilds += 1
            return self._index

    @property
    def revision(self) -> int | None:
        return self._revision

    def search(self, question: str, vector: np.ndarray, limit: int = 5) -> list[Hit]:
        return self.current().search(question, vector, limit)
