"""Re-indexing cost: nothing changed, and one file changed, as a ratio to a full build.

Two corpora, each timed in one run: the seeds (5 files), and a generated corpus
of N files (default 1,000), each a short Arabic paragraph recombined from the
seeds' sentences. Times are wall clock for `update`, the `semsearch index`
path, with the bundled encoder.

Usage: python bench/incremental.py [--files 1000]
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from pathlib import Path

from semsearch.index import update
from semsearch.readers import read_text
from semsearch.text.chunking import chunk, sentences

REPO = Path(__file__).resolve().parent.parent


def _generate(folder: Path, files: int) -> None:
    pool = []
    for path in sorted((REPO / "seeds").glob("*.txt")):
        for span in chunk(read_text(path)):
            pool += [span.text[s:e] for s, e in sentences(span.text, min_words=6)]
    rng = random.Random(7)
    for n in range(files):
        text = " ".join(rng.sample(pool, 2))
        (folder / f"{n:05d}.txt").write_text(f"خبر رقم {n}: {text}\n", encoding="utf-8")


def _time(label: str, corpus: Path, index: Path, **kwargs) -> float:
    started = time.perf_counter()
    _, changes = update([corpus], index, **kwargs)
    seconds = time.perf_counter() - started
    print(f"  {label:22s} {seconds:8.2f} s   ({changes.embedded} passages embedded)")
    return seconds


def _measure(name: str, corpus: Path, work: Path) -> None:
    print(f"{name}: {len(list(corpus.glob('*.txt')))} files")
    index = work / f"index-{name}"
    full = _time("full build", corpus, index)
    same = _time("nothing changed", corpus, index)
    first = sorted(corpus.glob("*.txt"))[0]
    first.write_text(
        first.read_text(encoding="utf-8")
        + "\nوأضاف المتحدث أن المحادثات ستستمر الأسبوع المقبل في بغداد.\n",
        encoding="utf-8",
    )
    one = _time("one file changed", corpus, index)
    print(
        f"  ratios to the full build: nothing changed {same / full:.1%}, one file changed {one / full:.1%}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shutil.copytree(REPO / "seeds", work / "seeds")
        _measure("seeds", work / "seeds", work)
        (work / "generated").mkdir()
        _generate(work / "generated", args.files)
        _measure("generated", work / "generated", work)


if __name__ == "__main__":
    main()
