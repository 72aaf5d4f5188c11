"""The built-in stage models, from the Swedish and Danish guides Kundresa comes from.

Each model has labels in Swedish, Danish and English and a funnel position (ToFu, MoFu,
BoFu) for the stages at the top of the funnel. Ids are English so that a journey can switch
language without touching its rules.

Examples
--------
>>> [s.label["sv"] for s in get_template("kundresa-cirkel").stages]
['Medvetenhet', 'Övervägande', 'Beslut', 'Leverans', 'Lojalitet']
>>> get_template("kundresa-cirkel").circular
True
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "FUNNEL_POSITIONS",
    "LANGUAGES",
    "TEMPLATES",
    "JourneyTemplate",
    "StageTemplate",
    "get_template",
]

LANGUAGES = ("sv", "da", "en")
FUNNEL_POSITIONS = ("tofu", "mofu", "bofu")


@dataclass(frozen=True)
class StageTemplate:
    """One stage of a built-in model."""

    id: str
    label: dict[str, str]
    funnel: str | None = None
    description: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class JourneyTemplate:
    """A built-in stage model."""

    id: str
    title: dict[str, str]
    description: str
    stages: tuple[StageTemplate, ...]
    circular: bool
    source: str

    @property
    def stage_ids(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.stages)


def _s(
    id: str, sv: str, da: str, en: str, funnel: str | None = None, about: str = ""
) -> StageTemplate:
    return StageTemplate(id, {"sv": sv, "da": da, "en": en}, funnel, {"en": about} if about else {})


_AWARENESS = _s(
    "awareness",
    "Medvetenhet",
    "Bevidsthed",
    "Awareness",
    "tofu",
    "The customer notices a need and hears of the company.",
)
_CONSIDERATION = _s(
    "consideration",
    "Övervägande",
    "Overvejelse",
    "Consideration",
    "mofu",
    "The customer weighs alternatives.",
)
_DECISION = _s(
    "decision", "Beslut", "Beslutning", "Decision", "bofu", "The customer decides and buys."
)

TEMPLATES: dict[str, JourneyTemplate] = {
    t.id: t
    for t in (
        JourneyTemplate(
            "buyers-journey",
            {"sv": "Köparens resa", "da": "Købers rejse", "en": "Buyer's journey"},
            "The classic three-stage buyer's journey: awareness, consideration, decision.",
            (_AWARENESS, _CONSIDERATION, _DECISION),
            circular=False,
            source="seeds 000 and 003 (the first three phases; köpresan)",
        ),
        JourneyTemplate(
            "kunderejse-4",
            {
                "sv": "Kundresa i fyra faser",
                "da": "Kunderejsen i fire faser",
                "en": "Four-stage customer journey",
            },
            "The Danish four-phase customer journey, with retention after the purchase.",
            (
                _AWARENESS,
                _CONSIDERATION,
                _DECISION,
                _s(
                    "retention",
                    "Lojalitet",
                    "Fastholdelse",
                    "Retention",
                    None,
                    "Keeping the customer after the purchase.",
                ),
            ),
            circular=False,
            source="seed 001 (kunderejsen)",
        ),
        JourneyTemplate(
            "kundresa-5",
            {
                "sv": "Kundresan i fem steg",
                "da": "Kunderejsen i fem trin",
                "en": "Five-stage customer journey",
            },
            "Awareness to advocacy; customers who buy again begin a new cycle.",
            (
                _AWARENESS,
                _CONSIDERATION,
                _s(
                    "decision",
                    "Handling/Beslut",
                    "Handling/Beslutning",
                    "Action/Decision",
                    "bofu",
                    "The customer acts: buys, books or signs up.",
                ),
                _s(
                    "retention",
                    "Lojalitet",
                    "Fastholdelse",
                    "Retention",
                    None,
                    "The customer stays and buys again.",
                ),
                _s(
                    "advocacy",
                    "Ambassadör",
                    "Ambassadør",
                    "Advocacy",
                    None,
                    "Loyal customers recommend the company (also called loyalty or ambassador).",
                ),
            ),
            circular=True,
            source="seeds 000 (five phases) and 002 (loyalty, ambassador)",
        ),
        JourneyTemplate(
            "kundresa-cirkel",
            {
                "sv": "Kundresan som cirkel",
                "da": "Kunderejsen som cirkel",
                "en": "Circular customer journey",
            },
            "A circle: after loyalty, a new need starts the journey again.",
            (
                _AWARENESS,
                _CONSIDERATION,
                _DECISION,
                _s(
                    "delivery",
                    "Leverans",
                    "Levering",
                    "Delivery",
                    None,
                    "The product or service is delivered and used.",
                ),
                _s(
                    "loyalty",
                    "Lojalitet",
                    "Loyalitet",
                    "Loyalty",
                    None,
                    "The customer comes back; a new need starts a new round.",
                ),
            ),
            circular=True,
            source="seed 003 (köpresan som cirkel)",
        ),
        JourneyTemplate(
            "fore-under-efter",
            {"sv": "Före, under, efter", "da": "Før, under, efter", "en": "Before, during, after"},
            "The relationship in three phases: not yet a customer, active customer, former "
            "customer.",
            (
                _s("before", "Före", "Før", "Before", "tofu", "Not yet a customer."),
                _s("during", "Under", "Under", "During", "bofu", "An active customer."),
                _s("after", "Efter", "Efter", "After", None, "A former customer."),
            ),
            circular=False,
            source="seed 002 (kundresan i 3 steg)",
        ),
        JourneyTemplate(
            "kundresa-7",
            {
                "sv": "Kundresan i sju steg",
                "da": "Kunderejsen i syv trin",
                "en": "Seven-stage customer journey",
            },
            "From need to loyalty, with evaluation and repurchase as their own stages.",
            (
                _AWARENESS,
                _s(
                    "evaluation",
                    "Utvärdering",
                    "Evaluering",
                    "Evaluation",
                    "mofu",
                    "The customer gathers information and compares alternatives.",
                ),
                _CONSIDERATION,
                _s(
                    "purchase_decision",
                    "Köpbeslut",
                    "Købsbeslutning",
                    "Purchase decision",
                    "bofu",
                    "The customer decides to buy.",
                ),
                _s(
                    "post_purchase",
                    "Efterköpsbeteende",
                    "Efterkøbsadfærd",
                    "Post-purchase behaviour",
                    None,
                    "The customer judges the purchase.",
                ),
                _s(
                    "repurchase",
                    "Återköp",
                    "Genkøb",
                    "Repurchase",
                    None,
                    "A satisfied customer buys again.",
                ),
                _s(
                    "loyalty",
                    "Lojalitet",
                    "Loyalitet",
                    "Loyalty",
                    None,
                    "The customer becomes a loyal ambassador.",
                ),
            ),
            circular=False,
            source="seed 004 (kundresan, table of seven phases)",
        ),
        JourneyTemplate(
            "tratt-7",
            {"sv": "Marknadsföringstratten", "da": "Marketingtragten", "en": "Marketing funnel"},
            "The seven-step marketing funnel, ending with referrals.",
            (
                _AWARENESS,
                _s(
                    "interest",
                    "Intresse",
                    "Interesse",
                    "Interest",
                    "mofu",
                    "The customer looks into the products.",
                ),
                _CONSIDERATION,
                _s(
                    "purchase_decision",
                    "Köpbeslut",
                    "Købsbeslutning",
                    "Purchase decision",
                    "bofu",
                    "The customer decides and buys.",
                ),
                _s(
                    "post_purchase",
                    "Efterköpsbeteende",
                    "Efterkøbsadfærd",
                    "Post-purchase behaviour",
                    None,
                    "Feelings after the purchase.",
                ),
                _s("loyalty", "Lojalitet", "Loyalitet", "Loyalty", None, "Repeat purchases."),
                _s(
                    "referral",
                    "Referens",
                    "Anbefaling",
                    "Referral",
                    None,
                    "The customer recommends the brand to others.",
                ),
            ),
            circular=False,
            source="seed 004 (marknadsföringstratten)",
        ),
    )
}


def get_template(template_id: str) -> JourneyTemplate:
    """The built-in model with this id.

    Raises
    ------
    KeyError
        With the known ids when there is no such model.
    """
    try:
        return TEMPLATES[template_id]
    except KeyError:
        raise KeyError(f"unknown template {template_id!r}; known: {', '.join(TEMPLATES)}") from None
