"""Writing a commented ``journey.yaml`` to start from (``kundresa init``)."""

from __future__ import annotations

from datetime import date
from typing import Any

import yaml

from kundresa.model.review import six_months_after
from kundresa.model.templates import LANGUAGES, TEMPLATES

__all__ = ["TOUCHPOINT_LABELS", "render_journey_yaml"]

# What each stage is about, by kind; stage ids of every template map onto a kind below.
_KIND = {
    "awareness": "aware",
    "before": "aware",
    "interest": "consider",
    "evaluation": "consider",
    "consideration": "consider",
    "decision": "buy",
    "purchase_decision": "buy",
    "during": "buy",
    "delivery": "after",
    "post_purchase": "after",
    "retention": "again",
    "repurchase": "again",
    "loyalty": "again",
    "after": "leave",
    "advocacy": "advocate",
    "referral": "advocate",
}

_TEXT: dict[str, dict[str, dict[str, str]]] = {
    "goal": {
        "aware": {
            "sv": "Bli hittad när kunden söker en lösning på sitt problem",
            "da": "Bliv fundet, når kunden søger en løsning på sit problem",
            "en": "Be found when the customer looks for a solution",
        },
        "consider": {
            "sv": "Hjälpa kunden att jämföra och förstå erbjudandet",
            "da": "Hjælp kunden med at sammenligne og forstå tilbuddet",
            "en": "Help the customer compare and understand the offer",
        },
        "buy": {
            "sv": "Göra köpet enkelt och tryggt",
            "da": "Gør købet nemt og trygt",
            "en": "Make buying easy and safe",
        },
        "after": {
            "sv": "Leverera det vi lovade",
            "da": "Lever det, vi lovede",
            "en": "Deliver what was promised",
        },
        "again": {
            "sv": "Få kunden att komma tillbaka",
            "da": "Få kunden til at komme igen",
            "en": "Bring the customer back",
        },
        "leave": {
            "sv": "Förstå varför kunder lämnar och vinna tillbaka dem",
            "da": "Forstå hvorfor kunder går, og vind dem tilbage",
            "en": "Understand why customers leave and win them back",
        },
        "advocate": {
            "sv": "Göra nöjda kunder till ambassadörer",
            "da": "Gør tilfredse kunder til ambassadører",
            "en": "Turn happy customers into ambassadors",
        },
    },
    "activity": {
        "aware": {
            "sv": "Googlar sitt problem, ser annonser i sociala medier",
            "da": "Googler sit problem, ser annoncer på sociale medier",
            "en": "Searches for the problem, sees ads on social media",
        },
        "consider": {
            "sv": "Läser recensioner och jämför priser",
            "da": "Læser anmeldelser og sammenligner priser",
            "en": "Reads reviews and compares prices",
        },
        "buy": {
            "sv": "Lägger varor i kundkorgen och betalar",
            "da": "Lægger varer i kurven og betaler",
            "en": "Adds to cart and pays",
        },
        "after": {
            "sv": "Tar emot leveransen och börjar använda produkten",
            "da": "Modtager leveringen og tager produktet i brug",
            "en": "Receives the delivery and starts using the product",
        },
        "again": {
            "sv": "Handlar igen, läser nyhetsbrevet",
            "da": "Handler igen, læser nyhedsbrevet",
            "en": "Buys again, reads the newsletter",
        },
        "leave": {
            "sv": "Säger upp avtalet",
            "da": "Opsiger aftalen",
            "en": "Cancels the subscription",
        },
        "advocate": {
            "sv": "Rekommenderar oss till vänner och kollegor",
            "da": "Anbefaler os til venner og kolleger",
            "en": "Recommends us to friends and colleagues",
        },
    },
    "thought": {
        "aware": {
            "sv": "Finns det något som löser det här?",
            "da": "Findes der noget, der løser det her?",
            "en": "Is there something that solves this?",
        },
        "consider": {
            "sv": "Vilket alternativ passar mig bäst?",
            "da": "Hvilken løsning passer bedst til mig?",
            "en": "Which option suits me best?",
        },
        "buy": {
            "sv": "Är det här värt pengarna?",
            "da": "Er det pengene værd?",
            "en": "Is this worth the money?",
        },
        "after": {
            "sv": "Fick jag det jag förväntade mig?",
            "da": "Fik jeg det, jeg forventede?",
            "en": "Did I get what I expected?",
        },
        "again": {
            "sv": "De förstår vad jag behöver",
            "da": "De forstår, hvad jeg har brug for",
            "en": "They understand what I need",
        },
        "leave": {
            "sv": "Jag behöver inte det här längre",
            "da": "Jeg har ikke brug for det længere",
            "en": "I don't need this any more",
        },
        "advocate": {
            "sv": "Det här måste mina vänner få veta",
            "da": "Det skal mine venner vide",
            "en": "My friends should know about this",
        },
    },
    "pain": {
        "aware": {
            "sv": "Svårt att hitta oss bland konkurrenterna",
            "da": "Svært at finde os blandt konkurrenterne",
            "en": "Hard to find us among competitors",
        },
        "consider": {
            "sv": "Priser och villkor är svåra att jämföra",
            "da": "Priser og vilkår er svære at sammenligne",
            "en": "Prices and terms are hard to compare",
        },
        "buy": {
            "sv": "Krånglig kassa, oklara fraktkostnader",
            "da": "Besværlig betaling, uklare fragtomkostninger",
            "en": "Clumsy checkout, unclear shipping costs",
        },
        "after": {
            "sv": "Ingen information om leveranstid",
            "da": "Ingen information om leveringstid",
            "en": "No word on delivery time",
        },
        "again": {
            "sv": "Inget skäl att komma tillbaka",
            "da": "Ingen grund til at komme igen",
            "en": "No reason to come back",
        },
        "leave": {"sv": "Svårt att säga upp", "da": "Svært at opsige", "en": "Hard to cancel"},
        "advocate": {
            "sv": "Inget enkelt sätt att tipsa andra",
            "da": "Ingen nem måde at anbefale os",
            "en": "No easy way to recommend us",
        },
    },
    "opportunity": {
        "aware": {
            "sv": "Guider som svarar på kundens frågor",
            "da": "Guides, der svarer på kundens spørgsmål",
            "en": "Guides that answer the customer's questions",
        },
        "consider": {
            "sv": "Jämförelsesida och kundcase",
            "da": "Sammenligningsside og kundecases",
            "en": "A comparison page and customer stories",
        },
        "buy": {
            "sv": "Färre steg i kassan, chatt vid köp",
            "da": "Færre trin i kassen, chat ved køb",
            "en": "Fewer checkout steps, chat while buying",
        },
        "after": {
            "sv": "Sms när paketet skickas",
            "da": "Sms, når pakken sendes",
            "en": "A text message when the parcel ships",
        },
        "again": {
            "sv": "Personliga erbjudanden efter köpet",
            "da": "Personlige tilbud efter købet",
            "en": "Personal offers after the purchase",
        },
        "leave": {
            "sv": "Fråga varför och erbjud en paus",
            "da": "Spørg hvorfor og tilbyd en pause",
            "en": "Ask why and offer a pause",
        },
        "advocate": {
            "sv": "Värvningsprogram med belöning",
            "da": "Anbefalingsprogram med belønning",
            "en": "A referral programme with a reward",
        },
    },
    "backstage": {
        "aware": {
            "sv": "Marknad: SEO och annonser",
            "da": "Marketing: SEO og annoncer",
            "en": "Marketing: SEO and ads",
        },
        "consider": {
            "sv": "Sälj svarar på frågor inom en timme",
            "da": "Salg svarer inden for en time",
            "en": "Sales answers within an hour",
        },
        "buy": {
            "sv": "E-handel och betalning",
            "da": "E-handel og betaling",
            "en": "E-commerce and payments",
        },
        "after": {
            "sv": "Lager och logistik",
            "da": "Lager og logistik",
            "en": "Warehouse and logistics",
        },
        "again": {
            "sv": "Kundservice och CRM",
            "da": "Kundeservice og CRM",
            "en": "Customer service and CRM",
        },
        "leave": {"sv": "Kundservice", "da": "Kundeservice", "en": "Customer service"},
        "advocate": {
            "sv": "Marknad: community",
            "da": "Marketing: community",
            "en": "Marketing: community",
        },
    },
    "need": {
        "aware": {
            "sv": "Förstå sitt problem och vilka lösningar som finns",
            "da": "Forstå sit problem og hvilke løsninger der findes",
            "en": "Understand the problem and what solutions exist",
        },
        "consider": {
            "sv": "Ärliga jämförelser och omdömen från andra kunder",
            "da": "Ærlige sammenligninger og anmeldelser fra andre kunder",
            "en": "Honest comparisons and reviews from other customers",
        },
        "buy": {
            "sv": "Ett tydligt pris och en trygg betalning",
            "da": "En klar pris og en tryg betaling",
            "en": "A clear price and a safe payment",
        },
        "after": {
            "sv": "Veta när leveransen kommer och komma igång snabbt",
            "da": "Vide hvornår leveringen kommer, og komme hurtigt i gang",
            "en": "Know when the delivery comes and get started quickly",
        },
        "again": {
            "sv": "Känna sig sedd som befintlig kund",
            "da": "Føle sig set som eksisterende kunde",
            "en": "Feel valued as an existing customer",
        },
        "leave": {
            "sv": "Kunna avsluta enkelt och utan krångel",
            "da": "Kunne opsige nemt og uden besvær",
            "en": "Leave easily, without hassle",
        },
        "advocate": {
            "sv": "Något värt att berätta om",
            "da": "Noget, der er værd at fortælle om",
            "en": "Something worth telling others about",
        },
    },
    "content": {
        "aware": {
            "sv": "Blogginlägg, guider, annonser",
            "da": "Blogindlæg, guides, annoncer",
            "en": "Blog posts, guides, ads",
        },
        "consider": {
            "sv": "Jämförelser, recensioner, demo",
            "da": "Sammenligninger, anmeldelser, demo",
            "en": "Comparisons, reviews, demos",
        },
        "buy": {
            "sv": "Prislista, garantier, vanliga frågor",
            "da": "Prisliste, garantier, FAQ",
            "en": "Price list, guarantees, FAQ",
        },
        "after": {
            "sv": "Kom igång-guide",
            "da": "Kom godt i gang-guide",
            "en": "Getting-started guide",
        },
        "again": {
            "sv": "Nyhetsbrev, medlemserbjudanden",
            "da": "Nyhedsbrev, medlemstilbud",
            "en": "Newsletter, member offers",
        },
        "leave": {"sv": "Avslutsenkät", "da": "Afslutningsundersøgelse", "en": "Exit survey"},
        "advocate": {
            "sv": "Värvningslänk, kundcase",
            "da": "Anbefalingslink, kundecases",
            "en": "Referral link, customer stories",
        },
    },
}

