"""Chart benchmark: drawing a 12-option poll result as a PNG (``bot.charts.bar_chart_png``).

    cd /work/main && .venv/bin/python bench/chart.py [--runs N]

Draws a 12-option chart (Telegram's most) with a 300-character question, in English left to
right and in Arabic right to left, N times each after a warm-up, and prints the median and
maximum time and the PNG's size. The baseline, measured in the same run, is Pillow's own
work for an image of the same size: a blank RGB image created and encoded as PNG with the
same settings. The ratios chart / baseline say what the drawing (text shaping, layout,
bars) costs over the least any PNG of that size costs; the text bars (``text_bars``) for the
same results are timed too. It fails only when a PNG does not open.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image

from bot.charts import bar_chart_png, complex_layout, text_bars

RUNS = 50
COUNTS = (31, 27, 22, 18, 15, 11, 9, 7, 4, 3, 2, 1)


def shares_of(counts: tuple[int, ...]) -> list[int]:
    """Whole percents by largest remainder, as the tally gives them."""
    total = sum(counts)
    exact = [100 * count / total for count in counts]
    shares = [int(value) for value in exact]
    order = sorted(range(len(counts)), key=lambda index: int(exact[index]) - exact[index])
    for index in order[: 100 - sum(shares)]:
        shares[index] += 1
    return shares


@dataclass(frozen=True)
class Case:
    name: str
    title: str
    labels: list[str]
    right_to_left: bool


ENGLISH = Case(
    "English, left to right",
    (
        "Should the working group join the campaign for a binding treaty on business and "
        "human rights, send a delegation of three members to the next session in Geneva, "
        "co-organize a side event with the regional networks, and publish a joint statement "
        "before the session opens, with the signatures gathered by the end of this month?"
    )[:300],
    [
        f"Option {number}: " + "a joint action with the regional partners"[: 12 + 3 * number]
        for number in range(1, 13)
    ],
    False,
)
ARABIC = Case(
    "Arabic, right to left",
    (
        "هل ينضم الفريق العامل إلى حملة المعاهدة الملزمة بشأن الأعمال التجارية وحقوق الإنسان، "
        "ويرسل وفداً من ثلاثة أعضاء إلى الدورة القادمة في جنيف، وينظم فعالية جانبية مع "
        "الشبكات الإقليمية، وينشر بياناً مشتركاً قبل افتتاح الدورة مع التوقيعات المجمعة؟"
    )[:300],
    [
        f"الخيار {number}: " + "عمل مشترك مع الشركاء الإقليميين"[: 8 + 2 * number]
        for number in range(1, 13)
    ],
    True,
)


def timed(work: Callable[[], object], runs: int) -> tuple[list[float], object]:
    """Seconds per run, after one warm-up, and the last result."""
    result = work()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    return times, result


def blank_png(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (255, 255, 255)).save(out, format="PNG", compress_level=6)
    return out.getvalue()


def milliseconds(times: list[float]) -> str:
    return f"{1000 * statistics.median(times):7.2f} / {1000 * max(times):7.2f}"


def run(case: Case, runs: int) -> None:
    shares = shares_of(COUNTS)

    def draw() -> bytes:
        return bar_chart_png(
            title=case.title,
            labels=case.labels,
            counts=COUNTS,
            shares=shares,
            footer="Turnout: 150 of 212 members (quorum 106: met)",
            right_to_left=case.right_to_left,
        )

    chart_times, png = timed(draw, runs)
    assert isinstance(png, bytes)
    size = Image.open(io.BytesIO(png)).size
    blank_times, blank = timed(lambda: blank_png(size), runs)
    assert isinstance(blank, bytes)
    bars_times, _ = timed(
        lambda: text_bars(case.labels, COUNTS, shares, right_to_left=case.right_to_left), runs
    )
    ratio = statistics.median(chart_times) / statistics.median(blank_times)
    print(f"\n{case.name}: {size[0]} x {size[1]} px, {runs} runs, median / max ms")
    print(f"  chart PNG         {milliseconds(chart_times)}   {len(png):7,} bytes")
    print(f"  blank PNG (base)  {milliseconds(blank_times)}   {len(blank):7,} bytes")
    print(f"  text bars         {milliseconds(bars_times)}")
    print(f"  chart / baseline: time {ratio:.1f}x, size {len(png) / len(blank):.1f}x")


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n", 1)[0])
    parser.add_argument("--runs", type=int, default=RUNS, help=f"runs of each (default {RUNS})")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    print(f"complex text layout (libraqm): {'yes' if complex_layout() else 'NO: Arabic unshaped'}")
    for case in (ENGLISH, ARABIC):
        run(case, arguments.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
