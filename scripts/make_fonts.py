"""Make the map export's fonts: DejaVu Sans Condensed (regular and bold) cut down to the
European scripts a journey map is written in (Latin with its accents, Greek, Cyrillic,
punctuation, currency, arrows and math signs; no kerning or ligature tables, which the map
does not use), so the package and every SVG that embeds them stay small. Other scripts
(Arabic, Hebrew, CJK) and emoji are not in DejaVu Sans Condensed; the export names text
that holds them (``kundresa.report.map_export.unprintable``).

Run from the repository root with the dev tools (fontTools) and Debian's fonts-dejavu-core::

    .venv/bin/python scripts/make_fonts.py /usr/share/fonts/truetype/dejavu

The DejaVu changes are in the public domain and the Bitstream Vera glyphs they build on are
under the Bitstream Vera licence (src/kundresa/report/fonts/LICENSE-DejaVu.txt), which allows
modified copies under a name without "Bitstream" or "Vera".
"""

from __future__ import annotations

import sys
from pathlib import Path

from fontTools import subset

RANGES = (
    (0x0020, 0x024F),  # Basic Latin, Latin-1 (å ä ö æ ø), Latin Extended-A/B
    (0x0300, 0x036F),  # combining accents
    (0x0370, 0x03FF),  # Greek and Coptic
    (0x0400, 0x052F),  # Cyrillic and its supplement
    (0x1E00, 0x1EFF),  # Latin Extended Additional (Vietnamese, Welsh)
    (0x1F00, 0x1FFF),  # Greek Extended (polytonic)
    (0x2000, 0x206F),  # punctuation: dashes, quotes, bullet, thin and narrow spaces
    (0x20A0, 0x20CF),  # currency
    (0x2100, 0x214F),  # letterlike symbols
    (0x2190, 0x2199),  # arrows
    (0x2212, 0x2212),  # minus sign (Babel's in Swedish)
    (0x2248, 0x2248),  # ≈
    (0x2260, 0x2265),  # ≠ ≤ ≥
    (0x25A0, 0x25CF),  # squares, triangles, circles
    (0x26A0, 0x26A0),  # ⚠
    (0x2713, 0x2717),  # ✓ ✗
)
FONTS = {
    "DejaVuSansCondensed.ttf": "DejaVuSansCondensed-LGC.ttf",
    "DejaVuSansCondensed-Bold.ttf": "DejaVuSansCondensed-Bold-LGC.ttf",
}


def main(source: str) -> None:
    here = Path(__file__).resolve().parent.parent / "src" / "kundresa" / "report" / "fonts"
    unicodes = [c for lo, hi in RANGES for c in range(lo, hi + 1)]
    for name, target in FONTS.items():
        options = subset.Options()
        options.hinting = False  # drawn at print sizes and scaled; hints only add bytes
        options.name_IDs = ["*"]
        options.notdef_outline = True
        options.layout_features = []
        options.drop_tables += ["GPOS", "GSUB", "GDEF", "kern", "FFTM"]
        font = subset.load_font(str(Path(source) / name), options)
        sub = subset.Subsetter(options)
        sub.populate(unicodes=unicodes)
        sub.subset(font)
        subset.save_font(font, str(here / target), options)
        print(here / target, (here / target).stat().st_size)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/fonts/truetype/dejavu")
