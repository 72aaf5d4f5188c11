"""Exports: the workbook's figures equal the registry's, CSV for Excel, Mermaid, HTML report."""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from kundresa import Project
from kundresa.cli import main
from kundresa.demo.project import build_demo
from kundresa.model.parse import parse_journey
from kundresa.report.export import (
    ExportError,
    _mermaid_text,
    html_report,
    mermaid_journey,
    report,
    workbook,
)
from kundresa.report.labels import heading
from kundresa.report.units import format_value

HOSTILE = "<img src=x onerror=alert(1)>"

HOSTILE_JOURNEY = f"""\
kundresa: 1
name: "Shop: #1; 100%"
language: en
stages:
  - {{id: look, label: "{HOSTILE}"}}
  - {{id: buy, label: "Buy: now; #fast"}}
personas:
  - {{id: anna, name: "Anna, 34: {HOSTILE}", match: {{property: segment, equals: a}}}}
  - {{id: bo, name: "Bo", match: {{property: segment, equals: b}}}}
touchpoints:
  - {{id: ad, stage: look, label: "section Ad: 50% off; #1", match: {{event: ad_click}}}}
  - {{id: pay, stage: buy, label: "{HOSTILE}", match: {{event: purchase}}}}
lanes:
  emotions: {{anna: {{look: 2, buy: -2}}, bo: {{look: -1}}}}
  pain_points: {{buy: ["{HOSTILE}"]}}
"""

EVENTS = pd.DataFrame(
    {
        "customer_id": ["u1", "u1", "u2", "u3", "u3"],
        "timestamp": [
            "2025-03-01 09:00",
            "2025-03-02 09:00",
            "2025-03-01 10:00",
            "2025-03-04 10:00",
            "2025-03-05 10:00",
        ],
        "event": ["ad_click", "purchase", "ad_click", "ad_click", "purchase"],
        "segment": ["a", "a", "b", "b", "b"],
        "value": [None, 120.0, None, None, 80.5],
    }
)


def cli(*args: str) -> object:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Project]]:
    folder = tmp_path_factory.mktemp("exports") / "demo"
    build_demo(folder, customers=200, seed=3, lang="sv").close()
    project = Project.open(folder, read_only=True)
    yield folder, project
    project.close()


