"""The Milvus side of an index: its five collections, the vector index each size
gets, and batched reads and writes over pymilvus (imported only here and only
when a Milvus store is used).

For a collection name ``C``:

- ``C``: one row per unique passage, keyed by a 63-bit id derived from the hash
  of its text (so every writer gives the same text the same key, and a write is
  an idempotent upsert): text, hash, vector, the Arabic-normalised and stemmed
  words (:func:`semsearch.text.lexical.terms`) that Milvus's BM25 function turns into a
  sparse vector, its name and number shapes (:mod:`semsearch.text.names`) as a
  second sparse vector (:func:`names_vector`), and the write that stored it;
- ``C_sentences``: sentence vectors, keyed by (passage, start);
- ``C_places``: where each passage stands, keyed by (file, position);
- ``C_files``: each indexed file's hash, size and time, and files skipped as unusable;
- ``C_meta``: the manifest, and a marker per write in progress.

Milvus wants a vector field in every collection: the last three carry a 2-dim
``unused`` one.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...errors import IndexCorruptError, StoreError
from ..manifest import AUTO_FLAT_BELOW
from .address import StoreSpec, require_pymilvus

MAX_TEXT_BYTES = 65535
"""Milvus's longest VARCHAR: a passage's text, in UTF-8, must fit."""
MASKS_BELOW = 2**24
"""Vowel masks kept (all but those of words of 24 consonants or more): a sparse
vector's values are float32, whole numbers exact below 2**24."""
NAME_SEARCH = {"metric_type": "IP", "params": {"drop_ratio_search": 0.0}}
"""Searching ``names`` with one dimension set to 1 finds every passage holding it,
its value as the distance: exact, nothing dropped."""
HNSW_BELOW = 2_000_000
"""Passages up to which HNSW is built; IVF_SQ8 above (a quarter of the memory)."""
BATCH = 1000
"""Keys in one ``in [...]`` filter, rows in one upsert."""
SCALAR_INDEXED = {
    "": ("sha256", "write"),
    "_sentences": ("passage_id",),
    "_places": ("passage_id", "source"),
    "_files": ("path",),
}
"""Fields filtered on, by collection suffix: an inverted index each, else every
filter scans the collection (Milvus Lite: 1-4 s a search at 10,000 passages)."""
QUERY_LIMIT = 16384
"""Most rows one query returns (Milvus's limit on offset + limit)."""
UNUSED = [0.0, 0.0]
MARKER = "write:"
"""Meta keys of writes in progress (or that crashed): ``write:`` + the write's id."""
FLAT, HNSW, IVF_SQ8 = "FLAT", "HNSW", "IVF_SQ8"
KINDS = {"flat": FLAT, "hnsw": HNSW, "ivf": IVF_SQ8}
"""``--index-type`` values and the Milvus index each builds (``auto`` picks by size)."""


def key(text: str) -> int:
    """A 63-bit row key for a string (a passage hash, a file path and position)."""
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:16], 16) >> 1


def passage_key(sha256: str) -> int:
    """The id of the passage whose text hashes to ``sha256``: the same in every writer."""
    return int(sha256[:16], 16) >> 1


def name_dim(skeleton: str, nth: int) -> int:
    """The dimension of ``names`` for a skeleton's ``nth`` vowel mask in a passage
    (most skeletons have one): 32 bits of a hash, as Milvus's BM25 hashes words,
    so two skeletons share one about once per four billion pairs."""
    digest = hashlib.blake2b(f"{skeleton}\0{nth}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") % (2**32 - 1)  # Milvus's dimensions stop below


def names_vector(terms: Iterable[tuple[str, int]]) -> dict[int, float]:
    """A passage's (skeleton, vowel mask) terms as a sparse vector: the ``nth`` mask
    of a skeleton is ``mask + 1`` at ``name_dim(skeleton, nth)``. A passage without
    names holds the empty skeleton, which no question asks for (Milvus wants a value)."""
    masks: dict[str, list[int]] = {}
    for skeleton, mask in sorted(terms):
        if mask < MASKS_BELOW - 1:
            masks.setdefault(skeleton, []).append(mask)
    vector = {name_dim(s, n): float(m + 1) for s, ms in masks.items() for n, m in enumerate(ms)}
    return vector or {name_dim("", 0): 1.0}


def index_kind(option: str, count: int) -> str:
    """The Milvus index for ``count`` passages: exact while small, like the local store."""
    if option != "auto":
        return KINDS[option]
    if count < AUTO_FLAT_BELOW:
        return FLAT
    return HNSW if count < HNSW_BELOW else IVF_SQ8