_EMOTION = {
    "aware": (0, 1),
    "consider": (-1, 0),
    "buy": (1, 0),
    "after": (1, 1),
    "again": (1, 2),
    "leave": (-1, -2),
    "advocate": (2, 1),
}

_PERSONAS = (
    {
        "id": "anna",
        "name": {
            "sv": "Anna, 34, privatkund",
            "da": "Anna, 34, privatkunde",
            "en": "Anna, 34, private customer",
        },
        "needs": {
            "sv": ["Snabb leverans", "Tydliga priser"],
            "da": ["Hurtig levering", "Klare priser"],
            "en": ["Fast delivery", "Clear prices"],
        },
        "challenges": {"sv": ["Ont om tid"], "da": ["Travl hverdag"], "en": ["Short of time"]},
        "goals": {"sv": ["Ett smidigt köp"], "da": ["Et nemt køb"], "en": ["An easy purchase"]},
        "match": {"property": "segment", "equals": "private"},
    },
    {
        "id": "erik",
        "name": {
            "sv": "Erik, 52, inköpare på företag",
            "da": "Erik, 52, indkøber i en virksomhed",
            "en": "Erik, 52, business buyer",
        },
        "needs": {
            "sv": ["Faktura och avtal", "Personlig kontakt"],
            "da": ["Faktura og aftale", "Personlig kontakt"],
            "en": ["Invoices and contracts", "A personal contact"],
        },
        "challenges": {
            "sv": ["Många som ska godkänna"],
            "da": ["Mange skal godkende"],
            "en": ["Many people must approve"],
        },
        "goals": {
            "sv": ["Rätt beslut för företaget"],
            "da": ["Den rigtige beslutning for firmaet"],
            "en": ["The right decision for the company"],
        },
        "match": {"property": "segment", "equals": "business"},
    },
)

