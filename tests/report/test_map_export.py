"""The journey map on one sheet: PDF, PNG and SVG, their text, size and fonts, and a layout
without overlapping text for any journey."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest
from click.testing import CliRunner
from fontTools.ttLib import TTFont
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from pypdf import PdfReader

from kundresa import Project
from kundresa.cli import main
from kundresa.demo.project import build_demo
from kundresa.report.export import ExportError
from kundresa.report.map_export import (
    PAPERS,
    Box,
    Dot,
    KpiFigure,
    MapFigures,
    StageFigures,
    Text,
    export_map,
    layout_map,
    map_figures,
    map_pdf,
    map_svg,
    overlapping_texts,
    render_map,
)
from kundresa.report.units import format_count

SVG = "{http://www.w3.org/2000/svg}"


def _plain(text: str) -> str:
    """Text with every kind of space as one space (Babel groups with no-break spaces)."""
    return re.sub(r"[\s\u00a0\u202f]+", " ", text)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    folder = tmp_path_factory.mktemp("mapexport") / "demo"
    build_demo(folder, customers=1200, seed=5, lang="sv").close()
    project = Project.open(folder, read_only=True)
    yield project
    project.close()


@pytest.mark.parametrize("lang", ["sv", "da", "en"])
def test_pdf_is_one_a3_landscape_page_with_every_stage_and_reached_number(
    demo: Project, lang: str
) -> None:
    data = render_map(demo, "pdf", paper="A3", lang=lang)
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) == 1
    page = reader.pages[0]
    width, height = float(page.mediabox.width), float(page.mediabox.height)
    mm = 25.4 / 72
    assert (round(width * mm), round(height * mm)) == (420, 297)  # A3, landscape
    text = _plain(page.extract_text())
    stages = demo.run("stages", scope=demo.scope(lang=lang)).frame
    for sid, reached in zip(stages["stage"], stages["reached"], strict=True):
        assert demo.journey.stage_label(sid, lang) in text
        assert _plain(format_count(int(reached), lang)) in text
    assert any(int(r) >= 1000 for r in stages["reached"])  # a thousands separator is checked
    # The fonts are embedded (TrueType font files in the PDF), not left to the reader.
    fonts = page["/Resources"]["/Font"]
    for ref in fonts.values():
        descendant = ref.get_object()
        descriptor = descendant.get("/FontDescriptor")
        assert descriptor is not None and "/FontFile2" in descriptor.get_object()


def test_swedish_and_danish_letters_have_glyphs_in_the_embedded_font() -> None:
    for name in ("DejaVuSansCondensed-LGC.ttf", "DejaVuSansCondensed-Bold-LGC.ttf"):
        data = (resources.files("kundresa.report") / "fonts" / name).read_bytes()
        cmap = TTFont(io.BytesIO(data)).getBestCmap()
        for ch in "åäöæøÅÄÖÆØé€–−≥≤·…⚠\u00a0\u202f":
            assert ord(ch) in cmap, (name, ch)


@pytest.mark.parametrize("paper", list(PAPERS))
def test_every_paper_fits_one_sheet_without_overlapping_text(demo: Project, paper: str) -> None:
    drawing = layout_map(map_figures(demo, lang="sv"), paper)
    assert overlapping_texts(drawing) == []
    _assert_on_the_sheet(drawing)
    width, height = PAPERS[paper]
    assert (drawing.width, drawing.height) == (width, height) and width > height


def _assert_on_the_sheet(drawing: object) -> None:
    k = drawing.scale  # type: ignore[attr-defined]
    for item in drawing.items:  # type: ignore[attr-defined]
        if isinstance(item, Text):
            left, top, right, bottom = item.bbox()
        elif isinstance(item, Box):
            left, top, right, bottom = item.x, item.y, item.x + item.w, item.y + item.h
        elif isinstance(item, Dot):
            left, top = item.x - item.r, item.y - item.r
            right, bottom = item.x + item.r, item.y + item.r
        else:
            xs = [p[0] for p in item.points]
            ys = [p[1] for p in item.points]
            left, top, right, bottom = min(xs), min(ys), max(xs), max(ys)
        assert left * k >= -0.01 and top * k >= -0.01, item
        assert right * k <= drawing.width + 0.01, item  # type: ignore[attr-defined]
        assert bottom * k <= drawing.height + 0.01, item  # type: ignore[attr-defined]


def test_png_is_the_sheet_at_the_resolution(demo: Project) -> None:
    data = render_map(demo, "png", paper="A4", lang="en", dpi=72)
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    width, height = image.size  # PDFium rounds each side up to whole pixels
    assert 0 <= width - PAPERS["A4"][0] < 1 and 0 <= height - PAPERS["A4"][1] < 1
    # Not a blank page: the dark stage header is there.
    colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50
    assert (0x17, 0x21, 0x2F) in {c for _, c in colours}


def test_svg_parses_embeds_the_fonts_and_holds_the_text(demo: Project) -> None:
    svg = render_map(demo, "svg", paper="A3", lang="sv").decode("utf-8")
    root = ET.fromstring(svg)
    assert root.get("width") == "420mm" and root.get("height") == "297mm"
    style = root.find(f"{SVG}style")
    assert style is not None and style.text and style.text.count("@font-face") == 2
    texts = {t.text for t in root.iter(f"{SVG}text")}
    for sid in demo.journey.stage_ids:
        assert demo.journey.stage_label(sid, "sv") in texts
    assert "Ambassadör" in texts


def test_numbers_and_kpis_are_drawn_by_hand_checked_figures() -> None:
    figures = MapFigures(
        name="Blomster & Co <b>",
        lang="da",
        stages=(
            StageFigures("se", "Se", "tofu", reached=20000, entered=20000, kpis=()),
            StageFigures(
                "købe",
                "Købe",
                "bofu",
                reached=4321,
                entered=4000,
                conversion=0.21605,
                dropped=15679,
                biggest_loss=True,
                touchpoints=(("Kurv", 4000, 5123),),
                channels=(("Butik", False, "owned"),),
                kpis=(KpiFigure("Konvertering", "25,0 %", "at_least", "21,6 %", False),),
            ),
        ),
        emotions=(("Anna", (1.0, -2.0)),),
    )
    drawing = layout_map(figures, "A4")
    texts = [t.text for t in drawing.texts()]
    for expected in ("20.000", "4.321", "21,6 %", "15.679", "4.000 · 5.123", "offline · ejet"):
        assert any(_plain(expected) == _plain(t) for t in texts), expected
    assert "misset" in texts and "mål ≥ 25,0 %" in texts
    assert overlapping_texts(drawing) == []
    svg = map_svg(drawing)
    assert "Blomster &amp; Co &lt;b&gt;" in svg and "<b>" not in svg
    ET.fromstring(svg)


_label = st.text(
    alphabet=st.sampled_from("abcdefghij klmnopåäöæøÅÆØ-/,.:()0123456789"), min_size=1, max_size=60
)


@st.composite
def _figures(draw: st.DrawFn) -> MapFigures:
    n = draw(st.integers(1, 9))
    stages = tuple(
        StageFigures(
            f"s{i}",
            draw(_label),
            draw(st.sampled_from([None, "tofu", "mofu", "bofu"])),
            draw(st.none() | _label),
            reached=draw(st.integers(0, 10**9)),
            entered=draw(st.integers(0, 10**9)),
            conversion=draw(st.none() | st.floats(0, 1)),
            dropped=draw(st.none() | st.integers(0, 10**9)),
            biggest_loss=draw(st.booleans()),
            touchpoints=tuple(
                (draw(_label), draw(st.integers(0, 10**7)), draw(st.integers(0, 10**7)))
                for _ in range(draw(st.integers(0, 6)))
            ),
            channels=tuple(
                (draw(_label), draw(st.none() | st.booleans()), None)
                for _ in range(draw(st.integers(0, 3)))
            ),
            kpis=tuple(
                KpiFigure(draw(_label), "50,0 %", "at_least", "12,3 %", draw(st.booleans()))
                for _ in range(draw(st.integers(0, 2)))
            ),
        )
        for i in range(n)
    )
    lanes = tuple(
        (draw(_label), tuple(draw(st.lists(_label, max_size=3).map("\n".join)) for _ in stages))
        for _ in range(draw(st.integers(0, 8)))
    )
    emotions = tuple(
        (draw(_label), tuple(draw(st.none() | st.floats(-2, 2)) for _ in stages))
        for _ in range(draw(st.integers(0, 4)))
    )
    personas = tuple(
        (draw(_label), tuple(draw(st.lists(_label, max_size=2))), ())
        for _ in range(draw(st.integers(0, 3)))
    )
    return MapFigures(
        draw(_label), draw(st.sampled_from(["sv", "da", "en"])), stages, lanes, emotions, personas
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(figures=_figures(), paper=st.sampled_from(list(PAPERS)))
def test_any_map_fits_one_sheet_and_no_text_overlaps(figures: MapFigures, paper: str) -> None:
    drawing = layout_map(figures, paper)
    assert overlapping_texts(drawing) == []
    _assert_on_the_sheet(drawing)


@pytest.mark.parametrize("paper", list(PAPERS))
def test_a_long_lane_label_over_empty_cells_stays_in_its_lane(paper: str) -> None:
    # Found by the property test above: a lane whose label wraps to more lines than its
    # cells take ran into the next lane's header ("Kanaler" met the label's last line).
    figures = MapFigures(
        "X",
        "sv",
        (StageFigures("s0", "A", channels=(("x", None, None),)),),
        lanes=(("aaaa bbbb cccc dddd eeee ffff gggg hhhh iiii jjjj 0", ("",)),),
    )
    drawing = layout_map(figures, paper)
    assert overlapping_texts(drawing) == []
    _assert_on_the_sheet(drawing)
    texts = {t.text: t for t in drawing.texts()}
    assert texts["iiii jjjj 0"].bbox()[3] <= texts["Kanaler"].bbox()[1]


@st.composite
def _tall_labels(draw: st.DrawFn) -> MapFigures:
    """Few stages with at most one short item per lane, under lane, legend and persona
    labels of up to four words: the lane column, not the cells, sets each lane's height."""
    long = st.lists(_label, min_size=1, max_size=4).map(" ".join)
    stages = tuple(
        StageFigures(
            f"s{i}",
            draw(_label),
            touchpoints=tuple((draw(_label), None, None) for _ in range(draw(st.integers(0, 1)))),
            channels=tuple((draw(_label), None, None) for _ in range(draw(st.integers(0, 1)))),
            kpis=tuple(
                KpiFigure(draw(_label), "1", "at_least", "2", None)
                for _ in range(draw(st.integers(0, 1)))
            ),
        )
        for i in range(draw(st.integers(1, 4)))
    )
    lanes = tuple((draw(long), tuple("" for _ in stages)) for _ in range(draw(st.integers(0, 3))))
    emotions = tuple(
        (draw(long), tuple(None for _ in stages)) for _ in range(draw(st.integers(0, 2)))
    )
    personas = tuple((draw(_label), (), ()) for _ in range(draw(st.integers(0, 2))))
    lang = draw(st.sampled_from(["sv", "da", "en"]))
    return MapFigures(draw(_label), lang, stages, lanes, emotions, personas)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(figures=_tall_labels(), paper=st.sampled_from(list(PAPERS)))
