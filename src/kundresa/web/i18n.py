"""The web app's own words in Swedish, Danish and English.

Stage labels come from the journey file; the map's lanes, touchpoints and channels from
:mod:`kundresa.report.labels` (the words exports use too); everything else on a page is
looked up here. A key missing in one language falls back to English, then to the key itself.
"""

from __future__ import annotations

from kundresa.report.labels import (
    HEADINGS,
    LANE_LABELS,
    MODEL_LABELS,
    SHEETS,
    STAGE_NUMBERS,
    WORDS,
    lane_label,
)

__all__ = ["LANGUAGES", "translate"]

LANGUAGES = ("sv", "da", "en")

# The words a page shares with the exports' headings, sheets, lanes and models: one source
# (kundresa.report.labels), taken under the same keys.
_SHARED: dict[str, tuple[str, ...]] = {
    "HEADINGS": (
        "stage",
        "from_label",
        "to_label",
        "direction",
        "probability",
        "median_seconds",
        "conversion",
        "customers",
        "events",
        "touchpoint",
        "channel",
        "target",
        "actual",
        "count",
        "cohort",
        "share",
        "change",
        "cohort_size",
        "conversions",
        "from",
        "from_stage",
        "kind",
        "kpi_target",
        "metric",
        "p_value",
        "rank_change",
        "rank_kpi",
        "rank_lost",
        "significant",
        "to",
        "to_stage",
        "value",
    ),
    "MODEL_LABELS": tuple(MODEL_LABELS),  # every attribution model
    "LANE_LABELS": (
        "persona",
        "touchpoints",
        "kpis",
        "challenges",
        "channels",
        "goals",
        "needs",
    ),
    "SHEETS": (
        "map",
        "bottlenecks",
    ),
    "WORDS": ("period",),
}