_CHANNELS = (
    ("web", {"sv": "Webbplats", "da": "Hjemmeside", "en": "Website"}, True, "owned"),
    ("email", {"sv": "E-post", "da": "E-mail", "en": "Email"}, True, "owned"),
    ("search", {"sv": "Sökannonser", "da": "Søgeannoncer", "en": "Search ads"}, True, "paid"),
    (
        "social",
        {"sv": "Sociala medier", "da": "Sociale medier", "en": "Social media"},
        True,
        "earned",
    ),
    ("store", {"sv": "Butik", "da": "Butik", "en": "Store"}, False, "owned"),
    ("sales_call", {"sv": "Säljsamtal", "da": "Salgsopkald", "en": "Sales call"}, False, "owned"),
)

# Example touchpoints per stage id: (id, match, channel). Rules with `nth` are written first
# so that the general rule for the same event cannot shadow them.
_TOUCHPOINTS: dict[str, list[tuple[str, dict[str, Any], str]]] = {
    "awareness": [
        ("ad_click", {"event": "ad_click"}, "search"),
        (
            "blog_visit",
            {"event": "page_view", "where": {"path": {"regex": "^/(blog|guide)"}}},
            "web",
        ),
    ],
    "before": [
        ("ad_click", {"event": "ad_click"}, "search"),
        ("pricing_page", {"event": "page_view", "where": {"path": {"regex": "^/pricing"}}}, "web"),
    ],
    "interest": [
        ("newsletter_signup", {"event": "newsletter_signup"}, "email"),
        ("product_page", {"event": "page_view", "where": {"path": {"regex": "^/products"}}}, "web"),
    ],
    "evaluation": [
        ("product_page", {"event": "page_view", "where": {"path": {"regex": "^/products"}}}, "web"),
        ("review_read", {"event": "review_read"}, "web"),
    ],
    "consideration": [
        ("pricing_page", {"event": "page_view", "where": {"path": {"regex": "^/pricing"}}}, "web"),
        ("demo_request", {"event": ["demo_request", "sales_call"]}, "sales_call"),
    ],
    "decision": [("first_purchase", {"event": "purchase"}, "web")],
    "purchase_decision": [("first_purchase", {"event": "purchase"}, "web")],
    "during": [
        ("purchase", {"event": "purchase"}, "web"),
        ("support_contact", {"event": "support_contact"}, "email"),
    ],
    "delivery": [("order_delivered", {"event": "order_delivered"}, "store")],
    "post_purchase": [
        ("product_review", {"event": "review_written"}, "web"),
        ("support_contact", {"event": "support_contact"}, "email"),
    ],
    "retention": [("repeat_purchase", {"event": "purchase", "nth": 2}, "web")],
    "repurchase": [("repeat_purchase", {"event": "purchase", "nth": 2}, "web")],
    "loyalty": [("loyalty_signup", {"event": "loyalty_signup"}, "email")],
    "after": [("cancellation", {"event": "subscription_cancelled"}, "email")],
    "advocacy": [
        ("nps_promoter", {"event": "nps_answer", "where": {"score": {"gte": 9}}}, "email"),
        ("referral_sent", {"event": "referral_sent"}, "social"),
    ],
    "referral": [
        ("nps_promoter", {"event": "nps_answer", "where": {"score": {"gte": 9}}}, "email"),
        ("referral_sent", {"event": "referral_sent"}, "social"),
    ],
}

