"""Where the scores fall: the three scores of every party of the real calls and of the scripted good and poor
agents, as a plot (docs/score-distribution.svg) and a table (docs/benchmarks.md, bench:scores).

Real calls: the HarperValleyBank calls of ``scripts/eval_calls.py``, each as stereo, mono and mono mu-law,
default config, no sidecar. Scripted: the good and poor agents of ``tests/scripted_calls.py`` (espeak-ng) as
stereo, swapped stereo and mono. Groups: the real agents, the real customers, the scripted good agents and
the scripted poor agents (speakers by the role the pipeline gave them; unknown roles are left out).

    python scripts/score_distribution.py [--calls DIR] [--out docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from matplotlib import rc_context
from matplotlib.figure import Figure

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.config import Config  # noqa: E402
from pipeline.runner import analyze_call  # noqa: E402
from pipeline.types import SCORES, CallResult  # noqa: E402
from scripts.bench import write_report  # noqa: E402
from scripts.eval_calls import CALLS, build_versions  # noqa: E402
from tests import scripted_calls  # noqa: E402

GROUPS = {"real agents": "#0072B2", "real customers": "#E69F00", "scripted good agents": "#009E73",
          "scripted poor agents": "#D55E00"}


def scores_by_role(result: CallResult) -> dict[str, list[dict[str, float | None]]]:
    """Each party's three scores, by the role the pipeline gave them."""
    out: dict[str, list[dict[str, float | None]]] = {}
    for spk, assigned in result.assessment.roles.items():
        out.setdefault(assigned.role, []).append({n: s.value for n, s in result.assessment.scores[spk].items()})
    return out


def collect(calls: Path, tmp: Path, config: Config) -> dict[str, list[dict[str, float | None]]]:
    """The scores of every group (see the module docstring)."""
    groups: dict[str, list[dict[str, float | None]]] = {g: [] for g in GROUPS}
    for sid in sorted(p.stem for p in (calls / "audio" / "agent").glob("*.wav")):
        for path in build_versions(calls, sid, tmp).values():
            found = scores_by_role(analyze_call(path, config))
            groups["real agents"] += found.get("agent", [])
            groups["real customers"] += found.get("customer", [])
    for name in scripted_calls.CALLS:
        found = scores_by_role(analyze_call(scripted_calls.write(name, tmp), config))
        groups[f"scripted {name.split('_')[0]} agents"] += found.get("agent", [])
    return groups


def plot(groups: dict[str, list[dict[str, float | None]]], path: Path) -> None:
    """One panel per score: every party a dot on 0-100, one row per group."""
    fig = Figure(figsize=(9, 3.2), layout="constrained")
    for ax, score in zip(fig.subplots(1, len(SCORES), sharey=True), SCORES, strict=True):
        for row, (group, color) in enumerate(GROUPS.items()):
            values = [s[score] for s in groups[group] if s[score] is not None]
            jitter = np.linspace(-0.15, 0.15, len(values)) if len(values) > 1 else np.zeros(len(values))
            ax.scatter(values, row + jitter, color=color, s=18, alpha=0.8)
        ax.set_xlim(0, 100)
        ax.set_title(score.replace("_", " "), fontsize=10)
        ax.set_yticks(range(len(GROUPS)), list(GROUPS))
        ax.invert_yaxis()
        ax.grid(axis="x", alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
    with rc_context({"svg.hashsalt": "callscope"}):  # the same plot gives the same file
        fig.savefig(path, format="svg", metadata={"Date": None})


def table(groups: dict[str, list[dict[str, float | None]]]) -> str:
    """Count, min, median and max of each score per group."""
    lines = ["| group | parties | " + " | ".join(f"{s} min / median / max" for s in SCORES) + " |",
             "| --- | --- |" + " --- |" * len(SCORES)]
    for group, rows in groups.items():
        cells = []
        for score in SCORES:
            values = [r[score] for r in rows if r[score] is not None]
            cells.append(f"{min(values):.0f} / {np.median(values):.0f} / {max(values):.0f}" if values else "-")
        lines.append(f"| {group} | {len(rows)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=Path, default=CALLS)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        groups = collect(args.calls, Path(tmp), Config())
    plot(groups, args.out.parent / "score-distribution.svg")
    header = (f"Measured {time.strftime('%Y-%m-%d')}, default config, no sidecar; `scripts/score_distribution.py`: "
              f"the {len(list((args.calls / 'audio' / 'agent').glob('*.wav')))} HarperValleyBank calls as stereo, "
              "mono and mono mu-law, and the scripted good and poor agents (espeak-ng, 25 s calls) as stereo, "
              "swapped stereo and mono; parties by the role the pipeline gave them. The plot: "
              "[score-distribution.svg](score-distribution.svg).")
    write_report(args.out, header, table(groups), key="scores", title="Where the scores fall: real and scripted calls")
    print(table(groups))


if __name__ == "__main__":
    main()
