"""Reports as files: CSV, JSON, or one self-contained HTML page (jinja2 templates).

The format follows the output path's extension. JSON is also what ``--json``
prints. Paths are shown relative to the working directory when inside it.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..records import Location, display_path
from .compare import Comparison, Section
from .duplicates import DuplicateReport
from .queries import QueryReport

Report = QueryReport | DuplicateReport | Comparison
FORMATS = (".csv", ".json", ".html")


def check_format(path: str | Path) -> str:
    """The format ``path`` asks for, refused before any work if unknown."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise InputError(f"cannot write {path}: use an --out ending in {', '.join(FORMATS)}")
    return suffix


def write(report: Report, path: str | Path) -> Path:
    """Write ``report`` in the format named by ``path``'s extension."""
    path = Path(path)
    suffix = check_format(path)
    if suffix == ".json":
        content = json.dumps(to_data(report), ensure_ascii=False, indent=2)
    elif suffix == ".csv":
        content = to_csv(report)
    else:
        content = to_html(report)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return path


def to_data(report: Report) -> dict[str, Any]:
    """The JSON-ready form of a report."""
    cwd = Path.cwd()
    if isinstance(report, QueryReport):
        return {
            "k": report.k,
            "results": [
                {"question": r.question, "hits": [h.to_dict(cwd) for h in r.hits]}
                for r in report.results
            ],
        }
    if isinstance(report, DuplicateReport):
        return {
            "threshold": report.threshold,
            "documents": [display_path(d, cwd) for d in report.documents],
            "pairs": [asdict(p) for p in report.pairs],
            "clusters": [
                {**asdict(c), "documents": [display_path(d, cwd) for d in c.documents]}
                for c in report.clusters
            ],
            "passages": {
                str(pid): {"text": p.text, "occurrences": [_place(o) for o in p.occurrences]}
                for pid, p in report.passages.items()
                if pid in _reported_ids(report)
            },
            "coverage": report.coverage,
            "similarity": report.similarity,
        }
    return {
        "a": display_path(report.a, cwd),
        "b": display_path(report.b, cwd),
        "threshold": report.threshold,
        "aligned": [
            {"a": _section(row.a), "b": _section(row.b) if row.b else None, "score": row.score}
            for row in report.aligned
        ],
        "unmatched_b": [_section(section) for section in report.unmatched_b],
    }


def to_text(report: Report) -> str:
    """A short plain-text summary for the terminal."""
    data = to_data(report)
    lines: list[str] = []
    if isinstance(report, QueryReport):
        for r in data["results"]:
            lines.append(f"? {r['question']}")
            lines += [
                f"  {h['rank']}. {h['score']:.3f}  {h['source']}:{h['start']}-{h['end']}  {_clip(h['text'])}"
                for h in r["hits"]
            ]
    elif isinstance(report, DuplicateReport):
        lines.append(
            f"{len(report.clusters)} groups of repeated passages, {len(report.pairs)} near-duplicate "
            f"pairs (cosine >= {report.threshold})"
        )
        for n, cluster in enumerate(data["clusters"], 1):
            text = data["passages"][str(cluster["passages"][0])]["text"]
            lines.append(
                f"  {n}. {cluster['places']} places in {', '.join(cluster['documents'])}: {_clip(text)}"
            )
        lines.append("document similarity (mean best match):")
        for name, row in zip(data["documents"], report.similarity, strict=True):
            lines.append("  " + " ".join(f"{v:.2f}" for v in row) + f"  {name}")
    else:
        for row in data["aligned"]:
            b = f"{row['b']['start']}-{row['b']['end']}" if row["b"] else "-"
            lines.append(
                f"  A {row['a']['start']}-{row['a']['end']}  ~  B {b}  {row['score']:.3f}  {_clip(row['a']['text'])}"
            )
        lines.append(f"{len(report.unmatched_b)} passages of B have no counterpart in A")
    return "\n".join(lines) + "\n"


