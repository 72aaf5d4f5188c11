"""One exception tree: every user-facing error is a KundresaError that says its exit code
and HTTP status, and the CLI uses them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from kundresa import errors
from kundresa.cli import main
from kundresa.errors import InputError, KundresaError, NotFoundError, UsageError

# (class, where it is defined, exit code, HTTP status, also a ValueError)
TREE = [
    ("ProjectError", "kundresa.project", 1, 409, False),
    ("IngestError", "kundresa.store.warehouse", 1, 422, False),
    ("JourneyError", "kundresa.model.parse", 1, 422, False),
    ("EngineError", "kundresa.store.engines", 1, 503, False),
    ("PathsFileError", "kundresa.attribution.paths_file", 1, 422, True),
    ("ColumnError", "kundresa.ingest.columns", 1, 422, True),
    ("ReadError", "kundresa.ingest.readers", 1, 422, False),
    ("SourceError", "kundresa.ingest.sources._base", 1, 422, True),
    ("PredictError", "kundresa.analytics.predict", 1, 422, False),
]


@pytest.mark.parametrize(("name", "module", "code", "status", "value_error"), TREE)
def test_every_error_is_in_the_tree(
    name: str, module: str, code: int, status: int, value_error: bool
) -> None:
    import importlib

    cls = getattr(importlib.import_module(module), name)
    assert getattr(errors, name) is cls  # importable from both places
    assert issubclass(cls, KundresaError)
    assert (cls.exit_code, cls.http_status) == (code, status)
    assert issubclass(cls, ValueError) is value_error
    assert name in errors.__all__


def test_usage_and_not_found() -> None:
    assert issubclass(UsageError, ValueError) and issubclass(UsageError, KundresaError)
    assert (UsageError.exit_code, UsageError.http_status) == (2, 400)
    assert (NotFoundError.exit_code, NotFoundError.http_status) == (1, 404)
    assert InputError.http_status == 422
    assert errors.exit_code(ValueError()) == 1
    assert errors.http_status(ValueError()) == 500
    with pytest.raises(AttributeError):
        errors.NoSuchError  # noqa: B018


def test_errors_module_imports_nothing_heavy() -> None:
    code = (
        "import sys, kundresa.errors\n"
        "heavy = {'ibis', 'duckdb', 'pandas', 'pyarrow', 'numpy', 'yaml'} & set(sys.modules)\n"
        "kundresa_modules = {m for m in sys.modules if m.startswith('kundresa.')}\n"
        "print(sorted(heavy), sorted(kundresa_modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] ['kundresa.errors']"


def test_cli_maps_errors_through_the_tree(tmp_path: Path) -> None:
    runner = CliRunner()
    # A project folder that does not exist: ProjectError, exit 1, one line.
    r = runner.invoke(main, ["info", "--project", str(tmp_path / "nowhere")])
    assert r.exit_code == 1, r.output
    assert r.output.count("error:") == 1
    # A bad paths file is bad input (exit 1), although PathsFileError is also a ValueError.
    f = tmp_path / "paths.csv"
    f.write_text("path,total_conversions,total_conversion_value,total_null\nweb,x,0,0\n")
    r = runner.invoke(main, ["attribution", "--paths", str(f)])
    assert r.exit_code == 1, r.output
    assert "error:" in r.output and "Traceback" not in r.output


def test_cli_gives_a_usage_error_exit_2(tmp_path: Path) -> None:
    # A library UsageError raised inside a command is a usage error, exit 2.
    f = tmp_path / "paths.csv"
    f.write_text("path,total_conversions,total_conversion_value,total_null\nweb,1,0,0\n")
    r = CliRunner().invoke(main, ["attribution", "--paths", str(f), "--samples", "1"])
    assert r.exit_code == 2, r.output


def test_validate_refuses_a_misspelt_match_key(tmp_path: Path) -> None:
    f = tmp_path / "journey.yaml"
    f.write_text(
        "kundresa: 1\ntemplate: buyers-journey\ntouchpoints:\n"
        "  - {id: a, stage: awareness, match: {event: ad_click}}\n"
        "  - {id: b, stage: consideration, match: {event: page_view}}\n"
        "  - {id: c, stage: decision, match: {evnt: purchase}}\n"
    )
    r = CliRunner().invoke(main, ["validate", str(f)])
    assert r.exit_code == 1, r.output
    assert f"{f}:6:38: error: unknown key 'evnt'" in r.output
    assert "(known: event, where, nth)" in r.output