#: Display labels of the example touchpoints (templates and the demo company), per language.
TOUCHPOINT_LABELS: dict[str, dict[str, str]] = {
    "ad_click": {"sv": "Klick på annons", "da": "Klik på annonce", "en": "Ad click"},
    "blog_visit": {"sv": "Besök på bloggen", "da": "Besøg på bloggen", "en": "Blog visit"},
    "pricing_page": {"sv": "Prissidan", "da": "Prissiden", "en": "Pricing page"},
    "newsletter_signup": {
        "sv": "Anmälan till nyhetsbrev",
        "da": "Tilmelding til nyhedsbrev",
        "en": "Newsletter sign-up",
    },
    "newsletter_open": {
        "sv": "Öppnat nyhetsbrev",
        "da": "Åbnet nyhedsbrev",
        "en": "Newsletter opened",
    },
    "product_page": {"sv": "Produktsida", "da": "Produktside", "en": "Product page"},
    "review_read": {"sv": "Läst recension", "da": "Læst anmeldelse", "en": "Review read"},
    "demo_request": {"sv": "Bokad demo", "da": "Booket demo", "en": "Demo request"},
    "first_purchase": {"sv": "Första köpet", "da": "Første køb", "en": "First purchase"},
    "purchase": {"sv": "Köp", "da": "Køb", "en": "Purchase"},
    "checkout": {"sv": "Till kassan", "da": "Til kassen", "en": "Checkout"},
    "support_contact": {
        "sv": "Kontakt med kundtjänst",
        "da": "Kontakt med kundeservice",
        "en": "Support contact",
    },
    "order_delivered": {"sv": "Leverans", "da": "Levering", "en": "Order delivered"},
    "product_review": {
        "sv": "Skrivit recension",
        "da": "Skrevet anmeldelse",
        "en": "Review written",
    },
    "repeat_purchase": {"sv": "Återköp", "da": "Genkøb", "en": "Repeat purchase"},
    "loyalty_signup": {
        "sv": "Med i kundklubben",
        "da": "Med i kundeklubben",
        "en": "Loyalty sign-up",
    },
    "cancellation": {"sv": "Uppsägning", "da": "Opsigelse", "en": "Cancellation"},
    "nps_promoter": {"sv": "Rekommenderar oss", "da": "Anbefaler os", "en": "NPS promoter"},
    "nps_answer": {"sv": "Svar på NPS-enkät", "da": "Svar på NPS-måling", "en": "NPS answer"},
    "referral_sent": {"sv": "Tipsat en vän", "da": "Anbefalet til en ven", "en": "Referral sent"},
    "store_visit": {"sv": "Besök i butik", "da": "Besøg i butik", "en": "Store visit"},
    "sales_call": {"sv": "Säljsamtal", "da": "Salgsopkald", "en": "Sales call"},
}