def search_params(kind: str, k: int) -> dict[str, Any]:
    """Search parameters for ``k`` results; bench/milvus.py measures their recall."""
    if kind == HNSW:
        return {"metric_type": "IP", "params": {"ef": max(128, k)}}
    if kind == IVF_SQ8:
        return {"metric_type": "IP", "params": {"nprobe": 32}}
    return {"metric_type": "IP", "params": {}}


def quoted(value: str) -> str:
    """A string in a filter (JSON quoting is what Milvus's parser reads)."""
    return json.dumps(value, ensure_ascii=False)


def listed(values: Sequence[Any]) -> str:
    """A filter's list of strings or integers."""
    return "[" + ",".join(quoted(v) if isinstance(v, str) else str(int(v)) for v in values) + "]"


def _in_batches(field: str, values: Iterable[Any], extra: str) -> Iterator[str]:
    """``field in [...]`` filters of at most BATCH values each."""
    wanted = sorted(set(values))
    for i in range(0, len(wanted), BATCH):
        yield f"{field} in {listed(wanted[i : i + BATCH])}{extra}"


@dataclass(frozen=True)
class Names:
    passages: str
    sentences: str
    places: str
    files: str
    meta: str

    @classmethod
    def of(cls, collection: str) -> Names:
        return cls(
            collection,
            f"{collection}_sentences",
            f"{collection}_places",
            f"{collection}_files",
            f"{collection}_meta",
        )


Field = tuple[str, Any, dict[str, Any]]
"""A collection field as declared: name, pymilvus DataType, parameters."""


