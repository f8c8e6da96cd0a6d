"""The checks of scripts/bench.py: a benchmark that would fail if issue 18's goals broke."""

from __future__ import annotations

from scripts.bench import MAX_RSS_MB, checked


def _run(seconds: float, rss: float = 500.0, torch: bool = False) -> dict:
    return {"seconds": seconds, "peak_rss_mb": rss, "torch": torch, "stages": {"prosody": 1.0, "asr": 20.0}}


def test_the_checks_pass_within_the_goals_and_fail_past_them():
    whispers = [_run(20.0), _run(22.0), _run(21.0)]
    assert all(line.startswith("- PASS") for line in checked("mono", whispers, [_run(17.0), _run(19.0), _run(18.0)]))
    slow_and_heavy = [_run(23.0), _run(22.5, MAX_RSS_MB["stereo"] + 1), _run(24.0, torch=True)]
    verdicts = [line.split(":")[0] for line in checked("stereo", whispers, slow_and_heavy)]
    assert verdicts == ["- FAIL", "- FAIL", "- FAIL", "- PASS"]  # ratio, memory, torch; prosody within budget