_KPI: dict[str, tuple[str, float]] = {
    "aware": ("reached", 10000),
    "consider": ("conversion_from_previous", 0.5),
    "buy": ("conversion_from_previous", 0.2),
    "after": ("conversion_from_previous", 0.9),
    "again": ("conversion_from_previous", 0.3),
    "leave": ("conversion_from_previous", 0.1),
    "advocate": ("conversion_from_previous", 0.2),
}

_KPI_LABEL: dict[str, dict[str, str]] = {
    "reached": {
        "sv": "Kunder som nått steget",
        "da": "Kunder, der har nået trinnet",
        "en": "Customers who reached the stage",
    },
    "conversion_from_previous": {
        "sv": "Andel som går vidare från föregående steg",
        "da": "Andel, der går videre fra forrige trin",
        "en": "Share who move on from the previous stage",
    },
}

_COMMENTS = {
    "header": """\
# Customer journey for {name}.
#
# This file is the journey map as code. Stages are the columns of the map, the lanes below
# are its rows, and touchpoints connect the map to your event data: every event is placed on
# the first touchpoint whose `match` fits, and through it on a stage.
#
#   kundresa validate      check this file (every problem, with line and column)
#   kundresa ingest FILE   load events (CSV, Parquet, JSON Lines)
#   kundresa stages        the stage funnel: reached, entered, conversion per stage
""",
    "circular": """\
# circular: true when customers who buy again start the journey over (a new need, a new
# round); false when the journey is drawn as a line.""",
    "timezone": """\
# timezone: the project's time zone (an IANA name such as Europe/Stockholm). Days, weeks
# and months in the analyses, and dates given without a time (--since 2025-03-01), are
# read in it; timestamps are stored as UTC.""",
    "review_by": "# Review the map at least twice a year; `kundresa validate` warns after it.",
    "stages": """\
# Stages, in order (template: {template}). Labels in Swedish, Danish and English; funnel
# marks top, middle and bottom of the funnel (tofu/mofu/bofu). KPI metrics: reached, entered,
# conversion_from_previous, conversion_from_start, dropped, median_days_in_stage.""",
    "personas": """\
# Personas: typical customers. A customer belongs to the first persona whose `match` fits
# one of their events (here: the `segment` property).""",
    "channels": "# Channels: online or offline; owned, paid or earned.",
    "touchpoints": """\
# Touchpoints: the FIRST one whose match fits an event wins, so put specific rules first.
#   event: a name or a list of names      where: conditions on event properties
#   (equals, in, regex, gte, lte)         nth: 2 = the customer's 2nd and later such events""",
    "lanes": """\
# Lanes: the rows of the journey map, keyed by stage id. Any lane can also be written per
# persona ({persona: {stage: ...}}), as emotions are here: -2 very negative .. 2 very positive.""",
}