# key: (en, sv, da)
_TEXT: dict[str, tuple[str, str, str]] = {
    **{k: HEADINGS[k] for k in _SHARED["HEADINGS"]},
    **{k: MODEL_LABELS[k] for k in _SHARED["MODEL_LABELS"]},
    **{k: LANE_LABELS[k] for k in _SHARED["LANE_LABELS"]},
    **{k: SHEETS[k] for k in _SHARED["SHEETS"]},
    **{k: WORDS[k] for k in _SHARED["WORDS"]},
    "app": ("Kundresa", "Kundresa", "Kunderejse"),
    "funnel": ("Funnel", "Tratt", "Tragt"),
    "paths": ("Paths", "Vägar", "Veje"),
    "retention": ("Retention", "Återkomst", "Fastholdelse"),
    "compare": ("Compare", "Jämför", "Sammenlign"),
    "attribution": ("Attribution", "Attribution", "Attribution"),
    "customer": ("Customer", "Kund", "Kunde"),
    "editor": ("Editor", "Redigera", "Rediger"),
    "history": ("History", "Historik", "Historik"),
    "data": ("Data", "Data", "Data"),
    "all_customers": ("All customers", "Alla kunder", "Alle kunder"),
    "since": ("From", "Från", "Fra"),
    "until": ("Until", "Till", "Til"),
    "apply": ("Apply", "Visa", "Vis"),
    "label": ("Stage", "Fas", "Fase"),
    "event": ("Event", "Händelse", "Hændelse"),
    "direction_label": ("Direction", "Riktning", "Retning"),
    # A duration column's values are written in the unit that reads best (42 s, 12 min,
    # 9.3 d): its heading names the quantity, "time", not a unit.
    "median_seconds_to_convert": ("Median time", "Mediantid", "Mediantid"),
    "path": ("Path", "Väg", "Vej"),
    "steps": ("Steps", "Steg", "Trin"),
    "session_gap": ("Split at pauses of", "Dela vid paus på", "Del ved pause på"),
    "whole_journey": ("whole journey", "hela resan", "hele rejsen"),
    **STAGE_NUMBERS,
    "conversion_from_previous": (
        "Conversion from previous",
        "Konv. från föregående",
        "Konv. fra forrige",
    ),
    "conversion_from_start": ("Conversion from start", "Konv. från start", "Konv. fra start"),
    "biggest_loss": (
        "Most customers lost here",
        "Flest kunder tappas här",
        "Flest kunder tabes her",
    ),
    "kpi": ("KPI", "KPI", "KPI"),
    "circle": ("Draw as a circle", "Visa som cirkel", "Vis som cirkel"),
    "download_map": ("Map for the wall (A3)", "Karta för väggen (A3)", "Kort til væggen (A3)"),
    "review_by": ("Review by", "Granska senast", "Gennemgå senest"),
    "overdue": ("overdue", "försenad", "forsinket"),
    "last_review": ("last reviewed", "senast granskad", "senest gennemgået"),
    "grid": ("Draw as a grid", "Visa som rutnät", "Vis som gitter"),
    "via": ("via", "via", "via"),
    "step_choices": (
        "Stages and touchpoints you can use as steps",
        "Faser och beröringspunkter att använda som steg",
        "Faser og kontaktpunkter, du kan bruge som trin",
    ),
    "time": ("Time", "Tid", "Tid"),
    "menu": ("Menu", "Meny", "Menu"),
    "pages": ("Pages", "Sidor", "Sider"),
    "empty_lanes": ("Nothing written yet", "Inget skrivet än", "Intet skrevet endnu"),
    "add_in_editor": ("add in the editor", "lägg till i redigeraren", "tilføj i editoren"),
    "tp_legend": ("customers · events", "kunder · händelser", "kunder · hændelser"),
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
    "median_time": (
        "Median time to convert",
        "Mediantid till konvertering",
        "Mediantid til konvertering",
    ),
    "time_to_convert": ("Time to convert", "Tid till konvertering", "Tid til konvertering"),
    "trend": ("Conversion trend", "Konverteringstrend", "Konverteringstrend"),
    "trend_n": (
        "Customers per period (n)",
        "Kunder per period (n)",
        "Kunder pr. periode (n)",
    ),
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
    # The unit a heading names for a column of percentage-point differences.
    "unit_pp": ("pp", "procentenheter", "procentpoint"),
    "complete": ("Complete", "Fullständig", "Fuldstændig"),
    "order_ordered": ("in order", "i ordning", "i rækkefølge"),
    "order_strict": ("strictly in order", "strikt i ordning", "strengt i rækkefølge"),
    "order_any": ("any order", "valfri ordning", "vilkårlig rækkefølge"),
    "period_day": ("day", "dag", "dag"),
    "period_week": ("week", "vecka", "uge"),
    "period_month": ("month", "månad", "måned"),
    "by_placeholder": (
        "persona, channel, device…",
        "persona, kanal, enhet…",
        "persona, kanal, enhed…",
    ),
    "cohort_first_event": ("first event", "första händelse", "første hændelse"),
    "cohort_first_purchase": ("first purchase", "första köp", "første køb"),
    "returning_any": ("any event", "valfri händelse", "enhver hændelse"),
    "returning_purchase": ("a purchase", "ett köp", "et køb"),
    "level_touchpoint": ("touchpoint", "beröringspunkt", "kontaktpunkt"),
    "level_stage": ("stage", "fas", "fase"),
    "level_event": ("event", "händelse", "hændelse"),
    "level_channel": ("channel", "kanal", "kanal"),
    "incomplete": ("Incomplete", "Ofullständig", "Ufuldstændig"),
    "incomplete_note": (
        "Dashed and grey: periods not yet over when the data ends, or whose customers have not"
        " yet had the whole window to convert; their numbers will still grow.",
        "Streckat och grått: perioder som inte är slut när data slutar, eller vars kunder ännu"
        " inte haft hela fönstret på sig att konvertera; deras siffror kommer att växa.",
        "Stiplet og gråt: perioder, der ikke er slut, når data slutter, eller hvis kunder endnu"
        " ikke har haft hele vinduet til at konvertere; deres tal vil stadig vokse.",
    ),
    "sankey_note": (
        "Where labels would overlap, the smaller step's label is left out: point at a band or"
        " see the table for every name.",
        "Där etiketter skulle överlappa visas bara det större stegets etikett: peka på ett band"
        " eller se tabellen för alla namn.",
        "Hvor etiketter ville overlappe, vises kun det største trins etiket: peg på et bånd"
        " eller se tabellen for alle navne.",
    ),
    "cohorts": ("Cohort retention", "Kohortåterkomst", "Kohortefastholdelse"),
    "lifecycle": ("Lifecycle", "Livscykel", "Livscyklus"),
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
    "live_state": ("Now", "Just nu", "Lige nu"),
    "next_stage": ("Next stage", "Nästa fas", "Næste fase"),
    "within": ("within", "inom", "inden for"),
    "last_touchpoints": (
        "Last touchpoints",
        "Senaste beröringspunkter",
        "Seneste berøringspunkter",
    ),
    "recommended": ("Recommended next", "Rekommenderat härnäst", "Anbefalet som det næste"),
    "refresh": ("Refresh numbers", "Uppdatera siffrorna", "Opdater tallene"),
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
    "journey_changed": (
        "Not saved: journey.yaml has changed since this page was opened (in another tab or "
        "outside the app). Your text is kept in the editor below. Compare it with the current "
        "file; saving again replaces the file with your text.",
        "Inte sparat: journey.yaml har ändrats sedan sidan öppnades (i en annan flik eller "
        "utanför appen). Din text finns kvar i redigeraren nedan. Jämför den med den aktuella "
        "filen; sparar du igen ersätts filen med din text.",
        "Ikke gemt: journey.yaml er blevet ændret, siden siden blev åbnet (i en anden fane "
        "eller uden for appen). Din tekst er bevaret i editoren herunder. Sammenlign den med "
        "den aktuelle fil; gemmer du igen, erstattes filen med din tekst.",
    ),
    "changes_from_current": (
        "Difference from the current file to your text",
        "Skillnad från den aktuella filen till din text",
        "Forskel fra den aktuelle fil til din tekst",
    ),
    "current_file": (
        "The current journey.yaml",
        "Den aktuella journey.yaml",
        "Den aktuelle journey.yaml",
    ),
    "valid": ("No problems.", "Inga problem.", "Ingen problemer."),
    "problems": ("Problems", "Problem", "Problemer"),
    "structured": ("Structured editor", "Formulär", "Formular"),
    "yaml_text": ("journey.yaml", "journey.yaml", "journey.yaml"),
    "stages": ("Stages", "Faser", "Faser"),
    "personas": ("Personas", "Personas", "Personaer"),
    "lanes": ("Lanes", "Rader", "Rækker"),
    "versions": ("Versions", "Versioner", "Versioner"),
    "difference": ("Difference", "Skillnad", "Forskel"),
    "current": ("current", "aktuell", "aktuel"),
    "upload": ("Upload events", "Ladda upp händelser", "Upload hændelser"),
    "source_format": ("Source", "Källa", "Kilde"),
    "survey_event": (
        "Event name (survey answers)",
        "Händelsenamn (enkätsvar)",
        "Hændelsesnavn (spørgeskemasvar)",
    ),
    "date_order": ("Date order", "Datumordning", "Datorækkefølge"),
    "date_order_auto": ("from the file", "från filen", "fra filen"),
    "date_order_dmy": ("day first (31/05)", "dag först (31/05)", "dag først (31/05)"),
    "date_order_mdy": ("month first (05/31)", "månad först (05/31)", "måned først (05/31)"),
    "warning": ("Warning", "Varning", "Advarsel"),
    "map_columns": (
        "The columns were not recognised; choose them",
        "Kolumnerna kändes inte igen; välj dem",
        "Kolonnerne blev ikke genkendt; vælg dem",
    ),
    "customer_col": ("Customer column", "Kundkolumn", "Kundekolonne"),
    "time_col": ("Time column", "Tidskolumn", "Tidskolonne"),
    "event_col": ("Event column", "Händelsekolumn", "Hændelseskolonne"),
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
    "sign_out": ("Sign out", "Logga ut", "Log ud"),
    "cancel": ("Cancel", "Avbryt", "Annuller"),
    "job_queued": ("waiting", "väntar", "venter"),
    "job_running": ("loading", "läser in", "indlæser"),
    "job_done": ("done", "klar", "færdig"),
    "job_failed": ("failed", "misslyckades", "mislykkedes"),
    "job_cancelled": ("cancelled", "avbruten", "annulleret"),
    "token": ("Access token", "Åtkomsttoken", "Adgangstoken"),
    "wrong_token": ("Wrong token.", "Fel token.", "Forkert token."),
    "language": ("Language", "Språk", "Sprog"),
    "no_journey": (
        "This project has no journey file yet.",
        "Projektet har ingen journey.yaml ännu.",
        "Projektet har ingen journey.yaml endnu.",
    ),
    "emotion_curve": ("Emotion curve", "Känslokurva", "Følelseskurve"),
    "model": ("Model", "Modell", "Model"),
    "stage_attribution": ("Stage attribution", "Attribution per fas", "Attribution pr. fase"),
    "all_data": ("all data", "alla data", "alle data"),
    "compared_with": ("compared with", "jämfört med", "sammenlignet med"),
    "last_30_days": (
        "the last 30 days of data; pick dates to choose another period",
        "de sista 30 dagarna med data; välj datum för en annan period",
        "de sidste 30 dage med data; vælg datoer for en anden periode",
    ),
    "kpi_met": ("Status", "Status", "Status"),
    "median_days_in_stage": ("Median days in stage", "Mediandagar i fasen", "Mediandage i fasen"),
    # Column headings of the tables (the API's field names).
    "active": ("Active", "Aktiva", "Aktive"),
    "bin_start": ("From", "Från", "Fra"),
    "bin_end": ("To", "Till", "Til"),
    "ci_low": ("CI low", "KI låg", "KI lav"),
    "ci_high": ("CI high", "KI hög", "KI høj"),
    "converted": ("Converted", "Konverterade", "Konverteret"),
    "customer_id": ("Customer", "Kund", "Kunde"),
    "cycle": ("Cycle", "Varv", "Omgang"),
    "cycles": ("Cycles", "Varv", "Omgange"),
    "description": ("Description", "Beskrivning", "Beskrivelse"),
    "difference_ci_low": ("Difference CI low", "Skillnad KI låg", "Forskel KI lav"),
    "difference_ci_high": ("Difference CI high", "Skillnad KI hög", "Forskel KI høj"),
    "dormant": ("Dormant", "Vilande", "Hvilende"),
    "duplicates": ("Duplicates", "Dubbletter", "Dubletter"),
    "entered_at": ("Entered at", "Kom in", "Kom ind"),
    "entered_from": ("Entered from", "Kom från", "Kom fra"),
    "failure_total": ("Not converted", "Ej konverterade", "Ikke konverteret"),
    "failure_with": ("Not converted, with", "Ej konverterade, med", "Ikke konverteret, med"),
    "finished": ("Finished", "Klar", "Færdig"),
    "gap": ("Gap", "Avvikelse", "Afvigelse"),
    "goal": ("Goal", "Mål", "Mål"),
    "id": ("Id", "Id", "Id"),
    "ingest": ("Ingest", "Inläsning", "Indlæsning"),
    "line": ("Line", "Rad", "Linje"),
    "record": ("Record", "Post", "Post"),
    "kpi_gap": ("KPI gap", "KPI-avvikelse", "KPI-afvigelse"),
    "last_event_at": ("Last event", "Senaste händelse", "Seneste hændelse"),
    "left_at": ("Left at", "Lämnade", "Forlod"),
    "loop": ("Loop", "Slinga", "Sløjfe"),
    "mean_seconds": ("Mean time", "Medeltid", "Middeltid"),
    "mean_seconds_to_convert": ("Mean time", "Medeltid", "Middeltid"),
    "median_days_from_previous": (
        "Median days from previous",
        "Mediandagar från föregående",
        "Mediandage fra forrige",
    ),
    "move": ("Move", "Steg", "Skridt"),
    "name": ("Name", "Namn", "Navn"),
    "new": ("New", "Nya", "Nye"),
    "odds_ratio": ("Odds ratio", "Oddskvot", "Oddsratio"),
    "options": ("Options", "Val", "Valg"),
    "ownership": ("Ownership", "Ägande", "Ejerskab"),
    "previous_conversion": (
        "Conversion, previous period",
        "Konvertering, förra perioden",
        "Konvertering, forrige periode",
    ),
    "previous_entered_from": (
        "Entered from, previous period",
        "Kom från, förra perioden",
        "Kom fra, forrige periode",
    ),
    "previous_lost": ("Lost, previous period", "Tappade, förra perioden", "Tabt, forrige periode"),
    "previous_reached": (
        "Reached, previous period",
        "Nått, förra perioden",
        "Nået, forrige periode",
    ),
    "previous_stage": ("Previous stage", "Föregående fas", "Forrige fase"),
    "progressed": ("Progressed", "Gick vidare", "Gik videre"),
    "progressed_with": ("Progressed, with", "Gick vidare, med", "Gik videre, med"),
    "progression_rate_with": (
        "Progression rate, with",
        "Andel vidare, med",
        "Andel videre, med",
    ),
    "properties": ("Properties", "Egenskaper", "Egenskaber"),
    "purchasers": ("Purchasers", "Köpare", "Købere"),
    "purchases": ("Purchases", "Köp", "Køb"),
    "purchases_per_purchaser": ("Purchases per purchaser", "Köp per köpare", "Køb pr. køber"),
    "quarantined": ("Quarantined", "I karantän", "I karantæne"),
    "rate": ("Rate", "Andel", "Andel"),
    "relative_gap": ("Relative gap", "Relativ avvikelse", "Relativ afvigelse"),
    "removal_effect": ("Removal effect", "Borttagningseffekt", "Fjernelseseffekt"),
    "repeat_purchasers": ("Repeat purchasers", "Återköpare", "Genkøbere"),
    "repeat_rate": ("Repeat rate", "Återköpsandel", "Genkøbsandel"),
    "resurrecting": ("Resurrecting", "Återvända", "Genvundne"),
    "rows_read": ("Rows read", "Lästa rader", "Læste rækker"),
    "seconds": ("Time", "Tid", "Tid"),
    "session_id": ("Session", "Session", "Session"),
    "source": ("Source", "Från", "Fra"),
    "source_step": ("Source step", "Från steg", "Fra trin"),
    "sources": ("Files", "Filer", "Filer"),
    "stage_index": ("Stage number", "Fasnummer", "Fasenummer"),
    "stalled_with": ("Stalled, with", "Stannade, med", "Gik i stå, med"),
    "started": ("Started", "Startad", "Startet"),
    "success_total": ("Converted", "Konverterade", "Konverteret"),
    "success_with": ("Converted, with", "Konverterade, med", "Konverteret, med"),
    "target_step": ("Target step", "Till steg", "Til trin"),
    "timestamp": ("Time", "Tid", "Tid"),
    "visit": ("Visit", "Besök", "Besøg"),
}
_INDEX = {"en": 0, "sv": 1, "da": 2}
_MODELS = (
    "last_non_direct",
    "time_decay",
    "first",
    "last",
    "linear",
    "position",
    "markov",
    "shapley",
)