def test_lane_labels_taller_than_their_cells_stay_in_their_lane(
    figures: MapFigures, paper: str
) -> None:
    drawing = layout_map(figures, paper)
    assert overlapping_texts(drawing) == []
    _assert_on_the_sheet(drawing)


def test_overlap_check_can_fail() -> None:
    figures = MapFigures(name="X", lang="en", stages=(StageFigures("a", "A"),))
    drawing = layout_map(figures, "A4")
    first = drawing.texts()[0]
    clash = Text(first.x - 2, first.y + 1, "clash", first.size, anchor=first.anchor, width=30)
    drawing.items.append(clash)
    assert overlapping_texts(drawing) != []


def test_pdf_has_the_map_title_and_one_page_for_a_long_journey() -> None:
    stages = tuple(
        StageFigures(f"s{i}", f"Fas {i}", touchpoints=tuple((f"tp {j}", j, j) for j in range(25)))
        for i in range(12)
    )
    drawing = layout_map(MapFigures("Lång resa", "sv", stages), "A4")
    reader = PdfReader(io.BytesIO(map_pdf(drawing)))
    assert len(reader.pages) == 1
    assert reader.metadata is not None and reader.metadata.title == "Lång resa"
    assert "tp 24" in reader.pages[0].extract_text()


def test_cli_writes_each_format(demo: Project, tmp_path: Path) -> None:
    root = str(demo.root)
    runner = CliRunner()
    for name, magic in (("m.pdf", b"%PDF"), ("m.png", b"\x89PNG"), ("m.svg", b"<?xml")):
        target = tmp_path / name
        r = runner.invoke(
            main,
            [
                "export",
                "map",
                "--project",
                root,
                "--paper",
                "A4",
                "--lang",
                "en",
                "-o",
                str(target),
            ],
        )
        assert r.exit_code == 0, r.output
        assert target.read_bytes().startswith(magic)
    target = tmp_path / "persona.svg"
    r = runner.invoke(
        main,
        ["export", "map", "--project", root, "--format", "svg", "--persona", "private", "-o",
         str(target), "--since", "2025-01-01"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert b"Sara" in target.read_bytes()


def test_cli_bad_input_is_one_line_and_nothing_is_written(demo: Project, tmp_path: Path) -> None:
    root = str(demo.root)
    runner = CliRunner()
    target = tmp_path / "map.pdf"
    cases = [
        (["--persona", "nobody"], 2, "nobody"),
        (["--since", "2030-01-01"], 1, "the period from 2030-01-01 has no events"),
        (["--since", "2026-01-01", "--until", "2025-01-01"], 2, "since"),
        (["--paper", "A5"], 2, "'A5' is not one of A4, A3, A2."),
    ]
    for extra, code, words in cases:
        r = runner.invoke(main, ["export", "map", "--project", root, "-o", str(target), *extra])
        assert r.exit_code == code, (extra, r.output)
        assert words in r.output, (extra, r.output)
        assert "kundresa ingest" not in r.output  # the project has events, the scope none
        assert "Traceback" not in r.output
        assert not target.exists()
    r = runner.invoke(
        main, ["export", "map", "--project", root, "-o", str(tmp_path / "no" / "m.pdf")]
    )
    assert r.exit_code == 1 and "does not exist" in r.output


def test_a_failed_export_keeps_the_old_file(demo: Project, tmp_path: Path) -> None:
    target = tmp_path / "map.pdf"
    target.write_bytes(b"old")
    with pytest.raises(ExportError):
        export_map(demo, target, since="2030-01-01")
    with pytest.raises(ExportError, match="unknown map format"):
        export_map(demo, tmp_path / "map.gif")
    assert target.read_bytes() == b"old"
    assert not (tmp_path / "map.gif").exists()


def test_a_kpi_label_from_the_journey_file_is_shown(tmp_path: Path) -> None:
    import pandas as pd

    from kundresa.model.parse import parse_journey

    journey, problems = parse_journey(
        """
kundresa: 1
name: Shop
language: en
stages:
  - {id: look, label: Look}
  - id: buy
    label: Buy
    kpis: [{metric: conversion_from_previous, target: 0.5, label: Half of the lookers buy}]
touchpoints:
  - {id: seen, stage: look, match: {event: view}}
  - {id: paid, stage: buy, match: {event: purchase}}
"""
    )
    assert journey is not None, problems
    events = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "c"],
            "timestamp": ["2025-01-01", "2025-01-02", "2025-01-01", "2025-01-03"],
            "event": ["view", "purchase", "view", "view"],
        }
    )
    with Project.from_events(events, journey=journey) as project:
        figures = map_figures(project)
    kpi = figures.stages[1].kpis[0]
    assert (kpi.text, kpi.actual, kpi.target, kpi.met) == (
        "Half of the lookers buy",
        "33.3%",
        "50.0%",
        False,
    )
    assert [s.biggest_loss for s in figures.stages] == [False, True]


