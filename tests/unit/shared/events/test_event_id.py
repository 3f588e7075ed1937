"""Event ids are random version-4 UUIDs in their canonical text form, as `str(uuid.uuid4())` gives them."""

from __future__ import annotations

import uuid

from shared.events.envelope import Event, new_event_id


def test_ids_are_canonical_version_4_uuids() -> None:
    ids = [new_event_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
    # every hex digit but the version's and the variant's two fixed bits varies
    assert {text[14] for text in ids} == {"4"}
    assert {text[19] for text in ids} == set("89ab")
    assert len({text[0] for text in ids}) == 16


def test_an_event_gets_one() -> None:
    first = Event(type="reading.created", user_id="u", region="eu")
    second = Event(type="reading.created", user_id="u", region="eu")
    assert first.id != second.id
    assert uuid.UUID(first.id).version == 4
