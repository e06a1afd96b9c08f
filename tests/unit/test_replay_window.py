from __future__ import annotations

from datetime import UTC, datetime

from application.replay import ReplayReport
from shared.messaging.reading import cycle_of
from shared.messaging.reading import in_window as _in_window

T = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def test_window_is_half_open_and_since_is_optional() -> None:
    ms = int(T.timestamp() * 1000)
    assert _in_window(ms, T, datetime(2026, 11, 27, 13, tzinfo=UTC))
    assert not _in_window(ms - 1, T, datetime(2026, 11, 27, 13, tzinfo=UTC))
    assert not _in_window(ms, None, T)  # until is exclusive: what the replay makes is not read
    assert _in_window(ms - 1, None, T)


def test_cycle_header() -> None:
    assert cycle_of(()) == 0 and cycle_of(None) == 0
    assert cycle_of([("x", b"1"), ("replay.cycle", b"2")]) == 2


def test_report_summary_names_every_count() -> None:
    report = ReplayReport(read=5, replayed=2, refused=1)
    report.skipped["already placed"] += 2
    assert report.summary() == ("read 5, replayed 2, skipped 2 (2 already placed), "
                                "refused 1 (replay cycle cap)")