@pytest.fixture(scope="module")
def book(demo: tuple[Path, Project], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("book") / "journey.xlsx"
    workbook(demo[1], path)
    return path


@pytest.fixture(scope="module")
def hostile() -> Iterator[Project]:
    journey, problems = parse_journey(HOSTILE_JOURNEY)
    assert journey is not None, problems
    project = Project.from_events(EVENTS, journey=journey)
    yield project
    project.close()


def _sheet_frame(ws: object) -> tuple[list[str], list[list[object]]]:
    rows = list(ws.iter_rows(values_only=True))  # type: ignore[attr-defined]
    header = [str(h) for h in rows[0]]
    return header, [list(r) for r in rows[1:] if any(v is not None for v in r)]


def test_workbook_sheets_and_figures_equal_the_registry(
    demo: tuple[Path, Project], book: Path
) -> None:
    project = demo[1]
    wb = openpyxl.load_workbook(book)
    assert wb.sheetnames[0] == "Fastratt"
    for name in ("Beröringspunkter", "Övergångar", "Återkomst", "Flaskhalsar", "Attribuering"):
        assert name in wb.sheetnames
    assert wb.sheetnames[-1] == "Kundresekarta"

    expected = project.run("stages").frame
    ws = wb["Fastratt"]
    header, rows = _sheet_frame(ws)
    rows = rows[: len(expected)]
    col = {h: i for i, h in enumerate(header)}
    assert [r[col[heading("label", "sv")]] for r in rows] == list(expected["label"])
    assert [r[col["Nått"]] for r in rows] == list(expected["reached"])
    got = [r[col["Konvertering från föregående"]] for r in rows]
    want = [None if pd.isna(v) else v for v in expected["conversion_from_previous"]]
    assert got == pytest.approx(want, nan_ok=True) or got == want
    # Native formats from the units, a frozen header and a chart of reached per stage.
    reached = ws.cell(row=2, column=col["Nått"] + 1)
    assert reached.number_format == "#,##0" and isinstance(reached.value, int)
    rate = ws.cell(row=3, column=col["Konvertering från start"] + 1)
    assert rate.number_format == "0.0%" and 0 <= rate.value <= 1
    assert ws.freeze_panes == "A2"
    assert len(ws._charts) == 1
    assert ws.column_dimensions["A"].width > 8

    transitions = project.run("transitions").frame
    header, rows = _sheet_frame(wb["Övergångar"])
    p = header.index("Sannolikhet")
    assert [r[p] for r in rows[: len(transitions)]] == pytest.approx(
        list(transitions["probability"])
    )
    assert wb["Övergångar"].cell(row=2, column=p + 1).number_format == "0.0%"

    attribution = project.run("attribution_models").frame
    header, rows = _sheet_frame(wb["Attribuering"])
    m = header.index("Markov: andel")
    assert [r[m] for r in rows[: len(attribution)]] == pytest.approx(
        list(attribution["markov_share"])
    )
    value = wb["Attribuering"].cell(row=2, column=header.index("Markov: värde") + 1)
    assert value.number_format == "#,##0.00"


def test_workbook_map_sheet_has_stages_as_columns_and_lanes_as_rows(
    demo: tuple[Path, Project], book: Path
) -> None:
    journey = demo[1].journey
    ws = openpyxl.load_workbook(book)["Kundresekarta"]
    rows = list(ws.iter_rows(values_only=True))
    assert list(rows[0][1:]) == [journey.stage_label(s) for s in journey.stage_ids]
    lanes = [r[0] for r in rows[1:]]
    assert any(str(lane).startswith("Känslor: ") for lane in lanes)
    assert {"Beröringspunkter", "Smärtpunkter", "Mål", "KPI:er"} <= set(lanes)
    emotion = next(r for r in rows[1:] if str(r[0]).startswith("Känslor: "))
    assert all(isinstance(v, int | float) and -2 <= v <= 2 for v in emotion[1:] if v is not None)


def test_excel_csv_uses_bom_semicolon_and_decimal_comma(demo: tuple[Path, Project]) -> None:
    folder, project = demo
    res = CliRunner().invoke(
        main, ["stages", "--project", str(folder), "--format", "csv", "--excel"]
    )
    assert res.exit_code == 0, res.output
    data = res.stdout_bytes
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("stage;label;reached;")
    assert re.search(r";0,\d+;", text)
    back = pd.read_csv(io.StringIO(text), sep=";", decimal=",")
    expected = project.run("stages").frame
    assert list(back["reached"]) == list(expected["reached"])
    assert list(back["conversion_from_start"]) == pytest.approx(
        list(expected["conversion_from_start"])
    )
    plain = cli("stages", "--project", str(folder), "--format", "csv")
    assert not plain.stdout_bytes.startswith(b"\xef\xbb\xbf")  # type: ignore[attr-defined]
    bad = CliRunner().invoke(main, ["stages", "--project", str(folder), "--excel"])
    assert bad.exit_code == 2 and "--excel goes with --format csv" in bad.output


def test_excel_csv_shows_formula_text_as_text(tmp_path: Path) -> None:
    """Event names and channels from a hostile file (``=cmd|...``, ``=HYPERLINK(...)``,
    ``+web``, ``-2+3``, ``@SUM``) reach Excel as text with a ``'`` in front, never as a
    formula (OWASP CSV injection); the plain CSV keeps them raw, negative numbers stay
    numbers."""
    from kundresa.report.tables import to_excel_csv

    folder = tmp_path / "p"
    assert cli("init", str(folder), "--template", "kundresa-5").exit_code == 0
    f = tmp_path / "hostile.csv"
    f.write_text(
        "customer_id,timestamp,event,channel\n"
        "a,2025-03-01,=cmd|' /C calc'!A0,=1+1\n"
        "b,2025-03-02,-2+3,+web\n"
        "c,2025-03-03,@SUM(1),web\n"
        'd,2025-03-04,"=HYPERLINK(""http://x/"",""y"")",web\n'
    )
    assert cli("ingest", str(f), "--project", str(folder)).exit_code == 0
    res = cli("paths", "--level", "event", "--project", str(folder), "--format", "csv", "--excel")
    text = res.stdout_bytes.decode("utf-8-sig")  # type: ignore[attr-defined]
    import csv

    cells = {row[0] for row in list(csv.reader(io.StringIO(text)))[1:]}
    assert cells == {
        "'=cmd|' /C calc'!A0",
        "'-2+3",
        "'@SUM(1)",
        '\'=HYPERLINK("http://x/","y")',
    }, text
    plain = cli("paths", "--level", "event", "--project", str(folder), "--format", "csv")
    assert "\n=cmd|' /C calc'!A0," in plain.stdout_bytes.decode()  # type: ignore[attr-defined]
    frame = pd.DataFrame({"channel": ["+web", "web", "\tx"], "change": [-0.5, 1.0, -2.0]})
    assert to_excel_csv(frame).decode("utf-8-sig").splitlines() == [
        "channel,change",
        "'+web,-0.5",
        "web,1.0",
        "'\tx,-2.0",
    ]


@pytest.mark.parametrize(
    ("lang", "yes", "no"),
    [("sv", "SANT", "FALSKT"), ("da", "SAND", "FALSK"), ("en", "TRUE", "FALSE")],
)
def test_excel_csv_writes_booleans_as_that_excels_words(lang: str, yes: str, no: str) -> None:
    """--excel wrote True/False, which a Swedish or Danish Excel keeps as text: booleans are
    the words Excel in the CSV's language reads as TRUE and FALSE, in every kind of column."""
    from kundresa.report.tables import to_excel_csv

    frame = pd.DataFrame(
        {
            "kpi": ["a", "b", "c"],
            "met": [True, False, True],
            "maybe": pd.array([False, None, True], dtype="boolean"),
            "mixed": [np.bool_(True), None, "x"],
            "rate": [0.5, 1.0, 0.25],
        }
    )
    sep, point = (";", ",") if lang != "en" else (",", ".")
    assert to_excel_csv(frame, lang).decode("utf-8-sig").splitlines() == [
        sep.join(["kpi", "met", "maybe", "mixed", "rate"]),
        sep.join(["a", yes, no, yes, f"0{point}5"]),
        sep.join(["b", no, "", "", f"1{point}0"]),
        sep.join(["c", yes, yes, "x", f"0{point}25"]),
    ]


def test_excel_csv_of_the_kpis_in_swedish(demo: tuple[Path, Project]) -> None:
    res = cli("bottlenecks", "--kpis", "--project", str(demo[0]), "--format", "csv", "--excel")
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    rows = res.stdout_bytes.decode("utf-8-sig").splitlines()  # type: ignore[attr-defined]
    met = rows[0].split(";").index("met")
    assert {row.split(";")[met] for row in rows[1:]} <= {"SANT", "FALSKT", ""}, rows
    assert any(row.split(";")[met] in ("SANT", "FALSKT") for row in rows[1:]), rows
    english = cli(
        "bottlenecks",
        "--kpis",
        "--project",
        str(demo[0]),
        "--format",
        "csv",
        "--excel",
        "--lang",
        "en",
    )
    rows = english.stdout_bytes.decode("utf-8-sig").splitlines()  # type: ignore[attr-defined]
    assert {row.split(",")[met] for row in rows[1:]} <= {"TRUE", "FALSE", ""}, rows


_TASK = re.compile(r"^ {8}([^#:\n;]+): ([1-5])(?:: ([^#\n;]+|(?:[^\n;#]|#\d+;)+))?$")


def _check_mermaid(text: str) -> list[tuple[str, int, list[str]]]:
    """The basics of Mermaid's journey grammar, after its entity codes (#58;) are read as
    placeholders: a journey line, a title, sections, tasks with a score 1-5."""
    placeholder = re.sub(r"#\d+;", "\u00b6", text)
    lines = placeholder.splitlines()
    assert lines[0] == "journey"
    assert re.fullmatch(r" {4}title [^#\n;]+", lines[1])
    tasks = []
    for line in lines[2:]:
        if line.startswith("    section "):
            assert re.fullmatch(r" {4}section [^#:\n;]+", line), line
            continue
        m = re.fullmatch(r" {8}([^#:\n;]+): ([1-5])(?:: ([^#:\n;]+))?", line)
        assert m, line
        assert not m.group(1).strip().lower().startswith(("section", "title"))
        tasks.append((m.group(1), int(m.group(2)), (m.group(3) or "").split(", ")))
    return tasks


def test_mermaid_escapes_hostile_labels_and_maps_emotions_to_scores(hostile: Project) -> None:
    text = mermaid_journey(hostile.journey)
    tasks = _check_mermaid(text)
    assert text.count("    section ") == 2
    # Anna: emotion 2 -> 5, -2 -> 1; Bo: -1 -> 2, none -> 3 (neutral).
    scores = {(t, s) for t, s, _ in tasks}
    assert "        #115;ection Ad#58; 50#37; off#59; #35;1: 5: " in text
    assert ("\u00b6ection Ad\u00b6 50\u00b6 off\u00b6 \u00b61", 5) in scores
    assert {s for t, s, _ in tasks if t.startswith("\u00b6ection")} == {5, 2}
    assert {s for t, s, _ in tasks if t.startswith("\u00b6img")} == {1, 3}
    actors = {a for _, _, who in tasks for a in who}
    # Markup is written as entity codes: Mermaid draws it as text, never as a tag.
    assert "<" not in text and ">" not in text
    assert "Anna\u00b6 34\u00b6 \u00b6img src=x onerror=alert(1)\u00b6" in actors
    assert "Anna#44; 34#58; #60;img src=x onerror=alert(1)#62;" in text
    only = _check_mermaid(mermaid_journey(hostile.journey, persona="bo"))
    assert {tuple(who) for _, _, who in only} == {("Bo",)}


def test_mermaid_command(tmp_path: Path) -> None:
    (tmp_path / "journey.yaml").write_text(HOSTILE_JOURNEY, encoding="utf-8")
    res = cli("export", "mermaid", "--project", str(tmp_path))
    assert res.exit_code == 0  # type: ignore[attr-defined]
    _check_mermaid(res.output)  # type: ignore[attr-defined]
    out = tmp_path / "map.mmd"
    res = cli("export", "mermaid", "--project", str(tmp_path), "-o", str(out))
    assert out.read_text(encoding="utf-8").startswith("journey\n")
    empty = tmp_path / "empty"
    empty.mkdir()
    res = CliRunner().invoke(main, ["export", "mermaid", "--project", str(empty)])
    assert res.exit_code == 1 and "no journey file" in res.output
    assert len(res.output.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "name", "expected"),
    [
        (["workbook"], "x.txt", ".xlsx"),
        (["workbook"], "x.html", ".xlsx"),
        (["workbook"], "book", ".xlsx"),
        (["report"], "r.xlsx", ".html or .htm"),
        (["report"], "r.txt", ".html or .htm"),
        (["mermaid", "-o"], "m.pdf", ".mmd or .mermaid or .md or .txt"),
    ],
)
def test_an_output_name_of_another_format_is_refused(
    demo: tuple[Path, Project], tmp_path: Path, args: list[str], name: str, expected: str
) -> None:
    # `kundresa export workbook x.txt` wrote an .xlsx file under the name x.txt.
    target = tmp_path / name
    res = CliRunner().invoke(main, ["export", *args, str(target), "--project", str(demo[0])])
    assert res.exit_code == 1, res.output
    assert len(res.output.strip().splitlines()) == 1, res.output
    assert str(target) in res.output and f"ending in {expected}" in res.output, res.output
    assert "Traceback" not in res.output
    assert list(tmp_path.iterdir()) == []