class Collections:
    """One connection to a store, and what semsearch asks of its collections."""

    def __init__(self, spec: StoreSpec) -> None:
        self.spec = spec
        self.names = Names.of(spec.collection)
        pymilvus = require_pymilvus()
        # it logs each failed call with a traceback; the failure reaches the user as a StoreError
        logging.getLogger("pymilvus").setLevel(logging.CRITICAL)
        # Milvus Lite's server, in this process for a file, logs each call it lacks
        # (its query iterator asks for a timestamp and goes on without)
        logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
        try:
            self.client = pymilvus.MilvusClient(uri=spec.uri, token=spec.token, timeout=10)
        except Exception as exc:  # pymilvus raises several types for an unreachable store
            raise StoreError(self._cannot_open(exc)) from None
        self._loaded = False

    def _cannot_open(self, exc: Exception) -> str:
        if self.spec.embedded:
            return (
                f"cannot open {self.spec.uri} ({reason_of(exc)}); Milvus Lite lets one process "
                "open a file at a time: stop the other one, or serve it to several with "
                f"milvus-lite server --data-dir {self.spec.uri} and --store "
                f"milvus://127.0.0.1:19530/{self.spec.collection}"
            )
        return (
            f"cannot reach Milvus at {self.spec.address} ({reason_of(exc)}); is it running? "
            "(a token goes in $SEMSEARCH_MILVUS_TOKEN)"
        )

    def close(self) -> None:
        self.client.close()

    # -- the collections ------------------------------------------------------------

    def reload(self) -> None:
        """Load the collections again: a server restarted since holds them released."""
        self._loaded = False
        self.exists()

    def exists(self) -> bool:
        """Whether the collections are there; loaded for searching if they are (a
        server keeps them loaded, Milvus Lite opens a file with them released)."""
        if self._loaded:
            return True
        if not self.client.has_collection(self.names.meta):
            return False
        for name in vars(self.names).values():
            if self.client.has_collection(name):
                self.client.load_collection(name)
        if self.client.has_collection(self.names.passages):
            fields = self.client.describe_collection(self.names.passages)["fields"]
            if "names" not in {f["name"] for f in fields}:
                raise StoreError(
                    f"Milvus collection {self.spec.collection} at {self.spec.address} was "
                    "built by an earlier semsearch (names as arrays); index into a new collection"
                )
        self._loaded = True
        return True

    def create(self, dim: int) -> None:
        """Create the missing collections (a first write; one that crashed mid-way)."""
        from pymilvus import DataType, Function, FunctionType

        c, n = self.client, self.names
        small: list[Field] = [("unused", DataType.FLOAT_VECTOR, {"dim": 2})]
        passages: list[Field] = [
            ("id", DataType.INT64, {"is_primary": True}),
            ("sha256", DataType.VARCHAR, {"max_length": 64}),
            ("text", DataType.VARCHAR, {"max_length": MAX_TEXT_BYTES}),
            ("vector", DataType.FLOAT_VECTOR, {"dim": dim}),
            (
                "words",
                DataType.VARCHAR,
                {
                    "max_length": MAX_TEXT_BYTES,
                    "enable_analyzer": True,
                    "analyzer_params": {"tokenizer": "standard"},
                },
            ),
            ("sparse", DataType.SPARSE_FLOAT_VECTOR, {}),
            ("names", DataType.SPARSE_FLOAT_VECTOR, {}),
            ("write", DataType.VARCHAR, {"max_length": 64}),
        ]
        tables: dict[str, tuple[list[Field], str]] = {
            n.passages: (passages, "vector"),
            n.sentences: (
                [
                    ("id", DataType.INT64, {"is_primary": True}),
                    ("passage_id", DataType.INT64, {}),
                    ("start", DataType.INT64, {}),
                    ("end", DataType.INT64, {}),
                    ("vector", DataType.FLOAT_VECTOR, {"dim": dim}),
                ],
                "vector",
            ),
            n.places: (
                [
                    ("id", DataType.INT64, {"is_primary": True}),
                    ("source", DataType.VARCHAR, {"max_length": 4096}),
                    ("seq", DataType.INT64, {}),
                    ("passage_id", DataType.INT64, {}),
                    ("start", DataType.INT64, {}),
                    ("end", DataType.INT64, {}),
                    *small,
                ],
                "unused",
            ),
            n.files: (
                [
                    ("key", DataType.VARCHAR, {"is_primary": True, "max_length": 4100}),
                    ("path", DataType.VARCHAR, {"max_length": 4096}),
                    ("sha256", DataType.VARCHAR, {"max_length": 64}),
                    ("size", DataType.INT64, {}),
                    ("mtime_ns", DataType.INT64, {}),
                    ("reason", DataType.VARCHAR, {"max_length": 1024}),
                    *small,
                ],
                "unused",
            ),
            n.meta: (
                [
                    ("key", DataType.VARCHAR, {"is_primary": True, "max_length": 128}),
                    ("value", DataType.VARCHAR, {"max_length": MAX_TEXT_BYTES}),
                    *small,
                ],
                "unused",
            ),
        }
        self.exists()  # loads those already there
        for name, (fields, vector) in tables.items():
            if c.has_collection(name):
                continue
            schema = c.create_schema(auto_id=False)
            for field, dtype, params in fields:
                schema.add_field(field, dtype, **params)
            params = c.prepare_index_params()
            if name == n.passages:
                schema.add_function(
                    Function(
                        name="bm25",
                        function_type=FunctionType.BM25,
                        input_field_names=["words"],
                        output_field_names=["sparse"],
                    )
                )
                params.add_index(
                    "sparse",
                    index_type="SPARSE_INVERTED_INDEX",
                    metric_type="BM25",
                    params={"bm25_k1": 1.2, "bm25_b": 0.75},  # SQLite FTS5's, as locally
                )
                params.add_index("names", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
            params.add_index(vector, index_type=FLAT, metric_type="IP")
            for field in SCALAR_INDEXED.get(name.removeprefix(n.passages), ()):
                params.add_index(field, index_type="INVERTED")
            c.create_collection(name, schema=schema, index_params=params)

    def flush(self) -> None:
        """Seal what a write added into indexed segments: until then a search scans
        it row by row (Milvus Lite: 1.2 s instead of 0.07 s a dense search at 10,000)."""
        for name in vars(self.names).values():
            self.client.flush(name)

    def drop(self) -> None:
        for name in vars(self.names).values():
            self.client.drop_collection(name)

    def vector_index(self) -> str:
        """The kind of the passages' vector index."""
        return str(self.client.describe_index(self.names.passages, "vector")["index_type"])

    def set_vector_index(self, kind: str, count: int) -> None:
        """Rebuild the passages' vector index as ``kind`` (the collection is released
        meanwhile: searches wait or fail for that moment)."""
        c, name = self.client, self.names.passages
        params = c.prepare_index_params()
        build: dict[str, Any] = {}
        if kind == HNSW:
            build = {"M": 16, "efConstruction": 200}
        elif kind == IVF_SQ8:
            build = {"nlist": max(64, min(65536, int(4 * count**0.5)))}
        params.add_index("vector", index_type=kind, metric_type="IP", params=build)
        c.release_collection(name)
        c.drop_index(name, "vector")
        c.create_index(name, params)
        c.load_collection(name)

    # -- reading ------------------------------------------------------------------

    def get(self, name: str, ids: Sequence[Any], fields: list[str]) -> list[dict[str, Any]]:
        """Rows by primary key, a batch at a time; absent keys are left out."""
        rows: list[dict[str, Any]] = []
        for i in range(0, len(ids), BATCH):
            rows += self.client.get(name, ids=list(ids[i : i + BATCH]), output_fields=fields)
        return rows

    def where_in(
        self, name: str, field: str, values: Iterable[Any], fields: list[str], extra: str = ""
    ) -> list[dict[str, Any]]:
        """Rows whose ``field`` is one of ``values`` (and ``extra``), a batch at a time."""
        return [
            row
            for where in _in_batches(field, values, extra)
            for row in self.rows(name, where, fields)
        ]

    def rows(self, name: str, where: str, fields: list[str]) -> list[dict[str, Any]]:
        """Every row matching ``where``, however many: one call while they fit in one
        answer (most reads), else an iterator's several."""
        rows = self.client.query(name, filter=where, output_fields=fields, limit=QUERY_LIMIT)
        if len(rows) < QUERY_LIMIT:
            return rows
        return [row for batch in self.batches(name, where, fields) for row in batch]

    def batches(self, name: str, where: str, fields: list[str]) -> Iterator[list[dict[str, Any]]]:
        """The rows matching ``where`` in batches (a query returns at most 16,384 rows)."""
        it = self.client.query_iterator(name, batch_size=BATCH, filter=where, output_fields=fields)
        try:
            while batch := it.next():
                yield batch
        finally:
            it.close()

    def ids(self, name: str, field: str, where: str) -> set[int]:
        """The values of one integer field over every row matching ``where``."""
        return {row[field] for batch in self.batches(name, where, [field]) for row in batch}

    def first(self, name: str, where: str, fields: list[str], limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` rows matching ``where``."""
        return self.client.query(name, filter=where, output_fields=fields, limit=limit)

    def count(self, name: str) -> int:
        rows = self.client.query(name, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"])

    def meta(self) -> dict[str, str]:
        """Every meta row, key to value."""
        return {r["key"]: r["value"] for r in self.rows(self.names.meta, 'key != ""', ["value"])}

    def files(self, paths: Iterable[str] | None = None) -> dict[str, dict[str, FileRow]]:
        """Rows of ``C_files`` by kind (``d``: indexed, ``s``: skipped), then path; all
        of them or those among ``paths``, in one read."""
        fields = ["path", "sha256", "size", "mtime_ns", "reason"]
        if paths is None:
            rows = self.rows(self.names.files, 'path != ""', fields)
        else:
            rows = self.where_in(self.names.files, "path", paths, fields)
        out: dict[str, dict[str, FileRow]] = {"d": {}, "s": {}}
        for r in rows:
            out["s" if r["reason"] else "d"][r["path"]] = FileRow(*(r[f] for f in fields))
        return out

    def search(
        self, name: str, data: list[Any], field: str, k: int, params: dict[str, Any]
    ) -> list[list[dict[str, Any]]]:
        # ids and distances only: by default a hit brings every field (text, vectors)
        return self.client.search(
            name, data=data, anns_field=field, limit=k, search_params=params, output_fields=["id"]
        )

    # -- writing ------------------------------------------------------------------

    def upsert(self, name: str, rows: list[dict[str, Any]]) -> None:
        for i in range(0, len(rows), BATCH):
            self.client.upsert(name, rows[i : i + BATCH])

    def delete_in(self, name: str, field: str, values: Iterable[Any], extra: str = "") -> None:
        for where in _in_batches(field, values, extra):
            self.client.delete(name, filter=where)

    def delete(self, name: str, where: str) -> None:
        self.client.delete(name, filter=where)

    def put_meta(self, key_: str, value: str) -> None:
        if len(value.encode("utf-8")) > MAX_TEXT_BYTES:
            raise IndexCorruptError(f"internal error: meta {key_!r} over {MAX_TEXT_BYTES} bytes")
        self.client.upsert(self.names.meta, [{"key": key_, "value": value, "unused": UNUSED}])


def vectors_of(rows: list[dict[str, Any]], dim: int) -> np.ndarray:
    """The ``vector`` fields of rows as one float32 matrix."""
    matrix = np.empty((len(rows), dim), dtype=np.float32)
    for n, row in enumerate(rows):
        matrix[n] = row["vector"]
    return matrix


def reason_of(exc: BaseException) -> str:
    """The first line of what a pymilvus error says."""
    text = str(getattr(exc, "message", "") or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


@dataclass(frozen=True)
class FileRow:
    """A row of ``C_files``: an indexed file (``reason`` empty) or a skipped one."""

    path: str
    sha256: str
    size: int
    mtime_ns: int
    reason: str

    @property
    def key(self) -> str:
        return ("s:" if self.reason else "d:") + self.path

    def row(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "path": self.path,
            "sha256": self.sha256,
            "size": self.size,
            "mtime_ns": self.mtime_ns,
            "reason": self.reason,
            "unused": UNUSED,
        }
