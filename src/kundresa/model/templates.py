"""The built-in stage models, from the Swedish and Danish guides Kundresa comes from.

Each model has labels in Swedish, Danish and English and a funnel position (ToFu, MoFu,
BoFu) for the stages at the top of the funnel. Ids are English so that a journey can switch
language without touching its rules.

Funnel positions: in the seven-stage models the middle of the funnel is two stages wide
(evaluation or interest, then consideration) and the purchase decision is the bottom; the
stages after the purchase are outside the acquisition funnel (``None``). In
``fore-under-efter`` "before" is the top of the funnel and "during" (an active customer) its
bottom, since becoming a customer is the purchase; there is no middle stage.

``kundresa-5`` is circular: seed 002 describes its fourth and fifth phases as making
customers "återkommande" (returning) and says customers move "cykliskt"; seed 000 does not
say either way. ``kundresa-7`` and ``tratt-7`` have repurchase and loyalty as stages of their
own, so they are drawn as lines; a journey file can still set ``circular: true``.

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
    description: dict[str, str]
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
            {"sv": "Köpresan", "da": "Købsrejsen", "en": "Buyer's journey"},
            {
                "sv": "Köpresan i tre faser: medvetenhet, övervägande, beslut.",
                "da": "Købsrejsen i tre faser: bevidsthed, overvejelse, beslutning.",
                "en": "The classic buyer's journey: awareness, consideration, decision.",
            },
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
            {
                "sv": "Kundresan i fyra faser, med lojalitet efter köpet.",
                "da": "Den simple kunderejse i fire faser, med fastholdelse efter købet.",
                "en": "The four-phase customer journey, with retention after the purchase.",
            },
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
            {
                "sv": "Från medvetenhet till ambassadör; kunder som köper igen börjar en ny runda.",
                "da": "Fra bevidsthed til ambassadør; kunder, der køber igen, starter en ny runde.",
                "en": "Awareness to advocacy; customers who buy again begin a new cycle.",
            },
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
            {
                "sv": "En cirkel: efter lojalitet startar ett nytt behov resan igen.",
                "da": "En cirkel: efter loyalitet starter et nyt behov rejsen igen.",
                "en": "A circle: after loyalty, a new need starts the journey again.",
            },
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
            {
                "sv": "Relationen i tre steg: inte kund än, aktiv kund, före detta kund.",
                "da": "Relationen i tre trin: endnu ikke kunde, aktiv kunde, tidligere kunde.",
                "en": "Three phases: not yet a customer, active customer, former customer.",
            },
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
            {
                "sv": "Från behov till lojalitet, med utvärdering och återköp som egna steg.",
                "da": "Fra behov til loyalitet, med evaluering og genkøb som egne trin.",
                "en": "From need to loyalty, with evaluation and repurchase as their own stages.",
            },
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
            {
                "sv": "Marknadsföringstratten i sju steg, som slutar med rekommendationer.",
                "da": "Marketingtragten i syv trin, der slutter med anbefalinger.",
                "en": "The seven-step marketing funnel, ending with referrals.",
            },
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

    Parameters
    ----------
    template_id
        One of the keys of :data:`TEMPLATES`.

    Raises
    ------
    KeyError
        With the known ids when there is no such model.

    Examples
    --------
    >>> t = get_template("kundresa-7")
    >>> t.stage_ids[3], t.stages[3].label["da"], t.stages[3].funnel
    ('purchase_decision', 'Købsbeslutning', 'bofu')
    >>> get_template("kundresa-9")
    Traceback (most recent call last):
    ...
    KeyError: "unknown template 'kundresa-9'; known: buyers-journey, kunderejse-4, ..."
    """
    try:
        return TEMPLATES[template_id]
    except KeyError:
        raise KeyError(f"unknown template {template_id!r}; known: {', '.join(TEMPLATES)}") from None