def test_output_names_are_checked_in_python_too_and_any_case_is_fine(
    demo: tuple[Path, Project], tmp_path: Path
) -> None:
    with pytest.raises(ExportError, match=r"x\.txt: an Excel workbook .* ending in \.xlsx"):
        workbook(demo[1], tmp_path / "x.txt")
    with pytest.raises(ExportError, match=r"r\.xlsx: an HTML report .* ending in \.html"):
        report(demo[1], tmp_path / "r.xlsx")
    assert list(tmp_path.iterdir()) == []
    report(demo[1], tmp_path / "R.HTM")
    assert (tmp_path / "R.HTM").read_text(encoding="utf-8").startswith("<!")


def test_html_report_is_self_contained_and_escaped(hostile: Project) -> None:
    text = html_report(hostile)
    assert "<script" not in text.lower()
    assert HOSTILE not in text and "&lt;img src=x onerror=alert(1)&gt;" in text
    assert not re.search(r"<[^>]+\s(src|href)=", text)
    assert "http://" not in text and "https://" not in text
    stages = hostile.run("stages").frame
    for label, reached in zip(stages["label"], stages["reached"], strict=True):
        assert f"<td>{label.replace('<', '&lt;').replace('>', '&gt;')}</td>" in text
        assert f'<td class="n">{format_value(reached, "count", "en")}</td>' in text


