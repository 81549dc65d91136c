"""Holographic recall on units from real sentences: unbind who/where, probe who+where."""

from __future__ import annotations

import itertools
import json
from importlib import resources

import numpy as np
from wordfreq import top_n_list

from lumina.enrich import enrich
from lumina.enrich.shape import canonical_filler, filler_memory, probe, unbind
from lumina.schemas import MemoryUnit, TextEvent

DIM = 1024
PEOPLE = [
    "Alice",
    "Bruno",
    "Chen",
    "Dana",
    "Emeka",
    "Farah",
    "Goran",
    "Hana",
    "Ivan",
    "Jonas",
    "Keiko",
    "Lena",
    "Mateo",
    "Nadia",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sven",
    "Tariq",
]
PLACES = [
    "Berlin",
    "Lisbon",
    "Oslo",
    "Nairobi",
    "Kyoto",
    "Lima",
    "Porto",
    "Dublin",
    "Austin",
    "Seoul",
    "Tunis",
    "Quito",
    "Riga",
    "Hanoi",
    "Perth",
    "Cork",
    "Bergen",
    "Turin",
    "Leeds",
    "Delhi",
    "Accra",
    "Bonn",
    "Graz",
    "Split",
    "Malmo",
]
TEMPLATES = [
    "{who} flew to {where} on Monday for the planning workshop.",
    "{who} is presenting the quarterly numbers in {where} tomorrow.",
    "{who} moved the staging servers to {where} because the old racks failed.",
    "Yesterday {who} met the new customers in {where}.",
]


def conversation_units() -> list[MemoryUnit]:
    text = resources.files("lumina.data").joinpath("demo_conversation.jsonl").read_text()
    return enrich([TextEvent(**json.loads(line)) for line in text.splitlines()])


def test_recall_unbinding_who_and_where_returns_the_filler() -> None:
    units = conversation_units()
    truth = [(u, role) for u in units for role in ("who", "where") if getattr(u.roles, role)]
    assert len(truth) >= 60
    vocabulary = filler_memory(
        [*top_n_list("en", 10_000), *(getattr(u.roles, r) for u, r in truth)], DIM
    )
    assert len(vocabulary) >= 10_000
    right = sum(
        unbind(np.asarray(u.shape.vector), role, vocabulary, k=1)[0][0]
        == canonical_filler(getattr(u.roles, role))
        for u, role in truth
    )
    assert right / len(truth) >= 0.95, f"{right} of {len(truth)}"


def test_recall_probe_ranks_the_matching_unit_first_among_1000() -> None:
    # 20 people × 25 places, each pair said in two different sentences (1,000 units), among
    # the demo conversation's real chat turns; every one of the 500 (who, where) probes must
    # rank a unit with that who and that where first.
    events = [
        TextEvent(
            scope="s",
            author="ops",
            text=TEMPLATES[(i + k) % len(TEMPLATES)].format(who=who, where=where),
        )
        for i, (who, where) in enumerate(itertools.product(PEOPLE, PLACES))
        for k in range(2)
    ]
    units = [*enrich(events), *conversation_units()]
    assert len(units) >= 1000 + 30
    shapes = np.asarray([u.shape.vector for u in units], dtype=np.float32)
    missed = []
    for who, where in itertools.product(PEOPLE, PLACES):
        scores = shapes @ probe({"who": who, "where": where}, DIM)
        best = units[int(np.argmax(scores))]
        if (best.roles.who, best.roles.where) != (who, where):
            missed.append((who, where, best.text))
    assert not missed, missed[:5]


def test_recall_unbinding_takes_filler_strings_or_a_prebuilt_memory() -> None:
    unit = next(u for u in conversation_units() if u.roles.where)
    fillers = [*top_n_list("en", 2_000), unit.roles.where]
    shape = np.asarray(unit.shape.vector)
    from_strings = unbind(shape, "where", fillers, k=3)
    assert from_strings == unbind(shape, "where", filler_memory(fillers, DIM), k=3)
    assert from_strings[0][0] == canonical_filler(unit.roles.where)
