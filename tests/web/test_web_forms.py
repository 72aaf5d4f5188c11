"""The pages' forms: choices from the journey and the data, inline errors with status 422
and the form as typed, and what a project without events says."""

from __future__ import annotations

import os
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kundresa.analyses import Param
from kundresa.project import Project
from kundresa.web.choices import form_choices
from kundresa.web.params import read_form
from kundresa.web.site import fields_named

_VOID = frozenset({"input", "meta", "link", "br", "hr", "img", "col", "area", "source", "wbr"})


class Node:
    """An element of a parsed page: ``tag``, ``attrs``, children and text."""

    def __init__(self, tag: str, attrs: dict[str, str]) -> None:
        self.tag, self.attrs, self.children, self.texts = tag, attrs, [], []  # type: ignore[var-annotated]

    def __getitem__(self, name: str) -> str:
        return self.attrs[name]

    def get(self, name: str) -> str | None:
        return self.attrs.get(name)

    def walk(self) -> Any:
        for child in self.children:
            yield child
            yield from child.walk()

    def find_all(self, tag: str | None = None, **attrs: Any) -> list[Node]:
        wanted = {k.rstrip("_").replace("_", "-"): v for k, v in attrs.items()}
        return [
            n
            for n in self.walk()
            if (tag is None or n.tag == tag)
            and all((v is True and k in n.attrs) or n.attrs.get(k) == v for k, v in wanted.items())
        ]

    def find(self, tag: str | None = None, **attrs: Any) -> Node | None:
        found = self.find_all(tag, **attrs)
        return found[0] if found else None

    def get_text(self, sep: str = "") -> str:
        return sep.join([*self.texts, *(c.get_text(sep) for c in self.children)])


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in _VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].texts.append(data)


def soup(response: Any) -> Node:
    builder = _Builder()
    builder.feed(response.text)
    return builder.root


def options(page: Node, datalist: str) -> list[str]:
    found = page.find("datalist", id=datalist)
    assert found is not None, datalist
    return [o["value"] for o in found.find_all("option")]


def test_funnel_offers_stages_touchpoints_and_events_seen(client: Any) -> None:
    page = soup(client.get("/funnel"))
    steps = options(page, "step-choices")
    journey = client.app.state.project.project.journey
    assert [f"stage:{s}" for s in journey.stage_ids] == steps[: len(journey.stage_ids)]
    assert {f"touchpoint:{tp.id}" for tp in journey.touchpoints} <= set(steps)
    assert "purchase" in steps and "page_view" in steps
    assert {"persona", "channel", "variant", "device"} <= set(options(page, "segment-choices"))
    # Every offered name is one the registry reads: a funnel of two of them counts someone.
    tp = next(s for s in steps if s.startswith("touchpoint:"))
    data = client.get("/api/funnel", params={"steps": ["stage:awareness", tp]}).json()
    assert data["funnel"][0]["count"] > 0


def test_touchpoint_step_from_the_list_counts_like_the_map(client: Any) -> None:
    """The funnel builder's touchpoint choice counts the customers the map shows for it."""
    shown = client.get("/api/map").json()
    tp = shown["stages"][0]["touchpoints"][0]
    page = client.get("/funnel", params={"steps": [f"touchpoint:{tp['id']}", "purchase"]})
    assert page.status_code == 200
    table = soup(page).find("table", id="event-funnel")
    first = table.find("tbody").find_all("tr")[0].find_all("td")[2]
    assert first["data-value"] == str(tp["customers"])


def test_compare_offers_segments_and_their_values(client: Any) -> None:
    page = soup(client.get("/compare?by=persona"))
    personas = [p.id for p in client.app.state.project.project.journey.personas]
    assert options(page, "segment-values") == personas
    labels = [o["label"] for o in page.find("datalist", id="segment-values").find_all("option")]
    assert labels[0] != personas[0]  # a persona is offered by its name
    page = soup(client.get("/compare?by=variant"))
    assert sorted(options(page, "segment-values")) == ["A", "B"]
    assert "purchase" in options(page, "event-choices")


def test_form_choices_are_most_frequent_first(demo_dir: Path) -> None:
    with Project.open(demo_dir, read_only=True) as project:
        c = form_choices(project, by="channel")
        counts = project.events.group_by("event").aggregate(n=project.events.count())
        by_count = counts.to_pandas().sort_values(["n", "event"], ascending=[False, True])
        assert c["events"] == list(by_count["event"])[: len(c["events"])]
        channels = project.events["channel"].value_counts().to_pandas()
        top = channels.dropna().sort_values(channels.columns[1], ascending=False)
        assert c["values"][0] == (top.iloc[0, 0], top.iloc[0, 0])
        assert c["segments"][:2] == ["persona", "channel"]