def test_html_report_of_the_demo_in_swedish(demo: tuple[Path, Project], tmp_path: Path) -> None:
    folder, project = demo
    out = tmp_path / "report.html"
    res = cli("export", "report", str(out), "--project", str(folder))
    assert res.exit_code == 0  # type: ignore[attr-defined]
    text = out.read_text(encoding="utf-8")
    assert '<html lang="sv">' in text and "<script" not in text
    stages = project.run("stages").frame
    for label, reached in zip(stages["label"], stages["reached"], strict=True):
        assert f"<td>{label}</td>" in text
        assert f'<td class="n">{format_value(reached, "count", "sv")}</td>' in text
    assert list(tmp_path.iterdir()) == [out]


def test_html_report_writes_dates_in_its_language(hostile: Project) -> None:
    from datetime import date

    from kundresa.report.units import format_date

    text = html_report(hostile, lang="sv", since="2025-03-02")  # an English journey
    assert "2 mars 2025 – …" in text and format_date("2025-03-02", "sv") == "2 mars 2025"
    assert format_date(date.today(), "sv") in text
    # No date anywhere as ISO 8601 (the period, the made date, the tables' cells).
    assert not re.search(r"\b\d{4}-\d{2}-\d{2}\b", text), re.findall(
        r".{40}\b\d{4}-\d{2}-\d{2}\b.{20}", text
    )[:3]


