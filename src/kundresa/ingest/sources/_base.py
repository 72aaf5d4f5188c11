"""The source registry and the plain ``events`` source (see the package docstring)."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, TypeVar

from kundresa.errors import InputError
from kundresa.ingest.readers import RawBatch, iter_raw_batches, read_header

ANONYMOUS_ID = "anonymous_id"
KIND = "_kind"
KIND_EVENT = "event"
KIND_IDENTIFY = "identify"

SAMPLE_ROWS = 200


class SourceError(InputError, ValueError):
    """A file is not what its ``--source`` says, or no source recognises it."""


@dataclass(frozen=True)
class Sample:
    """What detection sees of a file: its columns and its first records (strings)."""

    path: str
    header: list[str]
    records: list[dict[str, str | None]]

    def has(self, *columns: str) -> bool:
        """Whether every column is present (case-insensitive)."""
        lower = {c.lower() for c in self.header}
        return all(c.lower() in lower for c in columns)

    def values(self, column: str) -> list[str]:
        """The non-null values of ``column`` in the sampled records (case-insensitive)."""
        for c in self.header:
            if c.lower() == column.lower():
                return [v for r in self.records if (v := r.get(c)) is not None]
        return []


def article(title: str) -> str:
    """``title`` with its indefinite article, for a message such as ``not an Amplitude
    export``.

    Examples
    --------
    >>> article("Amplitude export"), article("events file"), article("Segment export")
    ('an Amplitude export', 'an events file', 'a Segment export')
    """
    return f"{'an' if title[:1].lower() in 'aeiou' else 'a'} {title}"


class Source:
    """One export format. Subclasses set :attr:`name` and :attr:`title` and override
    :meth:`detect`, :meth:`columns` and :meth:`transform`."""

    name: ClassVar[str]
    title: ClassVar[str]

    def __init__(self, **options: str | None) -> None:
        # Source options given on the command line (e.g. --event for surveys).
        self.options = options

    #: Whether :meth:`confirm` looks at a file's first records (they are read only then).
    confirms: ClassVar[bool] = False

    def detect(self, sample: Sample) -> int:
        """How sure this source is that ``sample`` is its format: 0 (not it) to 100."""
        return 0

    def confirm(self, sample: Sample) -> None:
        """:class:`SourceError` when a file named this source (``--source NAME``) has the
        columns :meth:`columns` checks but its first records show it is another export (the
        fields that tell are nested in a column); nothing when :attr:`confirms` is false."""

    def columns(self, header: list[str]) -> list[str]:
        """The columns :meth:`transform` produces for a file with ``header`` (used to check
        a file's columns before anything is loaded)."""
        return header

    def transform(self, batch: RawBatch) -> RawBatch:
        """Source columns of one batch → canonical columns; keeps ``lines`` and
        ``rejected``."""
        return batch


SOURCES: dict[str, type[Source]] = {}

S = TypeVar("S", bound=type[Source])


def register(cls: S) -> S:
    """Class decorator: make a source available to ``--source`` and to detection."""
    SOURCES[cls.name] = cls
    return cls


@register
class EventsSource(Source):
    """A plain events file: one row per event with an id, a time and an event name
    (README, "Loading events"). The fallback when no other source recognises a file."""

    name = "events"
    title = "events file"

    def detect(self, sample: Sample) -> int:
        from kundresa.ingest.columns import ColumnError, map_columns

        try:
            map_columns(sample.header, source=sample.path)
        except ColumnError:
            return 0
        return 1


_loaded = False


def _load_all() -> None:
    """Import every source module of this package once (each registers itself)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    package = Path(__file__).parent
    for info in pkgutil.iter_modules([str(package)]):
        if not info.name.startswith("_"):
            importlib.import_module(f"kundresa.ingest.sources.{info.name}")


def source_names() -> list[str]:
    """Every registered source name, ``events`` first."""
    _load_all()
    return ["events", *sorted(n for n in SOURCES if n != "events")]


def get_source(name: str, **options: str | None) -> Source:
    """The source called ``name``; :class:`SourceError` naming the known ones otherwise."""
    _load_all()
    cls = SOURCES.get(name)
    if cls is None:
        raise SourceError(
            f"unknown source {name!r}; choose one of auto, {', '.join(source_names())}"
        )
    return cls(**options)


def read_sample(
    path: str | Path, rows: int = SAMPLE_ROWS, *, encoding: str | None = None
) -> Sample:
    """The header and first ``rows`` records of a file, as strings (``encoding`` forces a
    text file's encoding, else it is sniffed)."""
    header = read_header(path, encoding)
    records: list[dict[str, str | None]] = []
    for batch in iter_raw_batches(path, encoding=encoding):
        table = batch.table().slice(0, rows - len(records))
        records.extend(table.to_pylist())
        if len(records) >= rows:
            break
    return Sample(str(path), header, records)


def detect_source(sample: Sample, **options: str | None) -> Source:
    """The source most sure of ``sample`` (ties: registry order); :class:`SourceError` when
    none recognises it."""
    _load_all()
    best: tuple[int, Callable[..., Source]] | None = None
    for cls in SOURCES.values():
        score = cls(**options).detect(sample)
        if score > 0 and (best is None or score > best[0]):
            best = (score, cls)
    if best is None:
        raise SourceError(
            f"{sample.path}: not a recognised export (columns: {', '.join(sample.header)}); "
            f"name the source with --source ({', '.join(source_names())}) or the columns "
            "with --customer-col, --time-col and --event-col"
        )
    return best[1](**options)
