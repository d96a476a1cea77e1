"""The send limiter's arithmetic, with a clock the test moves by hand."""

from __future__ import annotations

import random

from bot.ratelimit import SendLimiter, Window, telegram_limiter


def sends_in_span(times: list[float], span: float) -> int:
    """The most sends found in any window of ``span`` seconds."""
    ordered = sorted(times)
    best = 0
    start = 0
    for end, moment in enumerate(ordered):
        while moment - ordered[start] >= span - 1e-9:  # times come back as now + delay
            start += 1
        best = max(best, end - start + 1)
    return best


def test_first_send_into_a_room_goes_at_once() -> None:
    assert telegram_limiter().reserve("chat", "private", now=100.0) == 0.0


def test_second_send_into_one_private_chat_waits_a_second() -> None:
    limiter = telegram_limiter(margin=1.0)
    limiter.reserve("chat", "private", now=100.0)
    assert abs(limiter.reserve("chat", "private", now=100.2) - 0.8) < 1e-9


def test_a_group_takes_twenty_a_minute() -> None:
    limiter = telegram_limiter(margin=1.0)
    moments = [100.0 + limiter.reserve("group", "group", now=100.0) for _ in range(41)]
    assert sends_in_span(moments, 60.0) == 20
    assert sends_in_span(moments, 1.0) == 1
    assert moments[20] >= moments[0] + 60.0


def test_many_chats_together_stay_under_thirty_a_second() -> None:
    limiter = telegram_limiter(margin=1.0)
    moments = [
        100.0 + limiter.reserve(f"chat{index % 100}", "private", now=100.0) for index in range(300)
    ]
    assert sends_in_span(moments, 1.0) == 30
    assert max(moments) - 100.0 >= 9.0


def test_random_interleaving_never_breaks_any_window() -> None:
    generator = random.Random(7)
    limiter = telegram_limiter()
    now = 0.0
    per_room: dict[str, list[float]] = {}
    everything: list[float] = []
    for _ in range(2000):
        now += generator.random() * 0.05
        room = (
            f"g{generator.randrange(5)}"
            if generator.random() < 0.3
            else f"p{generator.randrange(40)}"
        )
        kind = "group" if room.startswith("g") else "private"
        moment = now + limiter.reserve(room, kind, now)
        per_room.setdefault(room, []).append(moment)
        everything.append(moment)
    assert sends_in_span(everything, 1.0) <= 30
    for room, times in per_room.items():
        assert sends_in_span(times, 1.0) <= 1
        if room.startswith("g"):
            assert sends_in_span(times, 60.0) <= 20


def test_pause_after_a_429_holds_that_room_only() -> None:
    limiter = SendLimiter((Window(30, 1.0),), {"private": (Window(1, 1.0),)})
    limiter.pause("a", until=105.0)
    assert limiter.reserve("a", "private", now=100.0) == 5.0
    assert limiter.reserve("b", "private", now=100.0) == 0.0


def test_the_telegram_limiter_keeps_a_margin_below_the_published_limits() -> None:
    limiter = telegram_limiter()
    limiter.reserve("chat", "private", now=0.0)
    assert limiter.reserve("chat", "private", now=0.0) > 1.0


def test_a_slow_send_counts_from_when_it_finished() -> None:
    limiter = telegram_limiter(margin=1.0)
    limiter.reserve("chat", "private", now=0.0)
    limiter.settle("chat", finished=0.4)
    assert abs(limiter.reserve("chat", "private", now=0.5) - 0.9) < 1e-9


def test_quiet_rooms_are_forgotten() -> None:
    limiter = telegram_limiter()
    for index in range(1000):
        limiter.reserve(f"chat{index}", "private", now=float(index))
    assert limiter.tracked_rooms < 10