#: Words of the forms, history restore, upload outcomes, empty projects and accessibility.
_TEXT.update(
    {
        "form_id": ("ID", "ID", "ID"),
        "form_label": ("Label", "Etikett", "Etiket"),
        "form_kpi_hint": ("metric >= target", "mått >= mål", "mål >= målværdi"),
        "form_match_property": ("Match property", "Matcha egenskap", "Match egenskab"),
        "form_equals": ("Equals", "Är lika med", "Er lig med"),
        "form_events": ("Events (a, b)", "Händelser (a, b)", "Hændelser (a, b)"),
        "form_where": ("Where (YAML)", "Villkor (YAML)", "Betingelse (YAML)"),
        "form_nth": ("Nth time", "N:te gången", "N'te gang"),
        "skip_to_content": ("Skip to content", "Hoppa till innehållet", "Spring til indholdet"),
        "pages": ("Pages", "Sidor", "Sider"),
        "delete": ("Delete", "Ta bort", "Slet"),
        "customers_at_step": ("Customers at step", "Kunder vid steg", "Kunder ved trin"),
        "form_problem": (
            "Something in the form needs fixing; the page shows what it could.",
            "Något i formuläret behöver rättas; sidan visar det den kan.",
            "Noget i formularen skal rettes; siden viser det, den kan.",
        ),
        "no_events_data": (
            "Upload a file of events below (CSV, TSV, JSON Lines, Parquet, a GA4 or Segment "
            "export; a zip of them).",
            "Ladda upp en fil med händelser nedan (CSV, TSV, JSON Lines, Parquet, en GA4- "
            "eller Segment-export; en zip med sådana).",
            "Upload en fil med hændelser nedenfor (CSV, TSV, JSON Lines, Parquet, en GA4- "
            "eller Segment-eksport; en zip med dem).",
        ),
        "upload_all_loaded": ("All rows loaded.", "Alla rader inlästa.", "Alle rækker indlæst."),
        "upload_all_loaded_help": (
            "The pages now count them.",
            "Sidorna räknar nu med dem.",
            "Siderne tæller dem nu med.",
        ),
        "upload_identities": (
            "Identities loaded.",
            "Identiteter inlästa.",
            "Identiteter indlæst.",
        ),
        "upload_identities_help": (
            "Customers' ids are linked; their events count as one person's.",
            "Kundernas id:n är länkade; deras händelser räknas som en persons.",
            "Kundernes id'er er forbundet; deres hændelser tælles som én persons.",
        ),
        "upload_partly_quarantined": (
            "Loaded, with rows in quarantine.",
            "Inläst, med rader i karantän.",
            "Indlæst, med rækker i karantæne.",
        ),
        "upload_partly_quarantined_help": (
            "Some rows could not be read; the quarantine below says which and why. Fix "
            "those rows and upload them again (rows already loaded are not counted twice).",
            "Några rader kunde inte läsas; karantänen nedan visar vilka och varför. Rätta "
            "dem och ladda upp dem igen (redan inlästa rader räknas inte två gånger).",
            "Nogle rækker kunne ikke læses; karantænen nedenfor viser hvilke og hvorfor. Ret "
            "dem og upload dem igen (allerede indlæste rækker tælles ikke to gange).",
        ),
        "upload_nothing_new": (
            "Nothing new: every row was already loaded.",
            "Inget nytt: alla rader var redan inlästa.",
            "Intet nyt: alle rækker var allerede indlæst.",
        ),
        "upload_nothing_new_help": ("", "", ""),
        "upload_nothing_loaded": (
            "Nothing was loaded.",
            "Ingenting lästes in.",
            "Intet blev indlæst.",
        ),
        "upload_nothing_loaded_help": (
            "Check that the file has a customer id, a time and an event name on every row "
            "(the quarantine below says what was wrong), choose its source format or "
            "columns, and upload it again.",
            "Kontrollera att filen har kund-id, tid och händelsenamn på varje rad "
            "(karantänen nedan visar vad som var fel), välj källformat eller kolumner och "
            "ladda upp den igen.",
            "Kontrollér at filen har kunde-id, tid og hændelsesnavn på hver række "
            "(karantænen nedenfor viser, hvad der var galt), vælg kildeformat eller "
            "kolonner, og upload den igen.",
        ),
        "restore": ("Restore", "Återställ", "Gendan"),
        "restore_confirm": ("Restore version", "Återställa versionen", "Gendan versionen"),
        "restore_explain": (
            "The journey file becomes this version again; the current file is kept in "
            "history, so this can be undone. The same from the command line:",
            "Kundresefilen blir den här versionen igen; den nuvarande sparas i historiken, "
            "så det går att ångra. Samma sak från kommandoraden:",
            "Kunderejsefilen bliver denne version igen; den nuværende gemmes i historikken, "
            "så det kan fortrydes. Det samme fra kommandolinjen:",
        ),
        "restore_changes": (
            "What changes (current file → this version)",
            "Vad som ändras (nuvarande fil → den här versionen)",
            "Hvad der ændres (nuværende fil → denne version)",
        ),
        "restore_same": (
            "This version is the same as the current file.",
            "Den här versionen är samma som den nuvarande filen.",
            "Denne version er den samme som den nuværende fil.",
        ),
        "restored": ("Restored version", "Återställde versionen", "Gendannede versionen"),
        "restored_previous": (
            "The file it replaced is kept as",
            "Filen den ersatte sparas som",
            "Filen, den erstattede, gemmes som",
        ),
        "segment_a": ("Segment A", "Segment A", "Segment A"),
        "segment_b": ("Segment B", "Segment B", "Segment B"),
        "funnel_steps": ("Funnel steps", "Trattens steg", "Tragtens trin"),
        "funnel_steps_help": (
            "One step per field, in order: a stage, a touchpoint or an event (choose from "
            "the list or type a name; a|b for either). Empty fields are left out.",
            "Ett steg per fält, i ordning: en fas, en beröringspunkt eller en händelse (välj "
            "i listan eller skriv ett namn; a|b för någon av dem). Tomma fält hoppas över.",
            "Et trin pr. felt, i rækkefølge: en fase, et kontaktpunkt eller en hændelse (vælg "
            "på listen eller skriv et navn; a|b for en af dem). Tomme felter springes over.",
        ),
        "exclusions_help": (
            "event:a:b means no such event between step a and step b.",
            "händelse:a:b betyder ingen sådan händelse mellan steg a och steg b.",
            "hændelse:a:b betyder ingen sådan hændelse mellem trin a og trin b.",
        ),
        "no_events_title": ("No events yet", "Inga händelser än", "Ingen hændelser endnu"),
        "no_events_text": (
            "This project has a journey but no events, so there is nothing to count yet.",
            "Projektet har en kundresa men inga händelser, så det finns inget att räkna än.",
            "Projektet har en kunderejse men ingen hændelser, så der er intet at tælle endnu.",
        ),
        "no_events_upload": (
            "Upload a file of events on the Data page",
            "Ladda upp en fil med händelser på sidan Data",
            "Upload en fil med hændelser på siden Data",
        ),
        "no_events_cli": (
            "or load files from the command line:",
            "eller läs in filer från kommandoraden:",
            "eller indlæs filer fra kommandolinjen:",
        ),
        "no_events_demo": (
            "or try a demo company's project first:",
            "eller prova först ett demoföretags projekt:",
            "eller prøv først et demofirmas projekt:",
        ),
    }
)


def translate(key: str, lang: str) -> str:
    """The UI text for ``key`` in ``lang`` (English, then the key, when missing).

    Examples
    --------
    >>> translate("funnel", "sv"), translate("funnel", "da"), translate("funnel", "fi")
    ('Tratt', 'Tragt', 'Funnel')
    >>> translate("no_such_key", "sv")
    'no_such_key'
    >>> translate("rate_a", "en"), translate("time_decay_share", "sv")
    ('Rate A', 'Tidsavtagande: andel')
    """
    if key.startswith("lane_"):  # the map's rows: the export's words (kundresa.report.labels)
        return lane_label(key.removeprefix("lane_"), lang)
    text = _TEXT.get(key)
    if text is not None:
        return text[_INDEX.get(lang, 0)] or text[0]
    # Composed column names: ``rate_a`` (a segment), ``markov_share`` (a model's column).
    head, _, tail = key.rpartition("_")
    if tail in ("a", "b") and head in _TEXT:
        return f"{translate(head, lang)} {tail.upper()}"
    for model in _MODELS:
        rest = key.removeprefix(model + "_")
        if rest != key and rest in _TEXT:
            return f"{translate(model, lang)}: {translate(rest, lang).lower()}"
    return key
