"""From the chunk store's change feed to index work: what a change means, and what it asks of
the index. Pure logic: the stream records come in as plain dicts, the reads are callbacks.

The feed (ChunksTable's stream) has two kinds of records:

- a chunk item (`{generation}#{position}#{chunk_id}`) written, edited or deleted. Only the
  visible generation matters: a parse writes its generation invisibly, thousands of items marked
  `staged`, and publishes it afterwards; older generations are deleted after a publish. The
  router drops a staged item's creation (the publish covers it, even when the stream is routed
  after the publish) and records of any other generation than the head's, so a parse costs one
  message, not one per chunk.
- the document's head (`#head`) written (a generation published) or removed (the document's
  chunks retired: the document deleted, reset or started again). A head rewritten with the same
  generation only changed `available` (the document enabled or disabled): retrieval filters by
  the document's state when it answers, so that needs no index work.

The index applies a change by reading what the store holds *now* (the head, the chunk), never
what the message says the value was: duplicate, late and reordered messages then converge on
the store's state, and one message per change is enough, whatever came before it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

HEAD = "#head"
FORMAT = 1

# "dataset": the dataset's embedding model changed (sent by the dataset update routes, not the
# stream): the index is rebuilt if the embedder that built it is not the model's any more.
Scope = Literal["document", "chunk", "dataset"]


@dataclass(frozen=True)
class Change:
    """One change of the feed, as the index queue carries it (compact: keys, not content)."""

    event_id: str  # the stream record's eventID: the queue's deduplication id
    tenant_id: str
    dataset_id: str
    document_id: str
    scope: Scope  # "document": the head changed; "chunk": one chunk of the visible generation; "dataset"
    generation: str = ""
    chunk_key: str = ""
    chunk_id: str = ""
    only_available: bool = False  # a chunk edit that changed nothing but `available`
    at_ms: int = 0  # when the store made the change (the stream's ApproximateCreationDateTime)

    def to_message(self) -> str:
        body = {"v": FORMAT, "e": self.event_id, "t": self.tenant_id, "ds": self.dataset_id, "d": self.document_id}
        body["s"] = self.scope
        if self.at_ms:
            body["at"] = self.at_ms
        if self.generation:
            body["g"] = self.generation
        if self.scope == "chunk":
            body.update(k=self.chunk_key, c=self.chunk_id)
            if self.only_available:
                body["a"] = True
        return json.dumps(body, separators=(",", ":"))

    @classmethod
    def from_message(cls, text: str) -> Change | None:
        """None for anything that is not a change this code wrote (dropped, never retried)."""
        try:
            body = json.loads(text)
        except ValueError:
            return None
        if (
            not isinstance(body, dict)
            or body.get("v") != FORMAT
            or body.get("s") not in ("document", "chunk", "dataset")
        ):
            return None
        names = ("e", "t", "ds") + {"chunk": ("d", "k", "c", "g"), "document": ("d",), "dataset": ()}[body["s"]]
        if not all(isinstance(body.get(name), str) and body[name] for name in names):
            return None
        return cls(
            event_id=body["e"],
            tenant_id=body["t"],
            dataset_id=body["ds"],
            document_id=str(body.get("d") or ""),
            scope=body["s"],
            generation=str(body.get("g") or ""),
            chunk_key=str(body.get("k") or ""),
            chunk_id=str(body.get("c") or ""),
            only_available=body.get("a") is True,
            at_ms=int(body["at"]) if isinstance(body.get("at"), int) else 0,
        )


# ---------------------------------------------------------------- routing (stream -> queue)
def _plain(image: Mapping[str, Any] | None) -> dict[str, Any]:
    """A stream image's attributes with DynamoDB's type tags dropped (only what is compared)."""
    out: dict[str, Any] = {}
    for name, typed in (image or {}).items():
        if isinstance(typed, Mapping) and len(typed) == 1:
            out[name] = next(iter(typed.values()))
    return out


# What an edit can change that the index holds (content, or where a long one is kept in S3).
_INDEXED_FIELDS = ("content", "content_key", "important_keywords", "questions", "positions")


def change_of(record: Mapping[str, Any], visible_generation: Callable[[str], str | None]) -> Change | None:
    """The change a stream record means for the index, or None when it means nothing for it.

    `visible_generation(document_id)` reads the document's head now (None: no head)."""
    data = record.get("dynamodb") or {}
    keys = _plain(data.get("Keys"))
    document_id, chunk_key = str(keys.get("document_id", "")), str(keys.get("chunk_key", ""))
    new, old = _plain(data.get("NewImage")), _plain(data.get("OldImage"))
    image = new or old
    tenant_id, dataset_id = str(image.get("tenant_id", "")), str(image.get("dataset_id", ""))
    event_id = str(record.get("eventID", ""))
    if not (document_id and chunk_key and tenant_id and dataset_id and event_id):
        return None
    created = data.get("ApproximateCreationDateTime")
    at_ms = int(float(created) * 1000) if isinstance(created, int | float) else 0
    if chunk_key == HEAD:
        if new and old and new.get("generation") == old.get("generation"):
            return None  # the document enabled or disabled: filtered when retrieval answers
        return Change(
            event_id, tenant_id, dataset_id, document_id, "document", str(new.get("generation", "")), at_ms=at_ms
        )
    if new and not old and new.get("staged") is True:
        # A parse run's own write, made before its publish: the head's change re-syncs the whole
        # generation, even when this record is routed after the publish (one message per parse).
        return None
    generation = str(image.get("generation", ""))
    if generation != visible_generation(document_id):
        return None  # an unpublished parse's writes, or a retired generation's deletion
    only_available = bool(new and old) and all(new.get(name) == old.get(name) for name in _INDEXED_FIELDS)
    return Change(
        event_id,
        tenant_id,
        dataset_id,
        document_id,
        "chunk",
        generation,
        chunk_key=chunk_key,
        chunk_id=str(image.get("chunk_id", "")),
        only_available=only_available,
        at_ms=at_ms,
    )


# ---------------------------------------------------------------- indexing (queue -> index)
@dataclass
class DatasetWork:
    """What one batch asks of one dataset's index: documents to bring in line with their head,
    and single chunks of documents that are otherwise unchanged."""

    tenant_id: str
    dataset_id: str
    documents: dict[str, str] = field(default_factory=dict)  # document id -> generation the change named
    chunks: dict[str, dict[str, Change]] = field(default_factory=dict)  # document id -> chunk key -> change
    event_ids: list[str] = field(default_factory=list)
    model_changed: bool = False  # rebuild the index first if another embedder built it


def plan(changes: Iterable[Change]) -> dict[str, DatasetWork]:
    """Group a batch's changes by dataset. Every change is applied by reading the store's current
    state, so the order inside a batch does not matter: a document that is re-synced as a whole
    needs none of its chunk changes, and many changes of one chunk are one read."""
    work: dict[str, DatasetWork] = {}
    for change in changes:
        entry = work.setdefault(change.dataset_id, DatasetWork(change.tenant_id, change.dataset_id))
        entry.event_ids.append(change.event_id)
        if change.scope == "dataset":
            entry.model_changed = True
        elif change.scope == "document":
            entry.documents[change.document_id] = change.generation
            entry.chunks.pop(change.document_id, None)
        elif change.document_id not in entry.documents:
            previous = entry.chunks.setdefault(change.document_id, {}).get(change.chunk_key)
            if previous is not None and not previous.only_available:
                change = replace(change, only_available=False)  # an earlier edit changed the content
            entry.chunks[change.document_id][change.chunk_key] = change
    return work
