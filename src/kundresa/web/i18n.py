"""The web app's own words in Swedish, Danish and English.

Stage labels come from the journey file; everything else on a page is looked up here. A key
missing in one language falls back to English, then to the key itself.
"""

from __future__ import annotations

__all__ = ["LANGUAGES", "translate"]

LANGUAGES = ("sv", "da", "en")

# key: (en, sv, da)
_TEXT: dict[str, tuple[str, str, str]] = {
    "app": ("Kundresa", "Kundresa", "Kunderejse"),
    "map": ("Journey map", "Kundresekarta", "Kunderejsekort"),
    "funnel": ("Funnel", "Tratt", "Tragt"),
    "paths": ("Paths", "Vägar", "Veje"),
    "retention": ("Retention", "Återkomst", "Fastholdelse"),
    "bottlenecks": ("Bottlenecks", "Flaskhalsar", "Flaskehalse"),
    "compare": ("Compare", "Jämför", "Sammenlign"),
    "attribution": ("Attribution", "Attribution", "Attribution"),
    "customer": ("Customer", "Kund", "Kunde"),
    "editor": ("Editor", "Redigera", "Rediger"),
    "history": ("History", "Historik", "Historik"),
    "data": ("Data", "Data", "Data"),
    "persona": ("Persona", "Persona", "Persona"),
    "all_customers": ("All customers", "Alla kunder", "Alle kunder"),
    "since": ("From", "Från", "Fra"),
    "until": ("Until", "Till", "Til"),
    "apply": ("Apply", "Visa", "Vis"),
    "stage": ("Stage", "Fas", "Fase"),
    "label": ("Stage", "Fas", "Fase"),
    "event": ("Event", "Händelse", "Hændelse"),
    "from_label": ("From", "Från", "Fra"),
    "to_label": ("To", "Till", "Til"),
    "direction": ("Direction", "Riktning", "Retning"),
    "probability": ("Probability", "Sannolikhet", "Sandsynlighed"),
    "median_seconds": ("Median seconds", "Median sekunder", "Median sekunder"),
    "median_seconds_to_convert": ("Median seconds", "Median sekunder", "Median sekunder"),
    "path": ("Path", "Väg", "Vej"),
    "steps": ("Steps", "Steg", "Trin"),
    "session_gap": ("Split at pauses of", "Dela vid paus på", "Del ved pause på"),
    "whole_journey": ("whole journey", "hela resan", "hele rejsen"),
    "lost": ("Lost", "Tappade", "Tabt"),
    "reached": ("Reached", "Nått", "Nået"),
    "entered": ("Entered", "Besökt", "Besøgt"),
    "conversion": ("Conversion", "Konvertering", "Konvertering"),
    "conversion_from_previous": (
        "Conversion from previous",
        "Konv. från föregående",
        "Konv. fra forrige",
    ),
    "conversion_from_start": ("Conversion from start", "Konv. från start", "Konv. fra start"),
    "dropped": ("Lost", "Tappade", "Tabt"),
    "biggest_loss": (
        "Most customers lost here",
        "Flest kunder tappas här",
        "Flest kunder tabes her",
    ),
    "customers": ("Customers", "Kunder", "Kunder"),
    "events": ("Events", "Händelser", "Hændelser"),
    "touchpoint": ("Touchpoint", "Beröringspunkt", "Kontaktpunkt"),
    "channel": ("Channel", "Kanal", "Kanal"),
    "kpi": ("KPI", "KPI", "KPI"),
    "target": ("Target", "Mål", "Mål"),
    "actual": ("Actual", "Utfall", "Faktisk"),
    "circle": ("Draw as a circle", "Visa som cirkel", "Vis som cirkel"),
    "grid": ("Draw as a grid", "Visa som rutnät", "Vis som gitter"),
    "lane_persona": ("Persona", "Persona", "Persona"),
    "lane_activities": (
        "Activities and situations",
        "Aktiviteter och situationer",
        "Aktiviteter og situationer",
    ),
    "lane_needs": ("Needs", "Behov", "Behov"),
    "lane_challenges": ("Challenges", "Utmaningar", "Udfordringer"),
    "lane_thoughts": ("Thoughts", "Tankar", "Tanker"),
    "lane_emotions": ("Emotions", "Känslor", "Følelser"),
    "lane_touchpoints": ("Touchpoints", "Beröringspunkter", "Kontaktpunkter"),
    "tp_legend": ("customers · events", "kunder · händelser", "kunder · hændelser"),
    "lane_channels": ("Channels", "Kanaler", "Kanaler"),
    "lane_pain_points": ("Pain points", "Smärtpunkter", "Smertepunkter"),
    "lane_opportunities": ("Opportunities", "Möjligheter", "Muligheder"),
    "lane_backstage": ("Back-stage", "Bakom kulisserna", "Bag scenen"),
    "lane_content": ("Content", "Innehåll", "Indhold"),
    "lane_kpis": ("Goals and KPIs", "Mål och KPI:er", "Mål og KPI'er"),
    "lane_numbers": ("Numbers", "Siffror", "Tal"),
    "online": ("online", "online", "online"),
    "offline": ("offline", "offline", "offline"),
    "owned": ("owned", "ägd", "ejet"),
    "paid": ("paid", "köpt", "betalt"),
    "earned": ("earned", "förtjänad", "optjent"),
    "met": ("met", "nått", "nået"),
    "missed": ("missed", "missat", "misset"),
    "stage_funnel": ("Stage funnel", "Fastratt", "Fasetragt"),
    "event_funnel": ("Event funnel", "Händelsetratt", "Hændelsestragt"),
    "steps_lines": ("Steps (one per line)", "Steg (ett per rad)", "Trin (et pr. linje)"),
    "window": ("Window", "Fönster", "Vindue"),
    "order": ("Order", "Ordning", "Rækkefølge"),
    "exclusions": (
        "Exclusions (X:a:b, one per line)",
        "Uteslut (X:a:b, en per rad)",
        "Udeluk (X:a:b, en pr. linje)",
    ),
    "breakdown": ("Breakdown", "Uppdelning", "Opdeling"),
    "none": ("none", "ingen", "ingen"),
    "step": ("Step", "Steg", "Trin"),
    "count": ("Count", "Antal", "Antal"),
    "median_time": (
        "Median time to convert",
        "Mediantid till konvertering",
        "Mediantid til konvertering",
    ),
    "time_to_convert": ("Time to convert", "Tid till konvertering", "Tid til konvertering"),
    "trend": ("Conversion trend", "Konverteringstrend", "Konverteringstrend"),
    "step_customers": ("Customers at step", "Kunder i steg", "Kunder i trin"),
    "click_step": (
        "Click a step to list its customers.",
        "Klicka på ett steg för att se dess kunder.",
        "Klik på et trin for at se dets kunder.",
    ),
    "level": ("Level", "Nivå", "Niveau"),
    "start_at": ("Paths from", "Vägar från", "Veje fra"),
    "end_at": ("Paths to", "Vägar till", "Veje til"),
    "any": ("any", "valfri", "vilkårlig"),
    "sankey": ("Paths", "Vägar", "Veje"),
    "dfg": ("Directly-follows graph", "Direkt-följer-graf", "Direkte-følger-graf"),
    "transitions": ("Transition matrix", "Övergångsmatris", "Overgangsmatrix"),
    "backward_note": (
        "Backward moves are highlighted.",
        "Bakåtsteg är markerade.",
        "Baglæns skridt er fremhævet.",
    ),
    "cohorts": ("Cohort retention", "Kohortåterkomst", "Kohortefastholdelse"),
    "lifecycle": ("Lifecycle", "Livscykel", "Livscyklus"),
    "period": ("Period", "Period", "Periode"),
    "cohort": ("Cohort", "Kohort", "Kohorte"),
    "returning": ("Returning", "Återkommande", "Tilbagevendende"),
    "ranked_bottlenecks": (
        "Bottlenecks, ranked",
        "Flaskhalsar, rangordnade",
        "Flaskehalse, rangeret",
    ),
    "kpi_status": ("KPI status", "KPI-status", "KPI-status"),
    "segments": ("Compare two segments", "Jämför två segment", "Sammenlign to segmenter"),
    "compare_by": ("Compare by", "Jämför efter", "Sammenlign efter"),
    "correlation": ("Correlation with", "Samband med", "Sammenhæng med"),
    "search_customer": ("Customer id", "Kund-id", "Kunde-id"),
    "search": ("Search", "Sök", "Søg"),
    "timeline": ("Timeline", "Tidslinje", "Tidslinje"),
    "stage_moves": ("Stage moves", "Fasbyten", "Faseskift"),
    "no_customer": (
        "No customer with this id.",
        "Ingen kund med detta id.",
        "Ingen kunde med dette id.",
    ),
    "validate": ("Validate", "Kontrollera", "Kontroller"),
    "save": ("Save", "Spara", "Gem"),
    "saved": (
        "Saved. The previous version is kept in history.",
        "Sparat. Den förra versionen finns i historiken.",
        "Gemt. Den forrige version ligger i historikken.",
    ),
    "valid": ("No problems.", "Inga problem.", "Ingen problemer."),
    "problems": ("Problems", "Problem", "Problemer"),
    "structured": ("Structured editor", "Formulär", "Formular"),
    "yaml_text": ("journey.yaml", "journey.yaml", "journey.yaml"),
    "stages": ("Stages", "Faser", "Faser"),
    "personas": ("Personas", "Personas", "Personaer"),
    "touchpoints": ("Touchpoints", "Beröringspunkter", "Kontaktpunkter"),
    "lanes": ("Lanes", "Rader", "Rækker"),
    "kpis": ("KPIs", "KPI:er", "KPI'er"),
    "versions": ("Versions", "Versioner", "Versioner"),
    "difference": ("Difference", "Skillnad", "Forskel"),
    "current": ("current", "aktuell", "aktuel"),
    "upload": ("Upload events", "Ladda upp händelser", "Upload hændelser"),
    "upload_help": (
        "CSV, Parquet or JSON Lines (optionally gzipped).",
        "CSV, Parquet eller JSON Lines (även gzip).",
        "CSV, Parquet eller JSON Lines (også gzip).",
    ),
    "ingests": ("Ingest history", "Inläsningar", "Indlæsninger"),
    "quarantine": ("Quarantined rows", "Rader i karantän", "Rækker i karantæne"),
    "reason": ("Reason", "Orsak", "Årsag"),
    "loaded": ("Loaded", "Inlästa", "Indlæst"),
    "not_available": (
        "Not available in this version of Kundresa.",
        "Inte tillgängligt i denna version av Kundresa.",
        "Ikke tilgængelig i denne version af Kundresa.",
    ),
    "error": ("Error", "Fel", "Fejl"),
    "sign_in": ("Sign in", "Logga in", "Log ind"),
    "token": ("Access token", "Åtkomsttoken", "Adgangstoken"),
    "wrong_token": ("Wrong token.", "Fel token.", "Forkert token."),
    "language": ("Language", "Språk", "Sprog"),
    "no_journey": (
        "This project has no journey file yet.",
        "Projektet har ingen journey.yaml ännu.",
        "Projektet har ingen journey.yaml endnu.",
    ),
    "emotion_curve": ("Emotion curve", "Känslokurva", "Følelseskurve"),
    "read_only": (
        "The warehouse is open read-only (another process holds it); uploads are off.",
        "Lagret är skrivskyddat (en annan process håller det); uppladdning är avstängd.",
        "Lageret er skrivebeskyttet (en anden proces holder det); upload er slået fra.",
    ),
    "model": ("Model", "Modell", "Model"),
    "stage_attribution": ("Stage attribution", "Attribution per fas", "Attribution pr. fase"),
    "share": ("Share", "Andel", "Andel"),
}
_INDEX = {"en": 0, "sv": 1, "da": 2}


def translate(key: str, lang: str) -> str:
    """The UI text for ``key`` in ``lang`` (English, then the key, when missing).

    Examples
    --------
    >>> translate("funnel", "sv"), translate("funnel", "da"), translate("funnel", "fi")
    ('Tratt', 'Tragt', 'Funnel')
    >>> translate("no_such_key", "sv")
    'no_such_key'
    """
    text = _TEXT.get(key)
    if text is None:
        return key
    return text[_INDEX.get(lang, 0)] or text[0]
