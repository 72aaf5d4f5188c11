"""The editor's structured form in the page's language, and a save from it that keeps the
other languages' stage and touchpoint labels."""

from __future__ import annotations

import html as htmllib
import re
from pathlib import Path
from typing import Any

import pytest
import yaml


def form_fields(page: str) -> dict[str, str]:
    """The fields of the structured form as a browser would send them unchanged."""
    form = page[page.index('id="structured-form"') :]
    form = form[: form.index("</form>")]
    out: dict[str, str] = {}
    for tag in re.findall(r"<input [^>]*>", form):
        name = re.search(r'name="([^"]*)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if not name or 'type="checkbox"' in tag:
            continue
        out[htmllib.unescape(name[1])] = htmllib.unescape(value[1] if value else "")
    for name, body in re.findall(r'<textarea name="([^"]*)"[^>]*>(.*?)</textarea>', form, re.S):
        out[name] = htmllib.unescape(body)
    for name, body in re.findall(r'<select name="([^"]*)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r"<option selected>([^<]*)</option>", body)
        out[name] = htmllib.unescape(chosen[1]) if chosen else ""
    return out


@pytest.mark.parametrize(
    ("lang", "words"),
    [("sv", ["Etikett", "Namn", "Villkor (YAML)", "Tratt"]), ("da", ["Etiket", "Navn", "Tragt"])],
)
def test_form_headers_are_in_the_page_language(client: Any, lang: str, words: list[str]) -> None:
    page = client.get(f"/editor?lang={lang}").text
    heads = re.findall(r'<th scope="col">(.*?)</th>', page[page.index('id="structured-form"') :])
    heads = [h for h in heads if "<" not in h]
    for english in ("id", "name", "funnel", "goal", "match property", "equals", "nth"):
        assert english not in heads, (lang, english)
    assert "label (" not in " ".join(heads)
    for word in words:
        assert any(h.startswith(word) for h in heads), (word, heads)


def test_saving_the_form_keeps_labels_in_other_languages(make_client: Any, demo_copy: Path) -> None:
    journey = demo_copy / "journey.yaml"
    before = yaml.safe_load(journey.read_text(encoding="utf-8"))
    assert isinstance(before["stages"][0]["label"], dict)  # the demo has sv/da/en labels
    c = make_client(demo_copy)
    fields = form_fields(c.get("/editor?lang=sv").text)
    fields["stage.0.goal"] = "Be found, and be remembered"
    fields["action"] = "save"
    r = c.post("/editor/structured?lang=sv", data=fields)
    assert r.status_code == 200, r.text[:2000]
    after = yaml.safe_load(journey.read_text(encoding="utf-8"))
    assert after["stages"][0]["goal"] == "Be found, and be remembered"  # the save happened
    for old, new in zip(before["stages"], after["stages"], strict=True):
        assert new["label"] == old["label"], old["id"]
    labels = {t["id"]: t.get("label") for t in before.get("touchpoints") or []}
    assert any(isinstance(v, dict) for v in labels.values())
    assert {t["id"]: t.get("label") for t in after["touchpoints"]} == labels


def test_saving_the_form_writes_no_translation_nobody_typed(
    make_client: Any, demo_copy: Path
) -> None:
    # A stage with only an English label shows it in the label field of a Swedish journey;
    # sent back unchanged, it was saved as the Swedish label too ({en: X, sv: X}), hiding the
    # missing translation from every later reader of the file.
    journey = demo_copy / "journey.yaml"
    data = yaml.safe_load(journey.read_text(encoding="utf-8"))
    data["language"] = "sv"
    data["stages"][0]["label"] = {"en": "Awareness"}
    data["stages"][1]["label"] = {"en": "Consideration"}
    journey.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    c = make_client(demo_copy)
    fields = form_fields(c.get("/editor").text)
    assert (fields["stage.0.label"], fields["stage.1.label"]) == ("Awareness", "Consideration")
    fields["stage.1.label"] = "Övervägande"  # typed: a translation
    fields["action"] = "save"
    r = c.post("/editor/structured", data=fields)
    assert r.status_code == 200, r.text[:2000]
    after = yaml.safe_load(journey.read_text(encoding="utf-8"))
    assert after["stages"][0]["label"] == {"en": "Awareness"}
    assert after["stages"][1]["label"] == {"en": "Consideration", "sv": "Övervägande"}
