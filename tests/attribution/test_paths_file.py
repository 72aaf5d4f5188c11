"""The paths-file reader: the format's variants, and every bad input with its line."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kundresa.attribution.models import MODELS, attribute, markov
from kundresa.attribution.paths_file import PathsFileError, read_paths_file

HEADER = "path,total_conversions,total_conversion_value,total_null\n"


def write(tmp_path: Path, text: str | bytes, name: str = "paths.csv") -> Path:
    f = tmp_path / name
    if isinstance(text, bytes):
        f.write_bytes(text)
    else:
        f.write_text(text, encoding="utf-8")
    return f


def rows(df) -> list[tuple]:
    return [
        (p, c, v, n)
        for p, c, v, n in zip(df["path"], df["conversions"], df["value"], df["nulls"], strict=True)
    ]


def test_reads_the_common_format(tmp_path: Path) -> None:
    f = write(tmp_path, HEADER + "search > email>direct,2,80.5,10\nsocial,0,0,4\n")
    df = read_paths_file(f)
    assert list(df.columns) == ["path", "conversions", "value", "nulls"]
    assert rows(df) == [
        (("search", "email", "direct"), 2.0, 80.5, 10.0),
        (("social",), 0.0, 0.0, 4.0),
    ]
    assert df["conversions"].dtype == "float64"


def test_bom_quotes_semicolons_case_blank_lines_extra_columns(tmp_path: Path) -> None:
    text = (
        "\ufeffPath ; Total_Conversions;total_null;extra;TOTAL_CONVERSION_VALUE\n"
        '"a > b";1;2;x;"3.5"\n'
        "\n"
        '"c ; d";0;1;y;0\n'
    )
    df = read_paths_file(write(tmp_path, text), sep=";")
    assert rows(df) == [(("a > b",), 1.0, 3.5, 2.0), (("c", "d"), 0.0, 0.0, 1.0)]


def test_tab_delimited_and_custom_separator(tmp_path: Path) -> None:
    text = "path\ttotal_conversions\ttotal_null\n" + "a | b\t1\t0\n"
    df = read_paths_file(write(tmp_path, text), sep="|")
    assert rows(df) == [(("a", "b"), 1.0, 0.0, 0.0)]


def test_value_column_may_be_missing_and_empty_cells_are_zero(tmp_path: Path) -> None:
    f = write(tmp_path, "path,total_conversions,total_null\na>b,3,\nc,,2\n")
    assert rows(read_paths_file(f)) == [(("a", "b"), 3.0, 0.0, 0.0), (("c",), 0.0, 0.0, 2.0)]


def test_open_files_text_and_binary() -> None:
    text = HEADER + "a>b,1,2,3\n"
    for f in (io.StringIO(text), io.BytesIO(("\ufeff" + text).encode())):
        assert rows(read_paths_file(f)) == [(("a", "b"), 1.0, 2.0, 3.0)]


def test_multi_character_separator(tmp_path: Path) -> None:
    f = write(tmp_path, HEADER + "a -> b -> c,1,0,0\n")
    assert read_paths_file(f, sep="->")["path"][0] == ("a", "b", "c")


def test_single_channel_paths_without_other_separators_are_fine(tmp_path: Path) -> None:
    # GA-style source / medium names hold '/', which is not taken for a separator.
    f = write(tmp_path, HEADER + "google / cpc,1,0,0\nnewsletter,0,0,1\n")
    assert [p for p in read_paths_file(f)["path"]] == [("google / cpc",), ("newsletter",)]


def test_quoted_field_over_two_lines_keeps_line_numbers(tmp_path: Path) -> None:
    f = write(tmp_path, HEADER + '"a >\nb",1,0,0\nc,-1,0,0\n')
    with pytest.raises(PathsFileError, match=r"paths.csv line 4: total_conversions is negative"):
        read_paths_file(f)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (HEADER + "a>b,1,0,0\n" + ",1,0,0\n", "line 3: empty path"),
        (HEADER + "a,1,0,0\n\n  ,1,0,0\n", "line 4: empty path"),
        (HEADER + "a,1,0,-2\n", r"line 2: total_null is negative \(-2\)"),
        (HEADER + "a,1,-0.5,0\n", r"line 2: total_conversion_value is negative \(-0.5\)"),
        (HEADER + "a,one,0,0\n", r"line 2: total_conversions is not a number \('one'\)"),
        (HEADER + "a,1,0,nan\n", r"line 2: total_null is not a finite number \('nan'\)"),
        (HEADER + "a,inf,0,0\n", "line 2: total_conversions is not a finite number"),
        (HEADER + "a>>b,1,0,0\n", r"line 2: empty channel name in path 'a>>b'"),
        (HEADER + "a>b>,1,0,0\n", "line 2: empty channel name"),
        (HEADER + "a,1\n", r"line 2: 2 fields, expected 4"),
        (
            "path,total_conversions,total_conversion_value\na,1,0\n",
            r"paths.csv line 1: missing column total_null \(columns are: path, total_conversions, "
            r"total_conversion_value\)",
        ),
        ("route,total_conversions,total_null\na,1,0\n", "missing column path"),
        ("path,total_null\na,1\n", "missing column total_conversions"),
        ("", "paths.csv: the file is empty"),
        ("\n  \n", "paths.csv: the file is empty"),
        (HEADER, r"paths.csv: no paths \(the file has a header but no rows\)"),
        (HEADER + "\n\n", "no paths"),
    ],
)
def test_bad_input_names_the_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    f = write(tmp_path, text)
    with pytest.raises(PathsFileError, match=message) as info:
        read_paths_file(f)
    assert str(info.value).startswith(str(f))
    assert isinstance(info.value, ValueError)


def test_separator_that_splits_nothing(tmp_path: Path) -> None:
    f = write(tmp_path, HEADER + "direct,1,0,0\nsearch > email,1,0,0\nsocial>email,0,0,1\n")
    with pytest.raises(
        PathsFileError,
        match=r"paths.csv line 3: the separator '\|' splits no path; paths look joined by '>'",
    ):
        read_paths_file(f, sep="|")
    # The right separator reads it.
    assert len(read_paths_file(f)) == 3


def test_separator_check_picks_the_most_common_other_separator(tmp_path: Path) -> None:
    f = write(tmp_path, HEADER + '"a,b",1,0,0\nc|d,1,0,0\ne|f,1,0,0\n')
    with pytest.raises(PathsFileError, match=r"line 3: .* paths look joined by '\|'"):
        read_paths_file(f)


def test_empty_separator(tmp_path: Path) -> None:
    with pytest.raises(PathsFileError, match="separator must be a non-empty string"):
        read_paths_file(write(tmp_path, HEADER + "a,1,0,0\n"), sep="")


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(PathsFileError, match=r"nope.csv: cannot read the file"):
        read_paths_file(tmp_path / "nope.csv")
    with pytest.raises(PathsFileError, match=r"cannot read the file"):
        read_paths_file(tmp_path)  # a directory
    f = write(tmp_path, HEADER.encode() + b"caf\xe9,1,0,0\n")
    with pytest.raises(PathsFileError, match=r"paths.csv: cannot read the file: not UTF-8"):
        read_paths_file(f)


def test_row_order_is_kept_and_duplicates_are_not_merged(tmp_path: Path) -> None:
    f = write(tmp_path, HEADER + "b,1,0,0\na,0,0,1\nb,2,0,0\n")
    assert [p for p in read_paths_file(f)["path"]] == [("b",), ("a",), ("b",)]


# -- invariance to the order of the lines -----------------------------------------------------

line_st = st.tuples(
    st.lists(
        st.sampled_from(["search", "email", "social", "direct", "tv"]), min_size=1, max_size=5
    ),
    st.integers(0, 5),
    st.sampled_from([0.0, 12.5, 40.0]),
    st.integers(0, 5),
)


@settings(max_examples=40, deadline=None)
@given(st.lists(line_st, min_size=1, max_size=15), st.randoms(use_true_random=False))
def test_every_model_is_invariant_to_the_order_of_the_lines(lines, rnd) -> None:  # type: ignore[no-untyped-def]
    def text(ls: list) -> str:
        return HEADER + "".join(f"{' > '.join(p)},{c},{v * c},{n}\n" for p, c, v, n in ls)

    shuffled = list(lines)
    rnd.shuffle(shuffled)
    a = read_paths_file(io.StringIO(text(lines)))
    b = read_paths_file(io.StringIO(text(shuffled)))
    for model in MODELS:
        pd.testing.assert_frame_equal(
            attribute(a, model), attribute(b, model), check_exact=False, rtol=1e-9, atol=1e-9
        )
    ma, mb = markov(a, order=2), markov(b, order=2)
    pd.testing.assert_frame_equal(ma.transitions, mb.transitions, check_exact=False, rtol=1e-12)
    pd.testing.assert_frame_equal(
        ma.removal_effects, mb.removal_effects, check_exact=False, rtol=1e-9, atol=1e-9
    )
