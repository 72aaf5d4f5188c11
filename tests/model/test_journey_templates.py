"""The seven built-in stage models."""

from __future__ import annotations

import pytest

from kundresa.model import TEMPLATES, get_template, parse_journey
from kundresa.model.templates import FUNNEL_POSITIONS, LANGUAGES

EXPECTED = {
    "buyers-journey": (["awareness", "consideration", "decision"], False),
    "kunderejse-4": (["awareness", "consideration", "decision", "retention"], False),
    "kundresa-5": (["awareness", "consideration", "decision", "retention", "advocacy"], True),
    "kundresa-cirkel": (["awareness", "consideration", "decision", "delivery", "loyalty"], True),
    "fore-under-efter": (["before", "during", "after"], False),
    "kundresa-7": (
        [
            "awareness",
            "evaluation",
            "consideration",
            "purchase_decision",
            "post_purchase",
            "repurchase",
            "loyalty",
        ],
        False,
    ),
    "tratt-7": (
        [
            "awareness",
            "interest",
            "consideration",
            "purchase_decision",
            "post_purchase",
            "loyalty",
            "referral",
        ],
        False,
    ),
}


def test_templates_in_order_with_their_stages() -> None:
    assert list(TEMPLATES) == list(EXPECTED)
    for tid, (stages, circular) in EXPECTED.items():
        t = TEMPLATES[tid]
        assert t.id == tid
        assert list(t.stage_ids) == stages
        assert t.circular is circular
        assert t.source


@pytest.mark.parametrize("tid", list(TEMPLATES))
def test_every_template_is_complete(tid: str) -> None:
    t = TEMPLATES[tid]
    assert set(t.title) == set(LANGUAGES)
    assert set(t.description) == set(LANGUAGES)
    for s in t.stages:
        assert set(s.label) == set(LANGUAGES), s.id
        assert all(s.label[lang].strip() for lang in LANGUAGES)
        assert s.funnel in (*FUNNEL_POSITIONS, None)
        assert s.id.isidentifier() and s.id == s.id.lower()
    funnels = [s.funnel for s in t.stages if s.funnel]
    # Funnel positions run top to bottom, and only at the start of the model.
    assert funnels == sorted(funnels, key=FUNNEL_POSITIONS.index)
    assert [s.funnel is not None for s in t.stages] == sorted(
        (s.funnel is not None for s in t.stages), reverse=True
    )
    assert funnels.count("bofu") == 1


def test_seed_words() -> None:
    sv = {tid: [s.label["sv"] for s in t.stages] for tid, t in TEMPLATES.items()}
    assert sv["kundresa-cirkel"] == [
        "Medvetenhet",
        "Övervägande",
        "Beslut",
        "Leverans",
        "Lojalitet",
    ]
    assert sv["fore-under-efter"] == ["Före", "Under", "Efter"]
    assert sv["kundresa-7"] == [
        "Medvetenhet",
        "Utvärdering",
        "Övervägande",
        "Köpbeslut",
        "Efterköpsbeteende",
        "Återköp",
        "Lojalitet",
    ]
    assert sv["tratt-7"][1] == "Intresse" and sv["tratt-7"][-1] == "Referens"
    da = [s.label["da"] for s in TEMPLATES["kunderejse-4"].stages]
    assert da == ["Bevidsthed", "Overvejelse", "Beslutning", "Fastholdelse"]
    assert TEMPLATES["kundresa-5"].stages[2].label["en"] == "Action/Decision"
    assert [s.funnel for s in TEMPLATES["buyers-journey"].stages] == ["tofu", "mofu", "bofu"]


def test_get_template_names_the_known_ids() -> None:
    assert get_template("tratt-7") is TEMPLATES["tratt-7"]
    with pytest.raises(KeyError) as exc:
        get_template("kundresa-6")
    for tid in TEMPLATES:
        assert tid in str(exc.value)


@pytest.mark.parametrize("tid", list(TEMPLATES))
@pytest.mark.parametrize("form", ["top", "stages"])
def test_every_template_parses(tid: str, form: str) -> None:
    ref = f"template: {tid}" if form == "top" else f"stages: {{template: {tid}}}"
    journey, problems = parse_journey(f"kundresa: 1\nname: T\nlanguage: da\n{ref}\n")
    assert problems == []
    assert journey is not None
    assert journey.template == tid
    assert journey.stage_ids == TEMPLATES[tid].stage_ids
    assert journey.circular is TEMPLATES[tid].circular
    for s in TEMPLATES[tid].stages:
        assert journey.stage_label(s.id) == s.label["da"]
        assert journey.stage_label(s.id, "sv") == s.label["sv"]
    bofu = [s.id for s in TEMPLATES[tid].stages if s.funnel == "bofu"]
    assert journey.decision_stage == bofu[0]


def test_circular_in_the_file_overrides_the_template() -> None:
    journey, _ = parse_journey("kundresa: 1\ntemplate: kundresa-cirkel\ncircular: false\n")
    assert journey is not None and journey.circular is False
