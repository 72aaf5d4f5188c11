"""Display labels in the journey's language: sheet names, column headings, map lanes,
touchpoints and channels. The one source of these words for exports, the CLI and the web.

One table per kind of word, each entry ``(English, Swedish, Danish)``. A column no table names
gets its own name with spaces (``median_days`` → ``Median days``); a stage's label comes from
the journey file (:meth:`Journey.stage_label <kundresa.model.journey.Journey.stage_label>`),
not from here. A touchpoint's label is its ``label:`` in the journey file, else its id
(:func:`touchpoint_label`); a channel's is the journey channel's ``label:``, else Google
Analytics 4's name of its default channel group (:data:`CHANNEL_LABELS`), else its id
(:func:`channel_label`).

Examples
--------
>>> heading("reached", "sv"), heading("conversion_from_previous", "da")
('Nått', 'Konvertering fra forrige')
>>> heading("markov_share", "en"), heading("some_new_column", "sv")
('Markov: share', 'Some new column')
>>> word("yes", "da")
'ja'
>>> channel_label(None, "paid_search", "sv"), channel_label(None, "my_channel", "en")
('Betald sökning', 'my_channel')
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kundresa.model.journey import Journey

__all__ = [
    "CHANNEL_LABELS",
    "HEADINGS",
    "LANE_LABELS",
    "MODEL_LABELS",
    "SHEETS",
    "STAGE_NUMBERS",
    "TITLES",
    "TITLE_VALUES",
    "VALUE_WORDS",
    "WORDS",
    "channel_label",
    "heading",
    "lane_label",
    "title",
    "touchpoint_label",
    "value_label",
    "word",
]

_LANGS = ("en", "sv", "da")

#: A stage's numbers, the one vocabulary of the web pages, the map sheet and the workbook:
#: customers who reached the stage, who entered it (visited it, in any order), who were lost
#: on the way to the next stage.
STAGE_NUMBERS: dict[str, tuple[str, str, str]] = {
    "reached": ("Reached", "Nått", "Nået"),
    "entered": ("Entered", "Besökt", "Besøgt"),
    "dropped": ("Lost", "Tappade", "Tabt"),
    "lost": ("Lost", "Tappade", "Tabt"),
}

#: Column headings by column name.
HEADINGS: dict[str, tuple[str, str, str]] = {
    "segment": ("Segment", "Segment", "Segment"),
    "stage": ("Stage", "Fas", "Fase"),
    "label": ("Label", "Namn", "Navn"),
    **{k: v for k, v in STAGE_NUMBERS.items() if k in ("reached", "entered")},
    "conversion_from_previous": (
        "Conversion from previous",
        "Konvertering från föregående",
        "Konvertering fra forrige",
    ),
    "conversion_from_start": (
        "Conversion from start",
        "Konvertering från start",
        "Konvertering fra start",
    ),
    "dropped": STAGE_NUMBERS["dropped"],
    "median_days_from_previous": (
        "Median days from previous",
        "Median dagar från föregående",
        "Median dage fra forrige",
    ),
    "conversion_change": (
        "Conversion change",
        "Förändring i konvertering",
        "Ændring i konvertering",
    ),
    "touchpoint": ("Touchpoint", "Beröringspunkt", "Kontaktpunkt"),
    "channel": ("Channel", "Kanal", "Kanal"),
    "channel_label": ("Channel name", "Kanalnamn", "Kanalnavn"),
    "stage_label": ("Stage name", "Fasnamn", "Fasenavn"),
    "customers": ("Customers", "Kunder", "Kunder"),
    "events": ("Events", "Händelser", "Hændelser"),
    "from_stage": ("From stage", "Från fas", "Fra fase"),
    "to_stage": ("To stage", "Till fas", "Til fase"),
    "from_label": ("From", "Från", "Fra"),
    "to_label": ("To", "Till", "Til"),
    "count": ("Count", "Antal", "Antal"),
    "probability": ("Probability", "Sannolikhet", "Sandsynlighed"),
    "direction": ("Direction", "Riktning", "Retning"),
    "median_seconds": ("Median time", "Mediantid", "Mediantid"),
    "cohort": ("Cohort", "Kohort", "Kohorte"),
    "cohort_size": ("Cohort size", "Kohortstorlek", "Kohortestørrelse"),
    "kind": ("Kind", "Typ", "Type"),
    "from": ("From", "Från", "Fra"),
    "to": ("To", "Till", "Til"),
    "entered_from": ("Entered from", "Besökt från", "Besøgt fra"),
    "lost": STAGE_NUMBERS["lost"],
    "conversion": ("Conversion", "Konvertering", "Konvertering"),
    "kpi_target": ("KPI target", "KPI-mål", "KPI-mål"),
    "kpi_gap": ("Gap to KPI", "Avstånd till KPI", "Afstand til KPI"),
    "previous_entered_from": (
        "Previous: entered from",
        "Föregående: besökt från",
        "Forrige: besøgt fra",
    ),
    "previous_reached": ("Previous: reached", "Föregående: nått", "Forrige: nået"),
    "previous_conversion": (
        "Previous: conversion",
        "Föregående: konvertering",
        "Forrige: konvertering",
    ),
    "previous_lost": ("Previous: lost", "Föregående: tappade", "Forrige: tabt"),
    "change": ("Change", "Förändring", "Ændring"),
    "z": ("z", "z", "z"),
    "p_value": ("p-value", "p-värde", "p-værdi"),
    "significant": ("Significant", "Signifikant", "Signifikant"),
    "rank_lost": ("Rank: lost", "Rang: tappade", "Rang: tabt"),
    "rank_kpi": ("Rank: KPI", "Rang: KPI", "Rang: KPI"),
    "rank_change": ("Rank: change", "Rang: förändring", "Rang: ændring"),
    "metric": ("Metric", "Mått", "Mål"),
    "target": ("Target", "Mål", "Mål"),
    "actual": ("Actual", "Utfall", "Faktisk"),
    "met": ("Met", "Nått", "Nået"),
    "gap": ("Gap", "Avstånd", "Afstand"),
    "relative_gap": ("Relative gap", "Relativt avstånd", "Relativ afstand"),
    "conversions": ("Conversions", "Konverteringar", "Konverteringer"),
    "value": ("Value", "Värde", "Værdi"),
    "share": ("Share", "Andel", "Andel"),
    "measure": ("Measure", "Mått", "Mål"),
    "total": ("Total", "Totalt", "I alt"),
    "share_of_customers": ("Share of customers", "Andel av kunderna", "Andel af kunderne"),
    "visits": ("Visits", "Besök", "Besøg"),
    "left": ("Left", "Lämnade", "Forlod"),
    "open": ("Still in", "Kvar", "Stadig i"),
    "median_days": ("Median days", "Median dagar", "Median dage"),
    "mean_days": ("Mean days", "Medel dagar", "Gennemsnit dage"),
}

#: Attribution models, as ``attribution_models`` names its columns (``markov_share``).
MODEL_LABELS: dict[str, tuple[str, str, str]] = {
    "first": ("First touch", "Första kontakt", "Første kontakt"),
    "last": ("Last touch", "Sista kontakt", "Sidste kontakt"),
    "last_non_direct": ("Last non-direct", "Sista icke-direkta", "Sidste ikke-direkte"),
    "linear": ("Linear", "Linjär", "Lineær"),
    "time_decay": ("Time decay", "Tidsavtagande", "Tidsaftagende"),
    "position": ("Position-based", "Positionsbaserad", "Positionsbaseret"),
    "markov": ("Markov", "Markov", "Markov"),
    "shapley": ("Shapley", "Shapley", "Shapley"),
}

#: Sheet names and section titles (Excel allows 31 characters).
SHEETS: dict[str, tuple[str, str, str]] = {
    "stages": ("Stage funnel", "Fastratt", "Fasetragt"),
    "touchpoints": ("Touchpoints", "Beröringspunkter", "Kontaktpunkter"),
    "transitions": ("Transitions", "Övergångar", "Overgange"),
    "retention_matrix": ("Retention", "Återkomst", "Fastholdelse"),
    "bottlenecks": ("Bottlenecks", "Flaskhalsar", "Flaskehalse"),
    "kpis": ("KPIs", "KPI:er", "KPI'er"),
    "attribution_models": ("Attribution", "Attribuering", "Attribution"),
    "journeys": ("Non-linear journeys", "Icke-linjära resor", "Ikke-lineære rejser"),
    "time_in_stage": ("Time in stage", "Tid i fas", "Tid i fase"),
    "map": ("Journey map", "Kundresekarta", "Kunderejsekort"),
}

#: Titles of the registry's analyses (``kundresa.analyses``) by analysis name, and of the
#: titles some analyses choose between (``funnel_customers_dropped``, ``customer_visits``...),
#: as :meth:`str.format` templates with the analysis' parameters and ``journey`` (its name).
#: The CLI prints them over its tables in the journey's language (``--lang``).
TITLES: dict[str, tuple[str, str, str]] = {
    "stages": ("{journey}: stage funnel", "{journey}: fastratt", "{journey}: fasetragt"),
    "funnel": (
        "Funnel ({order}, window {window})",
        "Tratt ({order}, fönster {window})",
        "Tragt ({order}, vindue {window})",
    ),
    "funnel_time": ("Time to convert", "Tid till konvertering", "Tid til konvertering"),
    "funnel_trend": (
        "Conversion by {period} of entry",
        "Konvertering per {period} för start i tratten",
        "Konvertering pr. {period} for start i tragten",
    ),
    "funnel_customers": (
        "Customers who reached step {step}",
        "Kunder som nådde steg {step}",
        "Kunder, der nåede trin {step}",
    ),
    "funnel_customers_dropped": (
        "Customers who dropped after step {step}",
        "Kunder som föll bort efter steg {step}",
        "Kunder, der faldt fra efter trin {step}",
    ),
    "transitions": (
        "{journey}: stage transitions",
        "{journey}: fasövergångar",
        "{journey}: faseovergange",
    ),
    "journeys": (
        "{journey}: non-linear journeys",
        "{journey}: icke-linjära resor",
        "{journey}: ikke-lineære rejser",
    ),
    "time_in_stage": ("Time in stage (days)", "Tid i fas (dagar)", "Tid i fase (dage)"),
    "customer_journeys": (
        "Customers (first {limit})",
        "Kunder (första {limit})",
        "Kunder (første {limit})",
    ),
    "customer": (
        "Stage visits of {customer_id}",
        "Fasbesök för {customer_id}",
        "Fasebesøg for {customer_id}",
    ),
    "customer_events": (
        "Events of {customer_id}",
        "Händelser för {customer_id}",
        "Hændelser for {customer_id}",
    ),
    "customer_now": ("Now", "Just nu", "Lige nu"),
    "customer_recommended": (
        "Recommended next",
        "Rekommenderat härnäst",
        "Anbefalet som det næste",
    ),
    "paths": ("Top paths ({level})", "Vanligaste vägar ({level})", "Hyppigste veje ({level})"),
    "path_links": (
        "Path links ({level})",
        "Länkar mellan steg i vägar ({level})",
        "Led i veje ({level})",
    ),
    "dfg": (
        "Directly-follows graph ({level})",
        "Direkt-följer-graf ({level})",
        "Direkte-følger-graf ({level})",
    ),
    "retention": (
        "Retention by {period} ({cohort} cohorts)",
        "Återkomst per {period} (kohorter efter {cohort})",
        "Fastholdelse pr. {period} (kohorter efter {cohort})",
    ),
    "repeat_purchase": ("Repeat purchase rate", "Återköpsandel", "Genkøbsandel"),
    "lifecycle": ("Lifecycle by {period}", "Livscykel per {period}", "Livscyklus pr. {period}"),
    "bottlenecks": ("{journey}: bottlenecks", "{journey}: flaskhalsar", "{journey}: flaskehalse"),
    "kpis": ("{journey}: KPIs", "{journey}: KPI:er", "{journey}: KPI'er"),
    "compare": (
        "Compare by {by}: a = {a}, b = {b}",
        "Jämför efter {by}: a = {a}, b = {b}",
        "Sammenlign efter {by}: a = {a}, b = {b}",
    ),
    "correlation": (
        "What goes with reaching {target}",
        "Vad som hänger ihop med att nå {target}",
        "Hvad der hænger sammen med at nå {target}",
    ),
    "attribution": ("Attribution ({model})", "Attribuering ({model})", "Attribution ({model})"),
    "attribution_models": (
        "Attribution by model",
        "Attribuering per modell",
        "Attribution pr. model",
    ),
    "attribution_conversions": (
        "Conversions credited, by model",
        "Tillskrivna konverteringar, per modell",
        "Tilskrevne konverteringer, pr. model",
    ),
    "attribution_value": (
        "Value credited, by model",
        "Tillskrivet värde, per modell",
        "Tilskrevet værdi, pr. model",
    ),
    "attribution_share": (
        "Share of the conversions, by model",
        "Andel av konverteringarna, per modell",
        "Andel af konverteringerne, pr. model",
    ),
    "attribution_transitions": (
        "Markov chain (order {order})",
        "Markovkedja (ordning {order})",
        "Markovkæde (orden {order})",
    ),
    "attribution_removal": ("Removal effects", "Borttagningseffekter", "Fjernelseseffekter"),
    "attribution_paths": ("Paths", "Vägar", "Veje"),
    "stage_attribution": (
        "Stage attribution (Markov, exact removal effects)",
        "Fasattribuering (Markov, exakta borttagningseffekter)",
        "Faseattribution (Markov, eksakte fjernelseseffekter)",
    ),
    "touchpoints": ("Touchpoints", "Beröringspunkter", "Kontaktpunkter"),
    "surveys": ("Surveys", "Enkäter", "Undersøgelser"),
    "predict": (
        "Next stage within the horizon: model against baseline",
        "Nästa fas inom horisonten: modell mot baslinje",
        "Næste fase inden for horisonten: model mod basislinje",
    ),
}

#: Parameter values a title names, in words: periods and retention cohorts.
TITLE_VALUES: dict[str, dict[str, tuple[str, str, str]]] = {
    "period": {
        "day": ("day", "dag", "dag"),
        "week": ("week", "vecka", "uge"),
        "month": ("month", "månad", "måned"),
    },
    "cohort": {
        "first_event": ("first event", "första händelse", "første hændelse"),
        "first_purchase": ("first purchase", "första köp", "første køb"),
    },
}


def title(key: str, lang: str | None, **fields: object) -> str:
    """The title :data:`TITLES` has for ``key`` in ``lang``, filled with ``fields``; a field
    :data:`TITLE_VALUES` names is written as its word (``week`` → ``vecka``).

    >>> title("funnel_trend", "sv", period="week")
    'Konvertering per vecka för start i tratten'
    >>> title("stages", "da", journey="Webshop")
    'Webshop: fasetragt'
    """
    shown = {
        k: _pick(TITLE_VALUES[k][v], lang)
        if k in TITLE_VALUES and isinstance(v, str) and v in TITLE_VALUES[k]
        else v
        for k, v in fields.items()
    }
    return _pick(TITLES[key], lang).format(**shown)


#: The rows of the journey map (the lanes of :data:`kundresa.model.journey.LANES` and more).
LANE_LABELS: dict[str, tuple[str, str, str]] = {
    "persona": ("Persona", "Persona", "Persona"),
    "numbers": ("Numbers", "Siffror", "Tal"),
    "activities": (
        "Activities and situations",
        "Aktiviteter och situationer",
        "Aktiviteter og situationer",
    ),
    "needs": ("Needs", "Behov", "Behov"),
    "challenges": ("Challenges", "Utmaningar", "Udfordringer"),
    "thoughts": ("Thoughts", "Tankar", "Tanker"),
    "emotions": ("Emotions", "Känslor", "Følelser"),
    "touchpoints": ("Touchpoints", "Beröringspunkter", "Kontaktpunkter"),
    "channels": ("Channels", "Kanaler", "Kanaler"),
    "pain_points": ("Pain points", "Smärtpunkter", "Smertepunkter"),
    "opportunities": ("Opportunities", "Möjligheter", "Muligheder"),
    "backstage": ("Back-stage", "Bakom kulisserna", "Bag scenen"),
    "content": ("Content", "Innehåll", "Indhold"),
    "goals": ("Goals", "Mål", "Mål"),
    "kpis": ("KPIs", "KPI:er", "KPI'er"),
}

#: Google Analytics 4's default channel groups (Analytics Help, "[GA4] Default channel
#: group", answer 9756891) by the ids :mod:`kundresa.ingest.channels` gives them; the English
#: names are GA4's own (:data:`kundresa.ingest.channels.GA4_NAMES`).
CHANNEL_LABELS: dict[str, tuple[str, str, str]] = {
    "direct": ("Direct", "Direkt", "Direkte"),
    "cross_network": ("Cross-network", "Flera nätverk", "Flere netværk"),
    "paid_shopping": ("Paid Shopping", "Betald shopping", "Betalt shopping"),
    "paid_search": ("Paid Search", "Betald sökning", "Betalt søgning"),
    "paid_social": ("Paid Social", "Betalda sociala medier", "Betalte sociale medier"),
    "paid_video": ("Paid Video", "Betald video", "Betalt video"),
    "display": ("Display", "Display", "Display"),
    "paid_other": ("Paid Other", "Annat betalt", "Andet betalt"),
    "organic_shopping": ("Organic Shopping", "Organisk shopping", "Organisk shopping"),
    "organic_social": ("Organic Social", "Organiska sociala medier", "Organiske sociale medier"),
    "organic_video": ("Organic Video", "Organisk video", "Organisk video"),
    "organic_search": ("Organic Search", "Organisk sökning", "Organisk søgning"),
    "referral": ("Referral", "Hänvisning", "Henvisning"),
    "email": ("Email", "E-post", "E-mail"),
    "affiliates": ("Affiliates", "Affiliates", "Affiliates"),
    "audio": ("Audio", "Ljud", "Lyd"),
    "sms": ("SMS", "Sms", "SMS"),
    "mobile_push_notifications": (
        "Mobile Push Notifications",
        "Pushnotiser i mobilen",
        "Push-notifikationer på mobilen",
    ),
    "unassigned": ("Unassigned", "Ej tilldelad", "Ikke tildelt"),
}

#: Words that are values of a result column, by column: the display word of each value (the
#: result keeps the value; exports and pages show the word). A transition's ``direction``
#: and a KPI's and a correlation's; the non-linear journeys' ``measure``; a bottleneck's
#: and a correlation's ``kind``; the path and
#: transition ends ``(start)`` and ``(end)`` where a label stands.
VALUE_WORDS: dict[str, dict[str, tuple[str, str, str]]] = {
    "direction": {
        "forward": ("forward", "framåt", "fremad"),
        "backward": ("backward", "bakåt", "tilbage"),
        "start": ("start", "start", "start"),
        "end": ("end", "slut", "slut"),
        "at_least": ("at least", "minst", "mindst"),
        "at_most": ("at most", "högst", "højst"),
        "more likely": ("more likely", "mer sannolikt", "mere sandsynligt"),
        "less likely": ("less likely", "mindre sannolikt", "mindre sandsynligt"),
    },
    "measure": {
        "customers": ("Customers", "Kunder", "Kunder"),
        "stage_changes": ("Stage changes", "Fasbyten", "Faseskift"),
        "forward_moves": ("Forward moves", "Steg framåt", "Skridt fremad"),
        "skips": ("Skipped stages", "Överhoppade faser", "Oversprungne faser"),
        "backward_moves": ("Backward moves", "Steg bakåt", "Skridt tilbage"),
        "loops": ("Loops", "Slingor", "Sløjfer"),
        "repeat_cycles": ("Repeat cycles", "Nya varv", "Nye runder"),
    },
    "kind": {
        "stage": ("stage", "fas", "fase"),
        "step": ("funnel step", "trattsteg", "tragttrin"),
        "property": ("property", "egenskap", "egenskab"),
        "event": ("event", "händelse", "hændelse"),
    },
    "label": {
        "(start)": ("(start)", "(start)", "(start)"),
        "(end)": ("(end)", "(slut)", "(slut)"),
        # the touchpoints' last row: events that fit no touchpoint
        "(none)": ("(none)", "(ingen)", "(ingen)"),
    },
}
for _column in ("from_label", "to_label", "from_stage", "to_stage", "stage", "touchpoint"):
    VALUE_WORDS[_column] = VALUE_WORDS["label"]

#: Other words.
WORDS: dict[str, tuple[str, str, str]] = {
    "yes": ("yes", "ja", "ja"),
    "no": ("no", "nej", "nej"),
    "lane": ("Lane", "Rad", "Række"),
    "report": ("Journey report", "Kundresorapport", "Kunderejserapport"),
    "period": ("Period", "Period", "Periode"),
    "all_time": ("all events", "alla händelser", "alle hændelser"),
    "persona": ("Persona", "Persona", "Persona"),
    "all_personas": ("all customers", "alla kunder", "alle kunder"),
    "made": ("Made by Kundresa", "Gjord med Kundresa", "Lavet med Kundresa"),
    "no_rows": ("No rows.", "Inga rader.", "Ingen rækker."),
    "not_available": ("Not available", "Inte tillgänglig", "Ikke tilgængelig"),
    "at_least": ("at least", "minst", "mindst"),
    "at_most": ("at most", "högst", "højst"),
    "reached_chart": ("Reached per stage", "Nådde per fas", "Nåede pr. fase"),
    "month": ("Month", "Månad", "Måned"),
    "none": ("none", "inga", "ingen"),
    "never": ("never", "aldrig", "aldrig"),
    "kpis_missed": ("KPIs missed", "Missade KPI:er", "Missede KPI'er"),
    "touchpoints_without_events": (
        "Touchpoints without events",
        "Beröringspunkter utan händelser",
        "Kontaktpunkter uden hændelser",
    ),
    "lanes_untouched": ("Lanes untouched since", "Rader orörda sedan", "Rækker uændrede siden"),
    "lanes_changed": ("Lanes changed", "Ändrade rader", "Ændrede rækker"),
    "lanes_last_changed": (
        "Lanes last changed (journey history)",
        "Rader senast ändrade (kundresans historik)",
        "Rækker senest ændret (kunderejsens historik)",
    ),
    "next_review": ("Next review by", "Nästa granskning senast", "Næste gennemgang senest"),
}


def _pick(entry: tuple[str, str, str], lang: str | None) -> str:
    return entry[_LANGS.index(lang)] if lang in _LANGS else entry[0]


def word(key: str, lang: str | None) -> str:
    """A word of :data:`WORDS`, :data:`SHEETS` or :data:`LANE_LABELS` in ``lang``
    (``KeyError`` for a key none has)."""
    for table in (WORDS, SHEETS, LANE_LABELS):
        if key in table:
            return _pick(table[key], lang)
    raise KeyError(key)


def heading(column: str, lang: str | None) -> str:
    """The heading of a result column in ``lang`` (``sv``, ``da`` or ``en``).

    ``attribution_models`` columns (``<model>_<measure>``) read ``Markov: share``; a column
    no table names gets its name with spaces, first letter capital.
    """
    if column in HEADINGS:
        return _pick(HEADINGS[column], lang)
    for model in sorted(MODEL_LABELS, key=len, reverse=True):
        if column.startswith(model + "_"):
            rest = column[len(model) + 1 :]
            if rest in HEADINGS:
                return f"{_pick(MODEL_LABELS[model], lang)}: {_pick(HEADINGS[rest], lang).lower()}"
    text = column.replace("_", " ")
    return text[:1].upper() + text[1:]


def value_label(column: str, value: object, lang: str | None) -> object:
    """How a value of a result column is shown in ``lang``: the word of :data:`VALUE_WORDS`
    for it, a KPI ``metric`` as its column's heading (``reached`` → ``Nått``), else the value
    itself (numbers, ids and labels unchanged).

    Examples
    --------
    >>> value_label("direction", "at_least", "sv"), value_label("to_label", "(end)", "sv")
    ('minst', '(slut)')
    >>> value_label("metric", "reached", "sv"), value_label("count", 3, "sv")
    ('Nått', 3)
    """
    if not isinstance(value, str):
        return value
    if column == "metric":
        return heading(value, lang)
    entry = VALUE_WORDS.get(column, {}).get(value)
    return value if entry is None else _pick(entry, lang)


def lane_label(lane: str, lang: str | None) -> str:
    """A map lane's name in ``lang`` (:data:`LANE_LABELS`; the lane with spaces if none)."""
    if lane in LANE_LABELS:
        return _pick(LANE_LABELS[lane], lang)
    return heading(lane, lang)


def touchpoint_label(journey: Journey | None, touchpoint: str, lang: str | None = None) -> str:
    """How a touchpoint is shown: its ``label:`` in the journey file in ``lang`` (the
    journey's language by default; :meth:`~kundresa.model.journey.Journey.touchpoint_label`),
    else its id.

    Examples
    --------
    >>> touchpoint_label(None, "ad_click")
    'ad_click'
    """
    if journey is None:
        return touchpoint
    return journey.touchpoint_label(touchpoint, lang)


def channel_label(journey: Journey | None, channel: str, lang: str | None = None) -> str:
    """How a channel is shown: the journey channel's ``label:`` in ``lang`` (the journey's
    language by default), else the name of GA4's default channel group with that id (see
    :data:`CHANNEL_LABELS`), else the id itself."""
    if journey is not None:
        own = journey.channel_label(channel, lang)
        if own:
            return own
        lang = lang or journey.language
    if channel in CHANNEL_LABELS:
        return _pick(CHANNEL_LABELS[channel], lang)
    return channel
