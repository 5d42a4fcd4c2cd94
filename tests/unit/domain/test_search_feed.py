"""What a chunk store change means for the index (kb_ingest.domain.search_feed)."""

from kb_ingest.domain.search_feed import HEAD, Change, change_of, plan


def _image(**values):
    return {name: {"BOOL" if isinstance(v, bool) else "S": v} for name, v in values.items()}


def _record(event_id, chunk_key, new=None, old=None, document="doc", name="MODIFY"):
    data = {"Keys": _image(document_id=document, chunk_key=chunk_key), "SequenceNumber": "1"}
    if new is not None:
        data["NewImage"] = _image(document_id=document, chunk_key=chunk_key, **new)
    if old is not None:
        data["OldImage"] = _image(document_id=document, chunk_key=chunk_key, **old)
    data["ApproximateCreationDateTime"] = 1_700_000_000.5
    return {"eventID": event_id, "eventName": name, "dynamodb": data}


OWNER = {"tenant_id": "t", "dataset_id": "ds"}


def _chunk(generation="g1", **extra):
    return {"generation": generation, "chunk_id": "c1", "content": "text", **OWNER, **extra}


def test_a_published_head_is_a_document_change():
    change = change_of(_record("e1", HEAD, new={"generation": "g2", **OWNER}, old={"generation": "g1", **OWNER}),
                       lambda _: "g2")  # fmt: skip
    assert change == Change("e1", "t", "ds", "doc", "document", "g2", at_ms=1_700_000_000_500)


def test_a_removed_head_is_a_document_change_without_generation():
    change = change_of(_record("e1", HEAD, old={"generation": "g1", **OWNER}, name="REMOVE"), lambda _: None)
    assert change is not None and (change.scope, change.generation) == ("document", "")


def test_a_document_enabled_or_disabled_needs_no_index_work():
    record = _record(
        "e1", HEAD, new={"generation": "g1", "available": False, **OWNER}, old={"generation": "g1", **OWNER}
    )
    assert change_of(record, lambda _: "g1") is None


def test_writes_of_an_unpublished_or_retired_generation_are_dropped():
    assert change_of(_record("e1", "g2#0#c1", new=_chunk("g2"), name="INSERT"), lambda _: "g1") is None
    assert change_of(_record("e1", "g0#0#c1", old=_chunk("g0"), name="REMOVE"), lambda _: "g1") is None
    assert change_of(_record("e1", "g1#0#c1", new=_chunk("g1"), name="INSERT"), lambda _: None) is None


def test_an_edit_of_the_visible_generation_is_a_chunk_change():
    record = _record("e1", "g1#0#c1", new=_chunk(content="new"), old=_chunk(content="old"))
    change = change_of(record, lambda _: "g1")
    assert change is not None
    assert (change.scope, change.chunk_key, change.chunk_id, change.only_available) == ("chunk", "g1#0#c1", "c1", False)


def test_an_edit_of_availability_alone_says_so():
    record = _record("e1", "g1#0#c1", new=_chunk(available=False, update_time="2"), old=_chunk(update_time="1"))
    change = change_of(record, lambda _: "g1")
    assert change is not None and change.only_available


def test_messages_round_trip_and_foreign_ones_are_refused():
    change = Change("e1", "t", "ds", "doc", "chunk", "g1", "g1#0#c1", "c1", True, 5)
    assert Change.from_message(change.to_message()) == change
    for body in ("", "{", "[]", '{"v": 1, "s": "chunk", "e": "e1"}', '{"v": 2}', '{"Records": []}'):
        assert Change.from_message(body) is None


def test_a_batch_is_planned_per_dataset_and_a_document_resync_covers_its_chunks():
    edits = [Change(f"e{n}", "t", "ds", "doc", "chunk", "g1", f"g1#{n}#c{n}", f"c{n}") for n in range(3)]
    other = Change("x1", "t", "other", "d2", "chunk", "g9", "g9#0#c", "c", True)
    head = Change("h1", "t", "ds", "doc", "document", "g2")
    work = plan([*edits, other, head, edits[0]])
    assert set(work) == {"ds", "other"}
    assert work["ds"].documents == {"doc": "g2"} and work["ds"].chunks == {}
    assert work["ds"].event_ids == ["e0", "e1", "e2", "h1", "e0"]
    assert work["other"].chunks == {"d2": {"g9#0#c": other}}


def test_a_content_edit_then_an_availability_edit_of_one_chunk_reembeds_it():
    content = Change("e1", "t", "ds", "doc", "chunk", "g1", "k", "c")
    availability = Change("e2", "t", "ds", "doc", "chunk", "g1", "k", "c", only_available=True)
    assert not plan([content, availability])["ds"].chunks["doc"]["k"].only_available
    assert plan([availability])["ds"].chunks["doc"]["k"].only_available


def test_a_parse_runs_own_writes_are_covered_by_its_publish_even_when_routed_after_it():
    # The stream is routed after the head already names g1: the run's staged inserts would
    # otherwise each become a message, one per chunk, on top of the head's one.
    staged = _record("e1", "g1#0#c1", new=_chunk(staged=True), name="INSERT")
    assert change_of(staged, lambda _: "g1") is None
    # A chunk added to the visible generation through the API is not staged: it is a change.
    added = change_of(_record("e2", "g1#1#c2", new=_chunk(), name="INSERT"), lambda _: "g1")
    assert added is not None and added.scope == "chunk"
    # Editing or deleting a chunk the run wrote (still marked) is a change of its own.
    edited = _record("e3", "g1#0#c1", new=_chunk(staged=True, content="new"), old=_chunk(staged=True))
    assert change_of(edited, lambda _: "g1") is not None
    removed = _record("e4", "g1#0#c1", old=_chunk(staged=True), name="REMOVE")
    assert change_of(removed, lambda _: "g1") is not None


def test_a_model_change_is_a_dataset_change_that_plans_a_rebuild_check():
    change = Change("model-ds-1", "t1", "ds", "", "dataset")
    assert Change.from_message(change.to_message()) == change
    assert Change.from_message('{"v": 1, "e": "x", "t": "t1", "s": "dataset"}') is None  # no dataset
    document = Change("e2", "t1", "ds", "doc", "document", "g1")
    [work] = plan([change, document]).values()
    assert work.model_changed and work.documents == {"doc": "g1"} and work.event_ids == ["model-ds-1", "e2"]
    assert not next(iter(plan([document]).values())).model_changed