def test_form_choices_read_the_names_once_per_version(
    demo_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another segment or language reads only that segment's values: the event names and
    property keys are kept per project version (and read again after a change of data)."""
    import kundresa.web.choices as module

    read: list[int] = []
    top = module._top

    def counted(table: Any, limit: int) -> list[str]:
        read.append(limit)
        return top(table, limit)

    monkeypatch.setattr(module, "_top", counted)
    with Project.open(demo_dir, read_only=True) as project:
        plain = form_choices(project, lang="en")
        assert sorted(read) == sorted([module.TOP_EVENTS, module.TOP_PROPERTIES])
        read.clear()
        variant = form_choices(project, lang="sv", by="variant")
        assert read == [module.TOP_VALUES] and sorted(v for v, _ in variant["values"]) == ["A", "B"]
        assert (variant["events"], variant["properties"]) == (plain["events"], plain["properties"])
        read.clear()
        assert form_choices(project, lang="da", by="variant")["values"] == variant["values"]
        assert read == []
        project.data_changed()
        form_choices(project, by="variant")
        assert len(read) == 3


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ("/funnel?window=forever&steps=page_view&steps=purchase", "window", "not a duration"),
        ("/funnel?order=sideways", "order", "is not one of"),
        ("/funnel?steps=purchase", "steps", "at least two steps"),
        ("/funnel?since=2024-99-01", "since", "not a date"),
        ("/paths?steps=99", "steps", "range 1..20"),
        ("/retention?period=century", "period", "is not one of"),
        ("/compare?by=variant&a=A&b=Z", "b", ""),
        ("/compare?by=persona&a=private&b=private", "a", "a and b: both are 'private'"),
        ("/compare?by=persona&a=private&b=private", "b", "a and b: both are 'private'"),
        ("/compare?by=persona&a=private", "b", "b: give the segment"),
        ("/funnel?steps=stage:nowhere&steps=purchase", "steps", "stages: awareness"),
        ("/?persona=nobody", "persona", "no persona"),
        # Refused by the app's guard before the page runs (web/limits.py): the same answer.
        ("/funnel?window=99999999d", "window", "at most 3650 days"),
        ("/funnel?by=a%00b", "by", "control character"),
    ],
)
def test_a_bad_value_is_shown_next_to_its_field(
    client: Any, query: str, field: str, words: str
) -> None:
    r = client.get(query)
    assert r.status_code == 422
    page = soup(r)
    control = page.find(id=f"field-{field}")
    assert control is not None and control.get("aria-invalid") == "true"
    error = page.find(id=f"error-{field}")
    assert error is not None and words in error.get_text()
    assert control["aria-describedby"] == f"error-{field}"
    summary = page.find(id="form-errors")
    assert summary["role"] == "alert" and summary.find("a")["href"].startswith("#field-")
    # The rest of the page is drawn (with that parameter at its default).
    assert page.find("main").find("form") is not None and page.find("h1") is not None


def test_a_message_is_shown_only_under_the_field_it_names(client: Any) -> None:
    # b is missing: the message is b's, not under a (whose value is fine), and the page is
    # drawn with the defaults.
    page = soup(client.get("/compare?by=persona&a=private"))
    assert page.find(id="error-a") is None
    assert page.find(id="error-b").get_text().startswith("b: ")
    assert page.find("main").find("table") is not None


def test_the_form_keeps_what_was_typed(client: Any) -> None:
    r = client.get("/funnel?steps=page_view&steps=purchase&window=forever&order=any&by=device")
    page = soup(r)
    assert r.status_code == 422
    assert page.find("input", name="window")["value"] == "forever"
    builder = page.find("form", id="funnel-builder")
    steps = [i["value"] for i in builder.find_all("input", name="steps")]
    assert steps[:2] == ["page_view", "purchase"] and steps[2:] == ["", ""]
    assert page.find("select", name="order").find("option", selected=True)["value"] == "any"
    assert page.find("input", name="by")["value"] == "device"


def test_an_unknown_language_is_refused_as_by_the_twin(client: Any) -> None:
    """422 as /api/funnel answers (it was ignored, 200); the page is still drawn, the
    message linking to the language switch (tests/web/test_error_shapes.py)."""
    r = client.get("/funnel?lang=fi")
    assert r.status_code == 422 and 'id="form-errors"' in r.text and 'href="#field-lang"' in r.text
    assert 'id="funnel-form"' in r.text or "<form" in r.text


def test_the_json_twin_still_refuses_a_bad_value(client: Any) -> None:
    r = client.get("/api/funnel?order=sideways")
    assert r.status_code == 422
    r = client.get("/api/funnel?window=forever&steps=a&steps=b")
    assert r.status_code == 422 and "window" in r.json()["detail"]


def test_a_page_without_a_fault_in_the_form_is_a_plain_error(
    make_client: Any, demo_copy: Path
) -> None:
    c = make_client(demo_copy)
    (demo_copy / "journey.yaml").write_text("kundresa: 1\nname: x\nstages: 3\n", "utf-8")
    os.utime(demo_copy / "journey.yaml", ns=(time.time_ns(), time.time_ns() + 10**9))
    r = c.get("/funnel")
    assert r.status_code == 409 and "stages" in soup(r).find("p", class_="problem").get_text()


def test_a_project_without_events_says_what_to_do(make_client: Any, tmp_path: Path) -> None:
    Project.init(tmp_path / "empty").close()
    c = make_client(tmp_path / "empty")
    for path in ("/funnel", "/paths", "/retention", "/bottlenecks", "/compare", "/attribution"):
        r = c.get(path)
        assert r.status_code == 200, path
        page = soup(r)
        guide = page.find(id="no-events")
        assert guide is not None, path
        text = guide.get_text(" ")
        assert "kundresa ingest" in text and "kundresa demo" in text
        assert guide.find("a", href="/data") is not None
        assert page.find(data_chart=True) is None  # no empty charts
    # The map still draws the journey, under the same guidance; the API answers as before.
    page = soup(c.get("/"))
    assert page.find(id="no-events") is not None and page.find(id="journey-map") is not None
    assert c.get("/api/funnel").status_code == 200
    # Once there are events, the guidance is gone.
    events = tmp_path / "events.csv"
    events.write_text(
        "customer_id,timestamp,event\nc1,2025-01-01T10:00:00,page_view\n", encoding="utf-8"
    )
    page = c.post("/data", files={"file": ("events.csv", events.read_bytes(), "text/csv")})
    for _ in range(300):  # the upload is a job: wait until it is over
        if 'id="upload-job"' not in page.text:
            break
        time.sleep(0.1)
        page = c.get(page.url)
    assert soup(c.get("/funnel")).find(id="no-events") is None


# -- reading a form and naming the field of an error -----------------------------------------

_PARAMS = [
    Param("limit", "int", 200, min=1, max=10_000),
    Param("order", choices=("ordered", "strict", "any"), default="ordered"),
    Param("dropped", "bool", False),
    Param("steps", multiple=True),
]
_TEXT = st.one_of(
    st.sampled_from(["", "0", "1", "10000", "10001", "-3", "2.5", "true", "off", "any", "x"]),
    st.text(max_size=8),
)


@given(st.dictionaries(st.sampled_from([p.name for p in _PARAMS]), st.lists(_TEXT, max_size=3)))
def test_read_form_agrees_with_the_registry(typed: dict[str, list[str]]) -> None:
    """A brute-force reference: each value alone, checked by the registry's declaration."""
    values, errors = read_form(_PARAMS, typed)
    for p in _PARAMS:
        texts = [t for t in typed.get(p.name, []) if t != "" or p.type == "bool"]
        if not texts:
            assert values[p.name] == p.default and p.name not in errors
            continue
        raw: object = texts if p.multiple else texts[-1]
        if p.type == "bool":
            low = str(raw).strip().lower()
            raw = (
                True
                if low in {"true", "1", "on", "yes"}
                else (False if low in {"false", "0", "off", "no", ""} else raw)
            )
        try:
            want = p.check(raw)
        except ValueError:
            assert p.name in errors and values[p.name] == p.default
            assert errors[p.name].startswith(p.name)
        else:
            assert p.name not in errors and values[p.name] == want


@given(
    st.sampled_from(["steps", "window", "a", "by", "since"]),
    st.text(alphabet=st.characters(blacklist_characters=":"), max_size=40),
)
def test_a_message_names_its_field_first(name: str, rest: str) -> None:
    names = ["steps", "window", "a", "b", "by", "since", "until", "persona"]
    assert fields_named(f"{name}: {rest}", names) == [name]
