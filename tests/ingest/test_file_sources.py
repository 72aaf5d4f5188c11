"""Files as people save them and the CRM / shop / survey exports, through the CLI.

Every fixture under tests/fixtures/sources/ is hand-written from the export's documented
columns; the expected events below were worked out by hand from those files.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kundresa.cli import main
from kundresa.store.warehouse import Warehouse

FIXTURES = Path(__file__).parent.parent / "fixtures" / "sources"


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    r = run("init", str(tmp_path / "p"), "--template", "kundresa-5")
    assert r.exit_code == 0, r.output
    return tmp_path / "p"


def ingest(project: Path, *args: str) -> Result:
    return run("ingest", *args, "--project", str(project))


def stored(project: Path) -> list[tuple[object, ...]]:
    wh = Warehouse(project / ".kundresa" / "warehouse.duckdb", read_only=True)
    try:
        return wh.con.execute(
            "SELECT customer_id, strftime(\"timestamp\", '%Y-%m-%d %H:%M:%S'), event, value "
            'FROM events ORDER BY customer_id, "timestamp", event'
        ).fetchall()
    finally:
        wh.close()


def query(project: Path, sql: str) -> list[tuple[object, ...]]:
    wh = Warehouse(project / ".kundresa" / "warehouse.duckdb", read_only=True)
    try:
        return wh.con.execute(sql).fetchall()
    finally:
        wh.close()


def state(project: Path) -> tuple[int, int, int]:
    """Events, ingests and quarantined rows: what a failed ingest must leave unchanged."""
    wh = Warehouse(project / ".kundresa" / "warehouse.duckdb", read_only=True)
    try:
        return wh.event_count(), len(wh.ingest_log()), wh.quarantine_count()
    finally:
        wh.close()


HUBSPOT = [
    ("101", "2025-01-10 09:00:00", "became_lead", None),
    ("101", "2025-01-15 12:30:00", "became_marketing_qualified_lead", None),
    ("101", "2025-02-01 08:00:00", "became_sales_qualified_lead", None),
    ("101", "2025-02-10 10:00:00", "became_opportunity", None),
    ("101", "2025-03-01 14:00:00", "became_customer", None),
    ("102", "2025-02-03 11:00:00", "became_subscriber", None),
    ("102", "2025-02-05 16:45:00", "became_lead", None),
    ("103", "2024-11-20 08:15:00", "became_lead", None),
    ("103", "2024-12-24 09:00:00", "became_customer", None),
    ("103", "2025-04-01 10:00:00", "became_evangelist", None),
    ("104", "2025-03-02 10:00:00", "became_other", None),
]
SALESFORCE_LEADS = [
    # A converted lead's events belong to the contact it became.
    ("0035g00000XyZaAAAR", "2025-01-10 09:00:00", "became_lead", None),
    ("0035g00000XyZaAAAR", "2025-02-01 00:00:00", "became_opportunity", None),
    ("0035g00000XyZaAAAR", "2025-02-01 00:00:00", "became_sales_qualified_lead", None),
    ("0035g00000XyZbAAAR", "2025-01-20 08:15:00", "became_lead", None),
    ("0035g00000XyZbAAAR", "2025-03-03 00:00:00", "became_sales_qualified_lead", None),
    ("00Q5g00000AbCdFAAV", "2025-02-03 11:00:00", "became_lead", None),
]
SALESFORCE_OPPORTUNITIES = [
    # No ContactId: the account is the customer.
    ("0015g00000AaAbAAAA", "2025-04-02 09:30:00", "became_opportunity", None),
    ("0035g00000XyZaAAAR", "2025-02-01 10:00:00", "became_opportunity", None),
    ("0035g00000XyZaAAAR", "2025-03-01 00:00:00", "became_customer", 12500.0),
    # Closed Lost: an opportunity, never a customer.
    ("0035g00000XyZbAAAR", "2025-03-10 13:00:00", "became_opportunity", None),
]
SHOPIFY = [
    # 2025-05-31 00:37:00 +0100 is 23:37 UTC the day before; e-mail in lower case.
    ("anna@example.se", "2025-05-30 23:37:00", "purchase", 647.0),
    ("anna@example.se", "2025-06-15 07:00:00", "purchase", 1249.5),
    ("bjorn@example.se", "2025-06-02 12:05:10", "purchase", 25.9),
]
WOOCOMMERCE = [
    # 5/31/2025 decides that the file's slashed dates are month first: 6/2/2025 is 2 June.
    ("anna@example.se", "2025-05-31 00:37:00", "purchase", 647.0),
    ("carl.sten@example.se", "2025-06-02 09:05:00", "purchase", 1249.5),
]
SURVEY = [
    ("anna@example.se", "2025-06-20 10:00:00", "nps_answer", None),
    ("bjorn@example.se", "2025-06-21 11:30:00", "nps_answer", None),
    ("cecilia@example.se", "2025-06-22 09:15:00", "nps_answer", None),
    ("david@example.se", "2025-06-22 12:00:00", "nps_answer", None),
    ("frans@example.se", "2025-06-23 09:00:00", "nps_answer", None),
]
SWEDISH = [
    ("K-001", "2025-02-01 10:00:00", "köp", 1234.5),
    ("K-001", "2025-02-15 14:30:00", "retur", -234.5),
    ("K-002", "2025-02-03 09:05:00", "köp", 1099.0),
    ("K-003", "2025-02-04 12:00:00", "nyhetsbrev", None),
]
UTF16 = [
    ("Åsa", "2025-03-01 08:00:00", "page_view", None),
    ("Åsa", "2025-03-01 08:05:00", "purchase", 349.9),
    ("Ørjan", "2025-03-02 19:30:00", "purchase", 1200.0),
]

CASES = [
    ("hubspot_contacts.csv", "hubspot", (), HUBSPOT, {6}),
    ("salesforce_leads.csv", "salesforce", (), SALESFORCE_LEADS, set()),
    ("salesforce_opportunities.csv", "salesforce", (), SALESFORCE_OPPORTUNITIES, set()),
    ("shopify_orders.csv", "shopify", (), SHOPIFY, set()),
    ("woocommerce_orders.csv", "woocommerce", (), WOOCOMMERCE, {3}),
    ("survey_nps.csv", "survey", ("--event", "nps_answer"), SURVEY, {6}),
    ("swedish_excel_latin1.csv", "events", (), SWEDISH, {6}),
    ("excel_unicode_text_utf16.txt", "events", (), UTF16, set()),
]


@pytest.mark.parametrize("how", ["named", "auto"])
@pytest.mark.parametrize(
    ("name", "source", "extra", "expected", "bad_lines"), CASES, ids=[c[0] for c in CASES]
)
def test_fixture_loads_as_expected(
    project: Path,
    how: str,
    name: str,
    source: str,
    extra: tuple[str, ...],
    expected: list[tuple[object, ...]],
    bad_lines: set[int],
) -> None:
    args = [str(FIXTURES / name), *extra, "--format", "json"]
    if how == "named":
        args += ["--source", source]
    r = ingest(project, *args)
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["recognised"] == {str(FIXTURES / name): source}
    assert report["loaded"] == len(expected) and report["quarantined"] == len(bad_lines)
    assert stored(project) == sorted(expected, key=lambda e: (e[0], e[1], e[2]))
    lines = {row[0] for row in query(project, "SELECT line FROM quarantine")}
    assert lines == bad_lines
    # Loading the same export again adds nothing anywhere.
    again = json.loads(ingest(project, *args).output)
    assert again["loaded"] == 0 and again["already_quarantined"] == len(bad_lines)


def test_hubspot_properties_event_ids_and_the_record_without_a_stage(project: Path) -> None:
    assert ingest(project, str(FIXTURES / "hubspot_contacts.csv")).exit_code == 0
    rows = query(
        project,
        "SELECT event_id, properties['first_name'], properties['original_source'], "
        "properties['lifecycle_stage'] FROM events WHERE customer_id = '102' ORDER BY 1",
    )
    assert rows == [
        ("hubspot:102:became_lead", "Björn", "Paid Social", "lead"),
        ("hubspot:102:became_subscriber", "Björn", "Paid Social", "lead"),
    ]
    ((reason, record),) = query(project, "SELECT reason, record FROM quarantine")
    row = json.loads(json.loads(record)["text"])
    assert "no lifecycle stage date" in reason and row["Record ID"] == "105"


# A report export (Reports > Export) shows 15-character, case-sensitive record ids; Data
# Loader and the API give the 18-character form, the same 15 plus a case-checksum suffix.
SF_LEAD_REPORT = (
    "Lead ID,First Name,Email,Lead Status,Created Date,Converted,Converted Date,"
    "Converted Contact ID,Converted Opportunity ID\n"
    "00Q000000000001,Anna,anna@x.se,Converted,2025-01-02,1,2025-01-10,003000000000001,"
    "006000000000001\n"
)
SF_OPPORTUNITY_EXPORT = (
    "Id,Name,ContactId,AccountId,StageName,IsWon,CloseDate,Amount,CreatedDate\n"
    "006000000000001AAA,Deal,003000000000001AAA,001000000000001AAA,Closed Won,true,"
    '2025-02-01,"12,500.00",2025-01-10T10:00:00.000Z\n'
)


def info(project: Path) -> dict[str, object]:
    r = run("info", "--project", str(project), "--format", "json")
    assert r.exit_code == 0, r.output
    out: dict[str, object] = json.loads(r.stdout)
    return out


def test_salesforce_report_and_data_loader_ids_are_one_customer(
    project: Path, tmp_path: Path
) -> None:
    """The reviewer's case: a lead report (15-character ids) and a Data Loader opportunity
    export (18-character ids) of one person were two customers, and the lead never became
    a customer in a funnel. Every id column is read in its 18-character form."""
    report, export = tmp_path / "LeadReport.csv", tmp_path / "Opportunity.csv"
    report.write_text(SF_LEAD_REPORT)
    export.write_text(SF_OPPORTUNITY_EXPORT)
    r = ingest(project, str(report), str(export), "--source", "salesforce")
    assert r.exit_code == 0, r.output
    assert info(project)["customers"] == 1
    assert stored(project) == [
        ("003000000000001AAA", "2025-01-02 00:00:00", "became_lead", None),
        ("003000000000001AAA", "2025-01-10 00:00:00", "became_opportunity", None),
        ("003000000000001AAA", "2025-01-10 00:00:00", "became_sales_qualified_lead", None),
        ("003000000000001AAA", "2025-01-10 10:00:00", "became_opportunity", None),
        ("003000000000001AAA", "2025-02-01 00:00:00", "became_customer", 12500.0),
    ]
    # Q is the one capital of the lead id's first chunk (bit 2: E); the property columns
    # holding ids are in the same form.
    assert query(
        project,
        "SELECT DISTINCT event_id, anonymous_id, properties['converted_opportunity_id'] "
        "FROM events WHERE event = 'became_lead'",
    ) == [("salesforce:00Q000000000001EAA:became_lead", "00Q000000000001EAA", "006000000000001AAA")]
    assert query(
        project,
        "SELECT DISTINCT properties['account_id'] FROM events "
        "WHERE properties['account_id'] IS NOT NULL",
    ) == [("001000000000001AAA",)]
    # 30 days from lead to customer: a window that holds them (the default is 7 days).
    r = run(
        "funnel",
        "--project",
        str(project),
        "--step",
        "became_lead",
        "--step",
        "became_customer",
        "--window",
        "31d",
        "--format",
        "csv",
    )
    assert r.exit_code == 0, r.output
    counts = [line.split(",")[:3] for line in r.stdout.splitlines()[1:]]
    assert counts == [["1", "became_lead", "1"], ["2", "became_customer", "1"]]


@pytest.mark.parametrize("suffix", ["EAA", "eaa"])
def test_salesforce_report_then_data_loader_export_adds_no_duplicate(
    project: Path, tmp_path: Path, suffix: str
) -> None:
    """The event id is built from the 18-character record id, so the same lead from a
    report and from a Data Loader export (whose suffix may come in any case) is one
    ``became_lead``: loading the same data twice adds nothing across the two kinds."""
    report, export = tmp_path / "LeadReport.csv", tmp_path / "Lead.csv"
    report.write_text(SF_LEAD_REPORT)
    export.write_text(
        "Id,FirstName,Email,Status,CreatedDate,IsConverted,ConvertedDate,ConvertedContactId,"
        "ConvertedOpportunityId\n"
        f"00Q000000000001{suffix},Anna,anna@x.se,Closed - Converted,2025-01-02T09:00:00.000Z,"
        "true,2025-01-10,003000000000001aaa,006000000000001AAA\n"
    )
    first = json.loads(ingest(project, str(report), "--format", "json").stdout)
    assert first["loaded"] == 3
    again = json.loads(ingest(project, str(export), "--format", "json").stdout)
    assert again["recognised"] == {str(export): "salesforce"}
    assert again["loaded"] == 0 and again["duplicates"] == 3
    assert query(project, "SELECT count(*) FROM events WHERE event = 'became_lead'") == [(1,)]
    assert info(project)["customers"] == 1


def test_salesforce_ids_are_not_merged_on_a_guess(project: Path, tmp_path: Path) -> None:
    """Ids that differ in case are different records (15 characters are case-sensitive);
    an 18-character value whose suffix does not fit its first 15 characters is kept as
    given, not folded into the 15-character id it starts with; a value that is no record
    id is left alone; a quarantined row keeps the ids it was read with."""
    f = tmp_path / "Opportunity.csv"
    f.write_text(
        "Id,Name,ContactId,AccountId,StageName,IsWon,CloseDate,Amount,CreatedDate\n"
        "006000000000001,A,0035g00000XyZaA,,Open,false,,,2025-01-10\n"
        "006000000000002,B,0035g00000XYZAA,,Open,false,,,2025-01-11\n"
        "006000000000003,C,0035g00000XyZaAAAR,,Open,false,,,2025-01-12\n"
        "006000000000004,D,0035g00000XyZaAaav,,Open,false,,,2025-01-13\n"
        "006000000000005,E,anna@x.se,,Open,false,,,2025-01-14\n"
        "006000000000006,F,003000000000001,,Open,false,,,\n"
    )
    r = ingest(project, str(f), "--source", "salesforce")
    assert r.exit_code == 0, r.output
    assert query(project, "SELECT customer_id, event_id FROM events ORDER BY timestamp") == [
        ("0035g00000XyZaAAAV", "salesforce:006000000000001AAA:became_opportunity"),
        ("0035g00000XYZAAAA5", "salesforce:006000000000002AAA:became_opportunity"),
        ("0035g00000XyZaAAAR", "salesforce:006000000000003AAA:became_opportunity"),
        ("0035g00000XyZaAAAV", "salesforce:006000000000004AAA:became_opportunity"),
        ("anna@x.se", "salesforce:006000000000005AAA:became_opportunity"),
    ]
    # A quarantined row is kept as read, its ids as the file wrote them.
    ((reason, record),) = query(project, "SELECT reason, record FROM quarantine")
    row = json.loads(json.loads(record)["text"])
    assert "no opportunity date" in reason
    assert row["Id"] == "006000000000006" and row["ContactId"] == "003000000000001"


def test_a_crm_stage_date_written_as_missing_is_no_stage(project: Path, tmp_path: Path) -> None:
    """A stage date cell ``N/A``, ``#N/A``, ``null`` or blank means the record never reached
    that stage: no event (not a quarantined row with an unreadable time)."""
    header = (FIXTURES / "hubspot_contacts.csv").read_text().splitlines()[0]
    f = tmp_path / "contacts.csv"
    f.write_text(
        f"{header}\n"
        "201,Ida,Sjö,ida@example.se,lead,2025-02-03 11:00,N/A,2025-02-05 16:45,#N/A,null,"
        " ,,,,Direct Traffic\n"
    )
    r = ingest(project, str(f), "--format", "json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["quarantined"] == 0
    rows = query(project, "SELECT event FROM events WHERE customer_id = '201'")
    assert rows == [("became_lead",)]


def test_shop_orders_keep_currency_and_drop_line_items(project: Path) -> None:
    assert ingest(project, str(FIXTURES / "shopify_orders.csv")).exit_code == 0
    rows = query(
        project,
        "SELECT event_id, properties['currency'], properties['financial_status'], "
        "list_filter(map_keys(properties), k -> k LIKE 'lineitem%') "
        "FROM events ORDER BY event_id",
    )
    assert rows == [
        ("shopify:#1001", "SEK", "paid", []),
        ("shopify:#1002", "EUR", "paid", []),
        ("shopify:#1003", "SEK", "paid", []),
    ]
    assert ingest(project, str(FIXTURES / "woocommerce_orders.csv")).exit_code == 0
    ((reason,),) = query(project, "SELECT reason FROM quarantine")
    assert reason == "missing customer id (column 'customer_id')"  # the guest without e-mail


def test_survey_scores_stay_numbers(project: Path) -> None:
    args = (str(FIXTURES / "survey_nps.csv"), "--event", "nps_answer")
    assert ingest(project, *args).exit_code == 0
    scores = query(project, "SELECT properties['score'] FROM events ORDER BY customer_id")
    assert [s for (s,) in scores] == ["10", "6", "9", "8", "7"]  # "7,0" read as 7
    ((reason,),) = query(project, "SELECT reason FROM quarantine")
    assert reason == "score 'tio' is not a number (column 'score')"


def test_survey_answer_not_given_is_no_score(project: Path, tmp_path: Path) -> None:
    """``N/A``, ``NA`` and ``#N/A`` in a score column (no answer: a survey tool's "not
    applicable") leave the score out, where any other text that is not a number sends the
    row to quarantine; a comment ``NA`` stays text."""
    f = tmp_path / "answers.csv"
    f.write_text(
        "respondent_email,submitted_at,score,comment\n"
        "a@example.se,2025-06-20 10:00,N/A,NA\n"
        "b@example.se,2025-06-20 11:00,#N/A,\n"
        "c@example.se,2025-06-20 12:00,9,\n"
        "d@example.se,2025-06-20 13:00,nio,\n"
    )
    assert ingest(project, str(f), "--event", "nps_answer").exit_code == 0
    rows = query(
        project,
        "SELECT customer_id, properties['score'], properties['comment'] FROM events ORDER BY 1",
    )
    assert rows == [
        ("a@example.se", None, "NA"),
        ("b@example.se", None, None),
        ("c@example.se", "9", None),
    ]
    ((reason,),) = query(project, "SELECT reason FROM quarantine")
    assert reason == "score 'nio' is not a number (column 'score')"


def test_an_nps_column_takes_whole_numbers_from_0_to_10(project: Path, tmp_path: Path) -> None:
    # A review's repro: 6.5 in an `nps` column was stored and counted as a detractor.
    f = tmp_path / "answers.csv"
    f.write_text(
        "respondent_email,submitted_at,nps,rating\n"
        "a@example.se,2025-06-20 10:00,6.5,4.5\n"
        "b@example.se,2025-06-20 11:00,11,\n"
        'c@example.se,2025-06-20 12:00,"9,0",4.5\n'
        "d@example.se,2025-06-20 13:00,-1,\n"
    )
    assert ingest(project, str(f), "--event", "nps_answer").exit_code == 0
    rows = query(project, "SELECT customer_id, properties['nps'], properties['rating'] FROM events")
    assert rows == [("c@example.se", "9", "4.5")]  # a rating is no NPS: 4.5 stays
    reasons = [r for (r,) in query(project, "SELECT reason FROM quarantine ORDER BY line")]
    assert reasons == [
        f"NPS score {v!r} is not a whole number from 0 to 10 (column 'nps')"
        for v in ("6.5", "11", "-1")
    ]


def test_survey_without_event_says_what_to_add(project: Path) -> None:
    before = state(project)
    for extra in ((), ("--source", "survey")):
        r = ingest(project, str(FIXTURES / "survey_nps.csv"), *extra)
        assert r.exit_code == 1
        assert "--event NAME" in r.output and "survey_nps.csv" in r.output
        assert len(r.output.strip().splitlines()) == 1 and "Traceback" not in r.output
    assert state(project) == before


def test_swedish_file_in_local_time_and_forced_decimal(project: Path, tmp_path: Path) -> None:
    f = str(FIXTURES / "swedish_excel_latin1.csv")
    r = ingest(project, f, "--tz", "Europe/Stockholm", "--format", "json")
    assert r.exit_code == 0, r.output
    assert stored(project)[0] == ("K-001", "2025-02-01 09:00:00", "köp", 1234.5)
    props = query(project, "SELECT DISTINCT properties['ort'] FROM events ORDER BY 1")
    assert [p for (p,) in props] == ["Göteborg", "Malmö", "Växjö"]
    # --decimal . reads "1 234,50" as no number: those rows go to quarantine instead.
    other = tmp_path / "q"
    assert run("init", str(other)).exit_code == 0
    r = ingest(other, f, "--decimal", ".", "--format", "json")
    report = json.loads(r.stdout)
    # (the fifth row, 31.02.2025, is no date: quarantined for that first)
    assert report["reasons"]["value read only with the other decimal mark (column 'belopp')"] == 3


def test_utf16_forced_decimal_and_value_col(project: Path, tmp_path: Path) -> None:
    f = tmp_path / "u.txt"
    f.write_bytes(
        "kund_id\ttidpunkt\thändelse\tsumma\tbelopp\na\t2025-03-01 08:00\tköp\t1,250\t9\n".encode(
            "utf-16"
        )
    )
    # With a decimal comma forced, "1,250" is one and a quarter, from the named column.
    r = ingest(project, str(f), "--decimal", ",", "--value-col", "summa")
    assert r.exit_code == 0, r.output
    assert stored(project) == [("a", "2025-03-01 08:00:00", "köp", 1.25)]
    r = ingest(project, str(f), "--value-col", "nope")
    assert r.exit_code == 1 and "--value-col 'nope' is not a column" in r.output


SLASHED = "customer_id,timestamp,event\na,01/02/2025 10:00,x\nb,03/04/2025,x\n"


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        (("--date-format", "dmy"), ["2025-02-01 10:00:00", "2025-04-03 00:00:00"]),
        (("--date-format", "mdy"), ["2025-01-02 10:00:00", "2025-03-04 00:00:00"]),
        (("--date-format", "%d/%m/%Y %H:%M"), ["2025-02-01 10:00:00", None]),
    ],
)
def test_date_format_settles_slashed_dates(
    project: Path, tmp_path: Path, option: tuple[str, ...], expected: list[str | None]
) -> None:
    f = tmp_path / "slashed.csv"
    f.write_text(SLASHED)
    assert ingest(project, str(f), *option).exit_code == 0
    times = dict(
        query(
            project, "SELECT customer_id, strftime(\"timestamp\", '%Y-%m-%d %H:%M:%S') FROM events"
        )
    )
    assert [times.get("a"), times.get("b")] == expected


def test_a_date_pattern_wins_over_epochs(project: Path, tmp_path: Path) -> None:
    f = tmp_path / "compact.csv"
    f.write_text("customer_id,timestamp,event\na,20250601,x\nb,1735725600,x\n")
    assert ingest(project, str(f), "--date-format", "%Y%m%d").exit_code == 0
    # 20250601 fits the pattern; 1735725600 does not, and is still read as an epoch.
    assert stored(project) == [
        ("a", "2025-06-01 00:00:00", "x", None),
        ("b", "2025-01-01 10:00:00", "x", None),
    ]


def test_ambiguous_dates_are_quarantined_naming_the_option(project: Path, tmp_path: Path) -> None:
    f = tmp_path / "slashed.csv"
    f.write_text(SLASHED)
    r = ingest(project, str(f), "--format", "json")
    report = json.loads(r.stdout)
    assert report["loaded"] == 0 and report["quarantined"] == 2
    reasons = [r for (r,) in query(project, "SELECT reason FROM quarantine ORDER BY line")]
    assert reasons[0].startswith("ambiguous date 01/02/2025 10:00 (column 'timestamp')")
    assert all("--date-format dmy" in r for r in reasons)
    # One day above 12 anywhere in the file settles the order for all of it.
    f.write_text(SLASHED + "c,25/12/2025,x\n")
    assert ingest(project, str(f)).exit_code == 0
    assert ("a", "2025-02-01 10:00:00", "x", None) in stored(project)


def test_offsets_and_epochs(project: Path, tmp_path: Path) -> None:
    f = tmp_path / "t.csv"
    f.write_text(
        "customer_id,timestamp,event\n"
        "a,2025-05-31 00:37:00 +0100,x\n"
        "b,2025-05-31 00:37:00 -05:30,x\n"
        "c,0,x\n"
        "d,-86400,x\n"
        "e,1735725600,x\n"
    )
    r = json.loads(ingest(project, str(f), "--format", "json").output)
    assert r["loaded"] == 3
    assert stored(project) == [
        ("a", "2025-05-30 23:37:00", "x", None),
        ("b", "2025-05-31 06:07:00", "x", None),
        ("e", "2025-01-01 10:00:00", "x", None),
    ]
    reasons = [r for (r,) in query(project, "SELECT reason FROM quarantine ORDER BY line")]
    assert reasons == [
        "epoch timestamp 0 is not after 1970-01-01 (column 'timestamp')",
        "epoch timestamp -86400 is not after 1970-01-01 (column 'timestamp')",
    ]


def test_cp1252_beyond_the_sniffed_start_and_bad_utf8(project: Path, tmp_path: Path) -> None:
    # The encoding is told from the first 64 KiB; a later byte still decodes the same way.
    body = "".join(f"c{i},2025-01-01,view\n" for i in range(5000))
    f = tmp_path / "late.csv"
    f.write_bytes(
        ("customer_id,timestamp,event\n" + body + "Åke,2025-01-02,köp\n").encode("cp1252")
    )
    assert ingest(project, str(f), "--encoding", "cp1252").exit_code == 0
    assert query(project, "SELECT event FROM events WHERE customer_id = 'Åke'") == [("köp",)]
    before = state(project)
    # Sniffed as UTF-8 from a clean start, then a Latin-1 byte: a one-line error.
    g = tmp_path / "mixed.csv"
    g.write_bytes(
        ("customer_id,timestamp,event\n" + body).encode() + "Åke,2025-01-02,köp\n".encode("latin-1")
    )
    r = ingest(project, str(g))
    assert r.exit_code == 1 and "--encoding" in r.output
    assert len(r.output.strip().splitlines()) == 1
    assert state(project) == before


def _xlsx(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")


HOSTILE = {
    "png": (
        lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(40)),
        "PNG image",
    ),
    "xlsx": (_xlsx, "Excel workbook (.xlsx)"),
    "empty": (lambda p: p.write_bytes(b""), "empty"),
    "blank": (lambda p: p.write_bytes(b"\n\n  \n"), "empty"),
    "long_field": (
        lambda p: p.write_bytes(
            b"customer_id,timestamp,event\na,2025-01-01," + b"x" * (50 << 20) + b"\n"
        ),
        "longer than 8 MiB",
    ),
    "nul_bytes": (lambda p: p.write_bytes(b"customer_id\x00,ts\x00\x01\x02\x00" * 10), "binary"),
}


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_hostile_files_are_refused_in_one_line(project: Path, tmp_path: Path, kind: str) -> None:
    good = tmp_path / "good.csv"
    good.write_text("customer_id,timestamp,event\na,2025-01-01,x\n")
    assert ingest(project, str(good)).exit_code == 0
    before = state(project)
    make, message = HOSTILE[kind]
    bad = tmp_path / "upload.csv"
    make(bad)
    r = ingest(project, str(good), str(bad))
    assert r.exit_code == 1
    assert message in r.output and "upload.csv" in r.output
    assert len(r.output.strip().splitlines()) == 1 and "Traceback" not in r.output
    assert state(project) == before


def test_long_json_line_is_refused(project: Path, tmp_path: Path) -> None:
    before = state(project)
    f = tmp_path / "big.jsonl"
    f.write_bytes(
        b'{"customer_id": "a", "ts": "2025-01-01", "event": "x", "blob": "'
        + b"x" * (50 << 20)
        + b'"}\n'
    )
    r = ingest(project, str(f))
    assert r.exit_code == 1 and "big.jsonl:1: a row is longer than 8 MiB" in r.output
    assert state(project) == before


def test_a_csv_record_just_over_the_limit_is_refused(project: Path, tmp_path: Path) -> None:
    """pyarrow refuses a CSV record only when it straddles two 8 MiB blocks: a 12 MiB record
    in the second row loaded. Every record over the limit refuses the file, naming its line."""
    before = state(project)
    f = tmp_path / "wide.csv"
    f.write_bytes(
        b"customer_id,timestamp,event,note\na,2025-01-01,x,short\nb,2025-01-02,y,"
        + b"x" * (12 << 20)
        + b"\n"
    )
    r = ingest(project, str(f))
    assert r.exit_code == 1 and "wide.csv:3: a row is longer than 8 MiB" in r.output, r.output
    assert state(project) == before
    ok = tmp_path / "ok.csv"  # a record just under the limit still loads
    ok.write_bytes(b"customer_id,timestamp,event,note\na,2025-01-01,x," + b"x" * (7 << 20) + b"\n")
    assert ingest(project, str(ok)).exit_code == 0


def test_jsonl_in_utf16_and_latin1(project: Path, tmp_path: Path) -> None:
    f = tmp_path / "u.jsonl"
    f.write_bytes('{"customer_id": "Åsa", "ts": "2025-01-01", "event": "köp"}\n'.encode("utf-16"))
    g = tmp_path / "l.jsonl"
    g.write_bytes('{"customer_id": "Öla", "ts": "2025-01-02", "event": "köp"}\n'.encode("latin-1"))
    assert ingest(project, str(f), str(g)).exit_code == 0
    assert [r[0] for r in stored(project)] == ["Åsa", "Öla"]


def test_bad_options_and_wrong_source(project: Path) -> None:
    f = str(FIXTURES / "shopify_orders.csv")
    before = state(project)
    r = ingest(project, f, "--encoding", "klingon")
    assert r.exit_code == 2 and "--encoding" in r.output and "not a text encoding" in r.output
    r = ingest(project, f, "--date-format", "yyyy-mm-dd")
    assert r.exit_code == 2 and "--date-format" in r.output
    r = ingest(project, f, "--date-format", "%Q")
    assert r.exit_code == 1 and "--date-format '%Q'" in r.output
    r = ingest(project, f, "--decimal", ";")
    assert r.exit_code == 2
    r = ingest(project, f, "--event", "nps_answer")
    assert r.exit_code == 1 and "--event does not apply to this file (read as Shopify" in r.output
    for source, message in [
        ("hubspot", "not a HubSpot contact export"),
        ("salesforce", "not a Salesforce lead, contact or opportunity export"),
        ("woocommerce", "not a WooCommerce order export"),
    ]:
        r = ingest(project, f, "--source", source)
        assert r.exit_code == 1 and message in r.output and "shopify_orders.csv" in r.output
        assert len(r.output.strip().splitlines()) == 1
    assert state(project) == before
