"""The web pages take the words they share with the exports from kundresa.report.labels."""

from __future__ import annotations

import pytest

from kundresa.report import labels
from kundresa.web import i18n


@pytest.mark.parametrize("table", sorted(i18n._SHARED))
def test_shared_words_come_from_the_labels(table: str) -> None:
    words = getattr(labels, table)
    assert i18n._SHARED[table]
    for key in i18n._SHARED[table]:
        for index, lang in enumerate(("en", "sv", "da")):
            # A page's copy of the word, even one added later in the web's own table,
            # would show here as a different word.
            assert i18n.translate(key, lang) == words[key][index], (key, lang)


def test_a_label_changes_on_the_pages_too() -> None:
    """One source: the web table reads the labels' entry, not a copy of it."""
    assert i18n._TEXT["customers"] is labels.HEADINGS["customers"]
    assert i18n._TEXT["markov"] is labels.MODEL_LABELS["markov"]
