"""Poll results as a bar chart PNG and as text bars (bot/charts.py): no server, no database."""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Sequence

import pytest
from PIL import Image, ImageChops, ImageFilter

from bot import charts
from bot.charts import (
    BAR,
    FOOTER_LINE,
    GAP,
    LABEL_WIDTH,
    MARGIN,
    ROW,
    TITLE_LINE,
    TRACK,
    WIDTH,
    bar_chart_png,
    chart_height,
    complex_layout,
    graphemes,
    shorten,
    text_bars,
)

# Arabic's contextual forms by name (what a reshaper such as arabic_reshaper produces): a
# word drawn by the basic layout from these, in visual order, looks as the shaped word should.
FORM = unicodedata.lookup


def chart(**changes: object) -> bytes:
    values: dict[str, object] = {
        "title": "Join the campaign?",
        "labels": ["Yes", "No", "Abstain"],
        "counts": [14, 7, 1],
        "shares": [64, 32, 4],
        "footer": "Turnout: 22 of 40 (quorum 20: met)",
        "right_to_left": False,
    }
    values.update(changes)
    return bar_chart_png(**values)  # type: ignore[arg-type]


def picture(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    return image.convert("RGB")


def runs(image: Image.Image, y: int, colour: tuple[int, int, int]) -> list[tuple[int, int]]:
    """The runs of exactly ``colour`` in row y, as (first x, length)."""
    found: list[tuple[int, int]] = []
    start = None
    for x in range(image.width + 1):
        inside = x < image.width and image.getpixel((x, y)) == colour
        if inside and start is None:
            start = x
        elif not inside and start is not None:
            found.append((start, x - start))
            start = None
    return found


def row_middles(options: int, title_lines: int = 1) -> list[int]:
    top = MARGIN + title_lines * TITLE_LINE + GAP
    return [top + index * ROW + ROW // 2 for index in range(options)]


def bars(image: Image.Image, options: int) -> list[tuple[int, int]]:
    """Each option's bar as (first x, length); (0, 0) for no bar."""
    measured = []
    for y in row_middles(options):
        found = runs(image, y, BAR)
        assert len(found) <= 1, f"row {y}: more than one run of the bar colour"
        measured.append(found[0] if found else (0, 0))
    return measured


def require_complex_layout() -> None:
    if not complex_layout():
        pytest.fail(
            "Pillow has no complex text layout (libraqm): Arabic cannot be shaped. Install "
            "libfribidi (Debian: apt-get install libfribidi0) and Pillow's wheel, or build "
            "Pillow with libraqm; PIL.features.check('raqm') must be True."
        )


def test_chart_is_a_png_of_the_documented_size() -> None:
    image = picture(chart())
    expected = MARGIN + TITLE_LINE + GAP + 3 * ROW + GAP + FOOTER_LINE + MARGIN
    assert image.size == (WIDTH, expected) == (WIDTH, chart_height(1, 3))
    more = picture(chart(labels=["a", "b", "c", "d"], counts=[1, 1, 1, 1], shares=[25] * 4))
    assert more.height == image.height + ROW


def test_long_question_wraps_over_three_lines_at_most() -> None:
    words = "Should the working group send a delegation to the next session in Geneva? "
    assert picture(chart(title=(words * 5)[:300])).height == chart_height(3, 3)
    assert picture(chart(title="x" * 300)).height == chart_height(3, 3)  # no space to break at
    assert picture(chart(title=words)).height == chart_height(2, 3)
    assert picture(chart(title="Join the campaign?")).height == chart_height(1, 3)


def test_same_results_give_the_same_bytes() -> None:
    first = chart()
    charts._font.cache_clear()
    assert chart() == first
    assert chart(counts=[14, 6, 2], shares=[64, 27, 9]) != first


def test_a_bar_is_as_long_as_its_share_of_all_selections() -> None:
    counts = [10, 5, 0, 3, 2]
    image = picture(chart(labels=list("abcde"), counts=counts, shares=[50, 25, 0, 15, 10]))
    measured = bars(image, len(counts))
    track = runs(image, row_middles(len(counts))[2], TRACK)  # broken by the "0 (0%)"
    track_start, full = track[0][0], track[-1][0] + track[-1][1] - track[0][0]
    assert measured[2] == (0, 0)  # no vote: the track alone, all of it
    assert full > 300
    for (start, length), count in zip(measured, counts, strict=True):
        if count:
            assert start == track_start
            assert abs(length - full * count / sum(counts)) <= 0.5
    assert measured[0][1] == 2 * measured[1][1]


def test_right_to_left_puts_labels_on_the_right_and_bars_growing_leftwards() -> None:
    counts = [14, 7, 1]
    left_to_right = picture(chart(counts=counts))
    right_to_left = picture(chart(counts=counts, right_to_left=True))
    ltr_bars = bars(left_to_right, 3)
    rtl_bars = bars(right_to_left, 3)
    for (ltr_start, ltr_length), (rtl_start, rtl_length) in zip(ltr_bars, rtl_bars, strict=True):
        assert rtl_length == ltr_length > 0
        assert rtl_start == WIDTH - ltr_start - ltr_length  # mirrored
    assert {start for start, _ in ltr_bars} == {MARGIN + LABEL_WIDTH + GAP}  # they start left
    assert len({start + length for start, length in rtl_bars}) == 1  # they start right
    assert rtl_bars[0][0] < rtl_bars[1][0] < rtl_bars[2][0]

    def ink_columns(image: Image.Image, y: int) -> list[int]:
        band = image.crop((0, y - ROW // 2, WIDTH, y + ROW // 2)).convert("L")
        return [
            x for x in range(WIDTH) if min(band.crop((x, 0, x + 1, ROW)).get_flattened_data()) < 100
        ]

    label_row = row_middles(3)[0]
    ltr_ink = ink_columns(left_to_right, label_row)
    rtl_ink = ink_columns(right_to_left, label_row)
    assert min(ltr_ink) < MARGIN + 5 and max(rtl_ink) > WIDTH - MARGIN - 5
    assert max(rtl_ink) > rtl_bars[0][0] + rtl_bars[0][1]  # the label right of its bar


def ink(image: Image.Image, box: tuple[int, int, int, int]) -> Image.Image:
    """The ink inside box (255: full ink), cropped to its dark pixels."""
    ink = image.convert("L").crop(box).point(lambda value: 255 - value)
    bounds = ink.point(lambda value: 255 if value > 127 else 0).getbbox()
    assert bounds is not None, f"nothing drawn in {box}"
    return ink.crop(bounds)


def blank_columns(ink: Image.Image) -> int:
    """Columns with no dark pixel: the gaps between letters that do not join."""
    dark = ink.point(lambda value: 255 if value > 127 else 0)
    return sum(
        1 for x in range(ink.width) if dark.crop((x, 0, x + 1, ink.height)).getbbox() is None
    )


def mismatch(first: Image.Image, second: Image.Image) -> float:
    """How much two inks differ, 0 for the same: the summed difference over the summed ink,
    aligned on the right (where right-to-left text starts), softened by a one-pixel blur and
    at the best of three horizontal offsets, since the two layouts place glyphs to a fraction
    of a pixel differently. Measured here: about 0.1 for the same run, above 0.5 otherwise."""
    width = max(first.width, second.width) + 4
    height = max(first.height, second.height) + 2
    best = 1.0
    for shift in (-1, 0, 1):
        one = Image.new("L", (width, height))
        one.paste(first, (width - 2 - first.width, 1))
        two = Image.new("L", (width, height))
        two.paste(second, (width - 2 - second.width + shift, 1))
        one, two = one.filter(ImageFilter.BoxBlur(1)), two.filter(ImageFilter.BoxBlur(1))
        difference = sum(ImageChops.difference(one, two).get_flattened_data())
        inked = sum(ImageChops.lighter(one, two).get_flattened_data())
        best = min(best, difference / inked)
    return best


def test_arabic_question_and_options_render_joined_right_to_left() -> None:
    """The issue's check: the glyph runs drawn with libraqm against the basic layout's."""
    require_complex_layout()
    # "community" and "yes": every letter joins its neighbours; "no" is the lam-alef ligature.
    question, yes, no = "مجتمع", "نعم", "لا"
    shaped_question = "".join(
        FORM(f"ARABIC LETTER {name} FORM")
        for name in ("MEEM INITIAL", "JEEM MEDIAL", "TEH MEDIAL", "MEEM MEDIAL", "AIN FINAL")
    )
    shaped_yes = "".join(
        FORM(f"ARABIC LETTER {name} FORM") for name in ("NOON INITIAL", "AIN MEDIAL", "MEEM FINAL")
    )
    shaped_no = FORM("ARABIC LIGATURE LAM WITH ALEF ISOLATED FORM")
    results = {"counts": [3, 1], "shares": [75, 25], "footer": "", "right_to_left": True}

    default = chart(title=question, labels=[yes, no], **results)
    with_raqm = picture(chart(title=question, labels=[yes, no], complex_text=True, **results))
    basic = picture(chart(title=question, labels=[yes, no], complex_text=False, **results))
    # What the shaped text must look like: its contextual forms in visual order (right to
    # left reversed), drawn glyph by glyph by the basic layout.
    visual = picture(
        chart(
            title=shaped_question[::-1],
            labels=[shaped_yes[::-1], shaped_no],
            complex_text=False,
            **results,
        )
    )
    # The same forms left to right: joined, but in the wrong order.
    reversed_order = picture(
        chart(title=shaped_question, labels=[shaped_yes, shaped_no], complex_text=False, **results)
    )
    assert chart(title=question, labels=[yes, no], complex_text=True, **results) == default

    labels_left = WIDTH - MARGIN - LABEL_WIDTH
    first, second = row_middles(2)
    runs_drawn = {
        "question": (0, MARGIN, WIDTH, MARGIN + TITLE_LINE),
        "yes": (labels_left, first - ROW // 2, WIDTH, first + ROW // 2),
        "no": (labels_left, second - ROW // 2, WIDTH, second + ROW // 2),
    }
    for name, box in runs_drawn.items():
        drawn, expected = ink(with_raqm, box), ink(visual, box)
        unshaped = ink(basic, box)
        assert abs(drawn.width - expected.width) <= 1, name
        assert mismatch(drawn, expected) < 0.25, f"{name}: not the joined forms right to left"
        assert mismatch(drawn, unshaped) > 0.35, f"{name}: the same as the basic layout"
        assert drawn.width < unshaped.width, f"{name}: isolated letters are wider than joined"
    for name in ("question", "yes"):
        assert blank_columns(ink(with_raqm, runs_drawn[name])) == 0, f"{name}: letters apart"
        assert blank_columns(ink(basic, runs_drawn[name])) > 0, name
        wrong_way = ink(reversed_order, runs_drawn[name])
        assert mismatch(ink(with_raqm, runs_drawn[name]), wrong_way) > 0.35, name


def test_a_long_label_is_cut_with_an_ellipsis_to_fit() -> None:
    label = "Abstain, because the statement's wording was never discussed by the group"
    cut = shorten(label, LABEL_WIDTH)
    assert cut.endswith("…") and label.startswith(cut[:-1])
    assert charts._font(charts.LABEL_SIZE, complex_layout()).getlength(cut) <= LABEL_WIDTH
    assert shorten("Yes", LABEL_WIDTH) == "Yes"
    default = picture(chart(labels=["Yes", "No", label]))
    assert default.size == picture(chart()).size  # cut, not wrapped


@pytest.mark.parametrize(
    ("text", "unit"),
    [
        ("e\u0301" * 60, "e\u0301"),  # é as e and a combining accent
        ("مَرْحَبًا " * 12, None),  # Arabic with its vowel marks
        ("👩\u200d👩\u200d👧" * 30, "👩\u200d👩\u200d👧"),  # one family emoji
        ("🇫🇷🇩🇪" * 30, None),  # flags: pairs of regional indicators
        ("क्षत्रिय" * 20, None),  # Devanagari conjuncts
    ],
)
def test_a_label_is_never_cut_inside_a_grapheme(text: str, unit: str | None) -> None:
    cut = shorten(text, 120)
    kept = cut[:-1]
    assert cut.endswith("…") and text.startswith(kept)
    assert graphemes(kept) == graphemes(text)[: len(graphemes(kept))]
    assert text[len(kept)] not in "\u0301\u064e\u0652\u064b\u200d\u094d"  # not before a mark
    if unit is not None:
        assert kept and len(kept) % len(unit) == 0


def test_graphemes_keep_marks_joiners_and_flags_together() -> None:
    assert graphemes("ab") == ["a", "b"]
    assert graphemes("e\u0301x") == ["e\u0301", "x"]
    assert graphemes("مَر") == ["مَ", "ر"]
    assert graphemes("👍🏽!") == ["👍🏽", "!"]
    assert graphemes("👩\u200d💻x") == ["👩\u200d💻", "x"]
    assert graphemes("🇫🇷🇩🇪🇪") == ["🇫🇷", "🇩🇪", "🇪"]
    assert graphemes("\r\n\n") == ["\r\n", "\n"]
    assert graphemes("क्ष") == ["क्ष"]


def strip_marks(line: str) -> str:
    return "".join(char for char in line if char not in "\u200e\u200f\u2068\u2069")


def test_text_bars_show_each_option_with_its_bar_count_and_share() -> None:
    lines = text_bars(["Yes", "No", "Abstain"], [14, 7, 1], [64, 32, 4])
    assert [strip_marks(line) for line in lines] == [
        "Yes ██████░░░░ 14 (64%)",
        "No ███░░░░░░░ 7 (32%)",
        "Abstain ░░░░░░░░░░ 1 (4%)",
    ]
    wide = text_bars(["Yes", "No"], [3, 1], [75, 25], width=20)
    assert [strip_marks(line).split()[1] for line in wide] == [
        "█" * 15 + "░" * 5,
        "█" * 5 + "░" * 15,
    ]
    assert text_bars(["Yes", "No"], [0, 0], [0, 0]) == text_bars(["Yes", "No"], [0, 0], [0, 0])
    assert strip_marks(text_bars(["Yes"], [0], [0])[0]) == "Yes ░░░░░░░░░░ 0 (0%)"


def direction_at_start(line: str) -> str:
    """The line's paragraph direction by Unicode's rules P2-P3: its first strong character
    outside isolates."""
    depth = 0
    for char in line:
        if char in "\u2066\u2067\u2068":
            depth += 1
        elif char == "\u2069":
            depth = max(0, depth - 1)
        elif depth == 0 and unicodedata.bidirectional(char) in ("L", "R", "AL"):
            return "rtl" if unicodedata.bidirectional(char) in ("R", "AL") else "ltr"
    return "none"


@pytest.mark.parametrize("labels", [["نعم", "لا"], ["Yes", "No"]])
def test_text_bars_take_the_messages_direction_whatever_the_labels_script(
    labels: Sequence[str],
) -> None:
    for right_to_left, direction in ((True, "rtl"), (False, "ltr")):
        lines = text_bars(labels, [2, 1], [67, 33], right_to_left=right_to_left)
        assert [direction_at_start(line) for line in lines] == [direction, direction]
        for line, label in zip(lines, labels, strict=True):
            # the label isolated, so that its script cannot move the bar and the numbers
            assert f"\u2068{label}\u2069 " in line
            assert line.endswith(("2 (67%)", "1 (33%)"))


def test_without_complex_layout_only_charts_of_unshaped_scripts_are_drawn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert charts.drawable(["هل ننضم إلى الحملة؟", "نعم"])  # raqm is here
    monkeypatch.setattr(charts, "complex_layout", lambda: False)
    assert charts.drawable(["Do we join?", "Sí", "Não", "Oui, à Genève", "Да"])
    assert not charts.drawable(["Do we join?", "نعم"])
    assert not charts.drawable(["क्या हम जुड़ें?"])
    assert not charts.drawable(["האם נצטרף?"])