@pytest.mark.parametrize(
    ("name", "extra", "expected"),
    [
        ("m.txt", [], ".pdf, .png or .svg (not '.txt')"),
        ("m", [], ".pdf, .png or .svg (it has none)"),
        ("m.pdf", ["--format", "png"], ".png (not '.pdf')"),
        ("m.svg", ["--format", "pdf"], ".pdf (not '.svg')"),
    ],
)
def test_cli_refuses_a_name_whose_extension_is_not_the_format(
    demo: Project, tmp_path: Path, name: str, extra: list[str], expected: str
) -> None:
    # A target without .pdf/.png/.svg was written as PDF, and --format png wrote a PNG
    # under the name m.pdf.
    target = tmp_path / name
    r = CliRunner().invoke(
        main, ["export", "map", "--project", str(demo.root), "-o", str(target), *extra]
    )
    assert r.exit_code == 1, r.output
    assert len(r.output.strip().splitlines()) == 1, r.output
    assert str(target) in r.output and f"ending in {expected}" in r.output, r.output
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ExportError, match=re.escape(f"{target}: ")):
        export_map(demo, target, format=(extra[1] if extra else None))
    assert list(tmp_path.iterdir()) == []


def test_an_empty_project_exports_the_journey_files_map_with_a_note(tmp_path: Path) -> None:
    Project.init(tmp_path / "p").close()
    target = tmp_path / "map.pdf"
    r = CliRunner().invoke(main, ["export", "map", "--project", str(tmp_path / "p"), "-o",
                                  str(target)])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "No events yet" in r.output  # on stderr, as a warning
    text = _plain(PdfReader(target).pages[0].extract_text())
    assert "No events yet" in text and "Awareness" in text and "Advocacy" in text