def _y(value: Any) -> str:
    """A value as one line of flow-style YAML."""
    text = yaml.safe_dump(
        value, default_flow_style=True, allow_unicode=True, width=10_000, sort_keys=False
    )
    text = text.strip()
    if text.endswith("\n..."):
        text = text[: -len("\n...")]
    return text.removesuffix("...").strip()


def render_journey_yaml(
    template: str = "kundresa-5",
    lang: str = "en",
    name: str | None = None,
    today: date | None = None,
) -> str:
    """A commented journey file for a built-in stage model, ready to edit.

    Parameters
    ----------
    template
        A built-in stage model (see :data:`kundresa.model.templates.TEMPLATES`).
    lang
        ``sv``, ``da`` or ``en``: the language of the journey's own texts.
    name
        The journey's name.
    today
        Sets ``review_by`` six months later (default: today).

    Examples
    --------
    >>> from kundresa.model.parse import parse_journey
    >>> text = render_journey_yaml("kundresa-cirkel", "da", today=date(2026, 1, 1))
    >>> journey, problems = parse_journey(text, today=date(2026, 1, 1))
    >>> problems, journey.circular, journey.stage_label("delivery")
    ([], True, 'Levering')
    """
    if template not in TEMPLATES:
        raise ValueError(f"unknown template {template!r}; known: {', '.join(TEMPLATES)}")
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; use one of {', '.join(LANGUAGES)}")
    if name is not None and any(ord(c) < 32 or 127 <= ord(c) < 160 for c in name):
        # A line break would end the header comment the name is written into, and the rest
        # of the name would be read as YAML: keys of its own in the new journey file.
        raise ValueError(
            f"name: {name[:40]!r} holds a line break or another control character; "
            "a journey's name is one line of text"
        )
    t = TEMPLATES[template]
    today = today or date.today()
    name = name or t.title[lang]
    out: list[str] = [_COMMENTS["header"].format(name=name), "kundresa: 1", f"name: {_y(name)}"]
    out.append(f"language: {lang}")
    out.append(_COMMENTS["circular"])
    out.append(f"circular: {'true' if t.circular else 'false'}")
    out.append(_COMMENTS["timezone"])
    out.append("timezone: UTC")
    out.append(_COMMENTS["review_by"])
    out.append(f"review_by: {six_months_after(today).isoformat()}")
    out.append("")
    out.append(_COMMENTS["stages"].format(template=template))
    out.append("stages:")
    for s in t.stages:
        kind = _KIND[s.id]
        metric, target = _KPI[kind]
        out.append(f"  - id: {s.id}")
        out.append(f"    label: {_y(dict(s.label))}")
        if s.funnel:
            out.append(f"    funnel: {s.funnel}")
        out.append(f"    goal: {_y(_TEXT['goal'][kind][lang])}")
        kpi = {"metric": metric, "target": target, "label": _KPI_LABEL[metric][lang]}
        out.append(f"    kpis: [{_y(kpi)}]")
    out.append("")
    out.append(_COMMENTS["personas"])
    out.append("personas:")
    for p in _PERSONAS:
        out.append(f"  - id: {p['id']}")
        out.append(f"    name: {_y(p['name'][lang])}")  # type: ignore[index]
        for key in ("needs", "challenges", "goals"):
            out.append(f"    {key}: {_y(p[key][lang])}")  # type: ignore[index]
        out.append(f"    match: {_y(p['match'])}")
    out.append("")
    out.append(_COMMENTS["channels"])
    out.append("channels:")
    for cid, label, online, ownership in _CHANNELS:
        out.append(
            f"  - {{id: {cid}, label: {_y(label)}, online: {str(online).lower()}, "
            f"ownership: {ownership}}}"
        )
    out.append("")
    out.append(_COMMENTS["touchpoints"])
    out.append("touchpoints:")
    tps: list[tuple[str, str, dict[str, Any], str]] = []
    seen: set[str] = set()
    for s in t.stages:
        for tid, match, channel in _TOUCHPOINTS[s.id]:
            if tid not in seen:
                seen.add(tid)
                tps.append((tid, s.id, match, channel))
    tps.sort(key=lambda x: -int(x[2].get("nth", 1)))  # stable: nth rules first
    for tid, stage, match, channel in tps:
        out.append(f"  - id: {tid}")
        out.append(f"    stage: {stage}")
        out.append(f"    label: {_y(TOUCHPOINT_LABELS[tid])}")
        out.append(f"    channel: {channel}")
        out.append(f"    match: {_y(match)}")
    out.append("")
    out.append(_COMMENTS["lanes"])
    out.append("lanes:")
    lanes: tuple[tuple[str, str | None], ...] = (
        ("activities", "activity"),
        ("needs", "need"),
        ("thoughts", "thought"),
        ("emotions", None),
        ("pain_points", "pain"),
        ("opportunities", "opportunity"),
        ("backstage", "backstage"),
        ("content", "content"),
    )
    for lane, text_key in lanes:
        out.append(f"  {lane}:")
        if text_key is None:  # emotions: a curve per persona, -2 (very negative) to 2
            for i, p in enumerate(_PERSONAS):
                cells = {s.id: _EMOTION[_KIND[s.id]][i] for s in t.stages}
                out.append(f"    {p['id']}: {_y(cells)}")
            continue
        for s in t.stages:
            out.append(f"    {s.id}: {_y([_TEXT[text_key][_KIND[s.id]][lang]])}")
    return "\n".join(out) + "\n"