def test_bad_input_one_line_and_nothing_written(
    demo: tuple[Path, Project], tmp_path: Path, hostile: Project
) -> None:
    folder = str(demo[0])
    for args, message in (
        (["workbook", str(tmp_path / "missing" / "x.xlsx")], "does not exist"),
        (["workbook", str(tmp_path)], "is a folder"),
        (["report", str(tmp_path / "r.html"), "--project", str(tmp_path / "none")], "no such"),
    ):
        if "--project" not in args:
            args = [*args, "--project", folder]
        res = CliRunner().invoke(main, ["export", *args])
        assert res.exit_code == 1, res.output
        assert message in res.output and len(res.output.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []

    empty = tmp_path / "empty"
    Project.init(empty, template="kundresa-5").close()
    res = CliRunner().invoke(
        main, ["export", "workbook", str(tmp_path / "x.xlsx"), "--project", str(empty)]
    )
    assert res.exit_code == 1 and "no events" in res.output
    assert not (tmp_path / "x.xlsx").exists()

    no_journey = Project.from_events(EVENTS)
    with pytest.raises(ExportError, match="no journey file"):
        workbook(no_journey, tmp_path / "y.xlsx")
    no_journey.close()
    with pytest.raises(Exception, match="persona"):
        workbook(hostile, tmp_path / "z.xlsx", persona="nosuch")
    assert not (tmp_path / "y.xlsx").exists() and not (tmp_path / "z.xlsx").exists()


def test_a_failed_write_keeps_the_old_file(hostile: Project, tmp_path: Path) -> None:
    target = tmp_path / "book.xlsx"
    target.write_bytes(b"old")
    with pytest.raises(ExportError):
        workbook(hostile, target, since="2030-01-01")  # no events in the period
    assert target.read_bytes() == b"old"
    workbook(hostile, target)
    assert openpyxl.load_workbook(target).sheetnames[0] == "Stage funnel"
    assert [p.name for p in tmp_path.iterdir()] == ["book.xlsx"]


@given(st.text())
def test_mermaid_text_is_one_safe_token_that_decodes_back(text: str) -> None:
    token = _mermaid_text(text)
    assert token and not re.search(r"[#:;%,\s]", re.sub(r"#\d+;", "", token).replace(" ", "x"))
    assert not token.lower().startswith(("section", "title", "journey"))
    decoded = re.sub(r"#(\d+);", lambda m: chr(int(m.group(1))), token)
    assert decoded == (" ".join(text.split()) or "-")


def test_an_unwritable_target_is_one_line(
    hostile: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "locked.xlsx"
    target.write_bytes(b"old")
    monkeypatch.setattr(os, "access", lambda path, mode: False)  # as for a read-only file
    with pytest.raises(ExportError, match="permission denied"):
        workbook(hostile, target)
    assert target.read_bytes() == b"old"


def test_retention_sheet_is_the_registry_matrix(demo: tuple[Path, Project], book: Path) -> None:
    matrix = demo[1].run("retention_matrix", period="month").frame
    header, rows = _sheet_frame(openpyxl.load_workbook(book)["Återkomst"])
    assert header[:3] == ["Kohort", "Kohortstorlek", "Månad 0"]
    assert [r[1] for r in rows] == list(matrix["cohort_size"])
    first = [None if pd.isna(v) else v for v in matrix.iloc[0, 2:]]
    assert rows[0][2 : 2 + len(first)] == pytest.approx(first)


def test_kpi_values_take_the_unit_of_their_metric(demo: tuple[Path, Project], book: Path) -> None:
    kpis = demo[1].run("kpis").frame
    ws = openpyxl.load_workbook(book)["KPI er"]
    header, _ = _sheet_frame(ws)
    target = header.index("Mål")
    for i, metric in enumerate(kpis["metric"]):
        cell = ws.cell(row=i + 2, column=target + 1)
        assert cell.value == pytest.approx(kpis["target"].iloc[i])
        assert cell.number_format == ("0.0%" if metric.startswith("conversion") else "#,##0")


def test_workbook_command_passes_the_scope(demo: tuple[Path, Project], tmp_path: Path) -> None:
    folder, project = demo
    out = tmp_path / "anna.xlsx"
    persona = project.journey.personas[0].id
    args = ["--lang", "en", "--persona", persona, "--since", "2025-03-01", "--until", "2025-09-01"]
    res = cli("export", "workbook", str(out), "--project", str(folder), *args)
    assert res.exit_code == 0  # type: ignore[attr-defined]
    assert "wrote" in res.output  # type: ignore[attr-defined]
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames[0] == "Stage funnel" and wb.sheetnames[-1] == "Journey map"
    expected = project.run(
        "stages", persona=persona, since="2025-03-01", until="2025-09-01", lang="en"
    ).frame
    header, rows = _sheet_frame(wb["Stage funnel"])
    got = [r[header.index("Reached")] for r in rows[: len(expected)]]
    assert got == list(expected["reached"])
    assert got != list(project.run("stages").frame["reached"])