def test_only_an_empty_period_is_an_error(demo: Project) -> None:
    with pytest.raises(ExportError, match="the period from 2030-01-01 until 2031-01-01 has no"):
        map_figures(demo, since="2030-01-01", until="2031-01-01")
    assert map_figures(demo).note is None


def test_text_the_font_cannot_print_is_named(tmp_path: Path) -> None:
    from kundresa.report.map_export import unprintable

    figures = MapFigures(
        "Карта · Χάρτης · Köp",  # Cyrillic and Greek are in the font
        "en",
        (StageFigures(id="a", label="Renew 🚀 now"), StageFigures(id="b", label="مرحلة التجديد")),
    )
    lacking = unprintable(layout_map(figures, "A4"))
    assert lacking == [
        "'Renew 🚀 now' (🚀 U+1F680)",
        "'مرحلة التجديد' (م U+0645, ر U+0631, ح U+062D, ل U+0644, …)",
    ]
    journey = tmp_path / "p" / "journey.yaml"
    Project.init(tmp_path / "p").close()
    journey.write_text(journey.read_text().replace("en: Awareness}", "en: Awareness 🚀}"))
    r = CliRunner().invoke(main, ["export", "map", "--project", str(tmp_path / "p"), "-o",
                                  str(tmp_path / "m.svg")])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "no glyph" in r.output and "'Awareness 🚀' (🚀 U+1F680)" in r.output


def test_exports_get_the_usual_file_mode(tmp_path: Path) -> None:
    import os
    import stat

    from kundresa.report.export import write_text

    old = os.umask(0o022)
    try:
        write_text(tmp_path / "a.html", "x")
        export_map_path = tmp_path / "m.svg"
        Project.init(tmp_path / "p").close()
        with Project.open(tmp_path / "p", read_only=True) as project:
            export_map(project, export_map_path)
        os.umask(0o027)
        write_text(tmp_path / "b.csv", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.html").stat().st_mode) == 0o644
    assert stat.S_IMODE(export_map_path.stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "b.csv").stat().st_mode) == 0o640