def _clip(text: str, width: int = 70) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def to_csv(report: Report) -> str:
    """One row per question x hit, per duplicate pair or place, or per aligned passage."""
    out = io.StringIO()
    writer = csv.writer(out)
    data = to_data(report)
    if isinstance(report, QueryReport):
        writer.writerow(
            ["question", "rank", "score", "source", "passage_id", "start", "end", "text"]
        )
        for r in data["results"]:
            for h in r["hits"]:
                writer.writerow(
                    [
                        r["question"],
                        h["rank"],
                        h["score"],
                        h["source"],
                        h["passage_id"],
                        h["start"],
                        h["end"],
                        h["text"],
                    ]
                )
    elif isinstance(report, DuplicateReport):
        writer.writerow(["cluster", "passage_id", "source", "start", "end", "text"])
        for n, cluster in enumerate(data["clusters"], 1):
            for pid in cluster["passages"]:
                passage = data["passages"][str(pid)]
                for place in passage["occurrences"]:
                    writer.writerow(
                        [n, pid, place["source"], place["start"], place["end"], passage["text"]]
                    )
    else:
        writer.writerow(["a_start", "a_end", "a_text", "score", "b_start", "b_end", "b_text"])
        for row in data["aligned"]:
            b = row["b"] or {"start": "", "end": "", "text": ""}
            writer.writerow(
                [row["a"]["start"], row["a"]["end"], row["a"]["text"], round(row["score"], 4),
                 b["start"], b["end"], b["text"]]
            )  # fmt: skip
        for section in data["unmatched_b"]:
            writer.writerow(["", "", "", "", section["start"], section["end"], section["text"]])
    return out.getvalue()


def to_html(report: Report) -> str:
    """A single self-contained page: no scripts, styles inline, the heatmap as inline SVG."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("semsearch.reports", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["heat"] = _heat
    env.filters["pct"] = lambda x: f"{max(0.0, min(1.0, float(x))) * 100:.1f}%"
    env.filters["href"] = lambda path: Path(path).resolve().as_uri()
    env.filters["shown"] = lambda path: display_path(str(path), Path.cwd())
    env.filters["oneline"] = lambda text: " ".join(str(text).split())
    if isinstance(report, QueryReport):
        scores = [h.score for r in report.results for h in r.hits]
        return env.get_template("queries.html").render(report=report, scale=_scale(scores))
    if isinstance(report, DuplicateReport):
        names = [Path(d).name for d in report.documents]
        scale = _scale([p.score for p in report.pairs] + [report.threshold])
        return env.get_template("duplicates.html").render(report=report, names=names, scale=scale)
    scale = _scale([row.score for row in report.aligned])
    return env.get_template("compare.html").render(report=report, scale=scale)


def _scale(scores: list[float]) -> tuple[float, float]:
    """The range score bars span: a little below the lowest score shown, to the highest."""
    if not scores:
        return 0.0, 1.0
    high = max(scores)
    low = min(min(scores) - 0.05, high - 0.1)
    return max(low, -1.0), high


def _heat(value: float, low: float = 0.0, high: float = 1.0) -> str:
    """White to deep blue for a value between ``low`` and ``high``."""
    t = 0.0 if high <= low else max(0.0, min(1.0, (float(value) - low) / (high - low)))
    r, g, b = (int(255 + (c - 255) * t) for c in (33, 102, 172))
    return f"rgb({r},{g},{b})"


def _place(location: Location) -> dict[str, Any]:
    return {
        "source": display_path(location.source, Path.cwd()),
        "start": location.start,
        "end": location.end,
    }


def _section(section: Section) -> dict[str, Any]:
    return {**_place(section.place), "text": section.text}


def _reported_ids(report: DuplicateReport) -> set[int]:
    return {pid for c in report.clusters for pid in c.passages} | {
        pid for p in report.pairs for pid in (p.a, p.b)
    }
