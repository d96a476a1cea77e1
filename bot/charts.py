"""A poll's results as a picture (a bar chart PNG) and as text bars for the message.

Pure functions: values in, bytes or strings out; the only file read is the shipped font
(``bot/fonts/DejaVuSans.ttf``, which covers Latin, Greek, Cyrillic and Arabic). Arabic is
shaped (joined letters, right to left) only by Pillow's complex-text layout (libraqm, with
FriBiDi and HarfBuzz); without it letters come out unjoined and in the wrong order, so the
caller checks `complex_layout()` once at start, logs when it is missing and then sends the
text bars alone. The same input gives the same bytes on one machine.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Literal

from PIL import Image, ImageDraw, ImageFont, features

FONT_PATH = Path(__file__).resolve().parent / "fonts" / "DejaVuSans.ttf"

# Geometry, in pixels. The height follows from the title's lines and the options:
# MARGIN + lines * TITLE_LINE + GAP + options * ROW + GAP + FOOTER_LINE + MARGIN.
WIDTH = 800
MARGIN = 24
GAP = 12
TITLE_SIZE = 22
TITLE_LINE = 30
TITLE_LINES = 3
LABEL_SIZE = 16
LABEL_WIDTH = 240
ROW = 34
BAR_HEIGHT = 20
FOOTER_SIZE = 14
FOOTER_LINE = 22

BACKGROUND = (255, 255, 255)
INK = (31, 35, 40)
MUTED = (87, 96, 106)
TRACK = (230, 233, 237)
BAR = (47, 111, 178)

ELLIPSIS = "…"
FIRST_STRONG_ISOLATE = "\u2068"
POP_DIRECTIONAL_ISOLATE = "\u2069"
LEFT_TO_RIGHT_MARK = "\u200e"
RIGHT_TO_LEFT_MARK = "\u200f"

Direction = Literal["ltr", "rtl"]


def complex_layout() -> bool:
    """Whether Pillow can shape text (libraqm): without it Arabic renders unjoined."""
    return bool(features.check("raqm"))


def drawable(texts: Sequence[str]) -> bool:
    """Whether a chart of ``texts`` comes out readable here: always with complex text layout;
    without it, only when no text needs shaping (right-to-left scripts, which the basic
    layout draws unjoined and in the wrong order, and scripts whose letters combine)."""
    if complex_layout():
        return True
    return not any(_needs_shaping(char) for text in texts for char in text)


def _needs_shaping(char: str) -> bool:
    if unicodedata.bidirectional(char) in ("R", "AL"):
        return True
    # Indic, Thai, Lao, Tibetan, Myanmar and Khmer letters join and reorder.
    return (
        0x0900 <= ord(char) <= 0x0FFF
        or 0x1000 <= ord(char) <= 0x109F
        or 0x1780 <= ord(char) <= 0x17FF
    )


def bar_chart_png(
    *,
    title: str,
    labels: Sequence[str],
    counts: Sequence[int],
    shares: Sequence[int],
    footer: str,
    right_to_left: bool,
    complex_text: bool | None = None,
) -> bytes:
    """The results as a PNG: the question (up to three lines), one bar per option with its
    count and share, and the footer (the turnout). A bar's length is its count's share of
    all selections, the track behind it the whole. Right to left: labels on the right,
    bars growing leftwards. ``complex_text`` None shapes text whenever libraqm is there;
    True demands it, False draws with the basic layout."""
    if not len(labels) == len(counts) == len(shares):
        raise ValueError("labels, counts and shares differ in length")
    shaping = complex_layout() if complex_text is None else complex_text
    if shaping and not complex_layout():
        raise RuntimeError("complex text layout asked for, but Pillow has no libraqm")
    base: Direction = "rtl" if right_to_left else "ltr"
    title_font = _font(TITLE_SIZE, shaping)
    label_font = _font(LABEL_SIZE, shaping)
    footer_font = _font(FOOTER_SIZE, shaping)
    text_width = WIDTH - 2 * MARGIN

    lines = _wrap(title, title_font, text_width, shaping, TITLE_LINES)
    values = [f"{count} ({share}%)" for count, share in zip(counts, shares, strict=True)]
    value_width = max((_length(value, label_font, shaping, "ltr") for value in values), default=0.0)
    track_start = MARGIN + LABEL_WIDTH + GAP
    track_length = WIDTH - MARGIN - track_start
    full = max(0, track_length - int(value_width + 0.999) - GAP // 2)
    total = sum(counts)

    image = Image.new("RGB", (WIDTH, chart_height(len(lines), len(labels))), BACKGROUND)
    draw = ImageDraw.Draw(image)

    def text(
        x: int,
        y: int,
        line: str,
        font: ImageFont.FreeTypeFont,
        fill: tuple[int, int, int],
        vertical: str,
        direction: Direction | None = None,
    ) -> None:
        """Draws at x measured from the start side: the left, or the right when right to left."""
        anchor = ("r" if right_to_left else "l") + vertical
        at = WIDTH - x if right_to_left else x
        if shaping:
            draw.text(
                (at, y),
                line,
                font=font,
                fill=fill,
                anchor=anchor,
                direction=direction or _direction_of(line, base),
            )
        else:
            draw.text((at, y), line, font=font, fill=fill, anchor=anchor)

    def span(x: int, length: int, top: int, colour: tuple[int, int, int]) -> None:
        """Fills ``length`` pixels from x, x measured from the start side."""
        if length <= 0:
            return
        left = WIDTH - x - length if right_to_left else x
        draw.rectangle((left, top, left + length - 1, top + BAR_HEIGHT - 1), fill=colour)

    y = MARGIN
    title_direction = _direction_of(title, base)  # one paragraph: one direction for its lines
    for line in lines:
        text(MARGIN, y, line, title_font, INK, "a", title_direction)
        y += TITLE_LINE
    y += GAP
    for label, count, value in zip(labels, counts, values, strict=True):
        middle = y + ROW // 2
        top = middle - BAR_HEIGHT // 2
        shown = _ellipsize(" ".join(label.split()), label_font, LABEL_WIDTH, shaping)
        text(MARGIN, middle, shown, label_font, INK, "m")
        length = _bar_length(count, total, full)
        span(track_start, full, top, TRACK)
        span(track_start, length, top, BAR)
        text(track_start + length + GAP // 2, middle, value, label_font, INK, "m", "ltr")
        y += ROW
    y += GAP
    shown = _ellipsize(" ".join(footer.split()), footer_font, text_width, shaping)
    text(MARGIN, y, shown, footer_font, MUTED, "a")

    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=6)
    return out.getvalue()


def chart_height(title_lines: int, options: int) -> int:
    """The height of a chart whose title takes ``title_lines`` lines."""
    return MARGIN + title_lines * TITLE_LINE + GAP + options * ROW + GAP + FOOTER_LINE + MARGIN


def text_bars(
    labels: Sequence[str],
    counts: Sequence[int],
    shares: Sequence[int],
    *,
    width: int = 10,
    right_to_left: bool = False,
) -> list[str]:
    """One line per option for the message text, e.g. ``Yes ██████░░░░ 14 (64%)``: the bar is
    the option's share of all selections, as in the chart. Each line starts with an invisible
    mark that sets its direction (a client sees the line right to left in an Arabic message
    whatever the label's script), and the label is isolated (FSI … PDI) so that its script
    cannot reorder the bar and the numbers after it."""
    if not len(labels) == len(counts) == len(shares):
        raise ValueError("labels, counts and shares differ in length")
    total = sum(counts)
    mark = RIGHT_TO_LEFT_MARK if right_to_left else LEFT_TO_RIGHT_MARK
    lines = []
    for label, count, share in zip(labels, counts, shares, strict=True):
        filled = _bar_length(count, total, width)
        bar = "█" * filled + "░" * (width - filled)
        isolated = FIRST_STRONG_ISOLATE + " ".join(label.split()) + POP_DIRECTIONAL_ISOLATE
        lines.append(f"{mark}{isolated} {bar} {count} ({share}%)")
    return lines


def shorten(
    text: str, width: int, *, size: int = LABEL_SIZE, complex_text: bool | None = None
) -> str:
    """``text`` as the chart draws it in ``width`` pixels at ``size``: whole when it fits,
    else cut between graphemes, with an ellipsis."""
    shaping = complex_layout() if complex_text is None else complex_text
    return _ellipsize(text, _font(size, shaping), width, shaping)


def graphemes(text: str) -> list[str]:
    """``text`` cut into user-perceived characters, close to Unicode's extended grapheme
    clusters: a base with its marks, joiners and variation selectors, an emoji with its
    modifiers and tags, a flag's two regional indicators, a virama's conjunct, CR LF."""
    clusters: list[str] = []
    for char in text:
        if clusters and _continues(clusters[-1], char):
            clusters[-1] += char
        else:
            clusters.append(char)
    return clusters


def _continues(cluster: str, char: str) -> bool:
    code = ord(char)
    last = cluster[-1]
    if last == "\r":
        return char == "\n"
    if char in "\r\n" or last == "\n":
        return False
    if unicodedata.category(char) in ("Mn", "Me", "Mc") or code in (0x200C, 0x200D):
        return True
    if 0x1F3FB <= code <= 0x1F3FF or 0xE0020 <= code <= 0xE007F:  # emoji modifiers, tags
        return True
    if last == "\u200d":  # a zero-width joiner joins the next pictograph (emoji sequences)
        return unicodedata.category(char) == "So"
    if unicodedata.combining(last) == 9:  # a virama: the next consonant forms a conjunct
        return unicodedata.category(char) == "Lo"
    if _regional(code):  # regional indicators pair into flags
        return len(cluster) == 1 and _regional(ord(last))
    if 0x1160 <= code <= 0x11FF:  # Hangul medial vowels and final consonants
        return 0x1100 <= ord(last) <= 0x11FF or 0xAC00 <= ord(last) <= 0xD7A3
    return 0x0600 <= ord(last) <= 0x0605  # Arabic number signs go before what they sign


def _regional(code: int) -> bool:
    return 0x1F1E6 <= code <= 0x1F1FF


def _bar_length(count: int, total: int, full: int) -> int:
    """``full * count / total``, rounded half up, in whole units."""
    if total <= 0 or count <= 0:
        return 0
    return min(full, (2 * full * count + total) // (2 * total))


@lru_cache(maxsize=16)
def _font(size: int, shaping: bool) -> ImageFont.FreeTypeFont:
    layout = ImageFont.Layout.RAQM if shaping else ImageFont.Layout.BASIC
    return ImageFont.truetype(str(FONT_PATH), size, layout_engine=layout)


def _direction_of(text: str, default: Direction) -> Direction:
    """The direction of the text's first strong character (Unicode's rule for a paragraph
    and for FSI), or ``default`` when it has none (digits and punctuation only)."""
    for char in text:
        kind = unicodedata.bidirectional(char)
        if kind == "L":
            return "ltr"
        if kind in ("R", "AL"):
            return "rtl"
    return default


def _length(
    text: str, font: ImageFont.FreeTypeFont, shaping: bool, direction: Direction | None = None
) -> float:
    if not shaping:
        return float(font.getlength(text))
    return float(font.getlength(text, direction=direction or _direction_of(text, "ltr")))


def _ellipsize(text: str, font: ImageFont.FreeTypeFont, width: int, shaping: bool) -> str:
    """``text`` if it fits in ``width``, else its longest start of whole graphemes that
    fits with an ellipsis after it."""
    if _length(text, font, shaping) <= width:
        return text
    clusters = graphemes(text)
    low, high = 0, len(clusters)  # clusters[:low] fits with the ellipsis; [:high] does not
    while high - low > 1:
        middle = (low + high) // 2
        if _length("".join(clusters[:middle]).rstrip() + ELLIPSIS, font, shaping) <= width:
            low = middle
        else:
            high = middle
    return "".join(clusters[:low]).rstrip() + ELLIPSIS


def _wrap(
    text: str, font: ImageFont.FreeTypeFont, width: int, shaping: bool, most: int
) -> list[str]:
    """``text`` in lines of at most ``width`` pixels, broken between words (inside a word,
    between graphemes, only when it is wider than a line), at most ``most`` lines: the
    last one cut with an ellipsis when more is left. Bidirectional text is reordered line
    by line when drawn, as Unicode's algorithm wants."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}" if line else word
        if _length(candidate, font, shaping) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        line = word
        while _length(line, font, shaping) > width:
            clusters = graphemes(line)
            cut = max(1, _fitting(clusters, font, width, shaping))
            lines.append("".join(clusters[:cut]))
            line = "".join(clusters[cut:])
    if line or not lines:
        lines.append(line)
    if len(lines) > most:
        lines = [*lines[: most - 1], _ellipsize(" ".join(lines[most - 1 :]), font, width, shaping)]
    return lines


def _fitting(clusters: list[str], font: ImageFont.FreeTypeFont, width: int, shaping: bool) -> int:
    """How many of the clusters, from the first, fit in ``width``."""
    low, high = 0, len(clusters) + 1
    while high - low > 1:
        middle = (low + high) // 2
        if _length("".join(clusters[:middle]), font, shaping) <= width:
            low = middle
        else:
            high = middle
    return low
