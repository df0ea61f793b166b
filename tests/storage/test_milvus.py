"""The Milvus backend against a real engine: Milvus Lite as an embedded file (in this
process) and Milvus Lite's gRPC server as a process of its own on a loopback port
(the client path a cluster takes), driven through the library and the CLI."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from semsearch import Index
from semsearch.errors import EncoderMismatchError, InputError, StoreError
from semsearch.extras import install_command
from semsearch.index import update
from semsearch.storage.milvus.address import parse_store

from ..conftest import QAIM, REPO, SEEDS, write
from ..servers import free_port

pytestmark = pytest.mark.slow

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

FOUNDATION = REPO / "tests" / "data" / "seeds_eval.tsv"
QUESTIONS = [
    line.split("\t")[0]
    for line in FOUNDATION.read_text(encoding="utf-8").splitlines()[1:]
    if line.strip()
]


def semsearch(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "semsearch", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def start_server(data: Path, port: int) -> subprocess.Popen:
    """``milvus-lite server`` on ``data`` in a process of its own, once it listens."""
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(data)),
            *("--host", "127.0.0.1", "--port", str(port)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"milvus-lite server did not start: {proc.stderr.read()!r}")
            time.sleep(0.2)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    """``milvus-lite server`` in a process of its own, on a free loopback port."""
    port = free_port()
    proc = start_server(tmp_path_factory.mktemp("milvus") / "data", port)
    yield f"milvus://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def lite_index(seeds_copy: Path, seeds_index: Index, tmp_path_factory: pytest.TempPathFactory):
    """The seeds in an embedded Milvus Lite file, built with the local index's cached
    vectors (the same model; the cache is what a rebuild elsewhere reuses too)."""
    folder = tmp_path_factory.mktemp("lite") / "index"
    folder.mkdir()
    shutil.copy(seeds_index.directory / "embeddings.sqlite", folder / "embeddings.sqlite")
    db = folder.parent / "seeds.db"
    idx, _ = update([seeds_copy], folder, store=f"milvus-lite:{db}")
    yield idx
    idx.close()


def places(hits):
    return [(h.source, h.start, h.end) for h in hits]


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_milvus_lite_gives_the_local_top_hits(lite_index: Index, seeds_index: Index, mode: str):
    """Lexical: Milvus's BM25 weighs words a little differently (its IDF), so a
    question may differ; passages with equal scores (a name several hold) go in
    the order of their places in both stores (in the order of their ids, 33 first
    hits of 46 and 17 top fives were the same)."""
    local = seeds_index.search_many(QUESTIONS, k=5, mode=mode)
    milvus = lite_index.search_many(QUESTIONS, k=5, mode=mode)
    first = sum(places(a[:1]) == places(b[:1]) for a, b in zip(milvus, local, strict=True))
    same = sum(places(a) == places(b) for a, b in zip(milvus, local, strict=True))
    assert first >= (0.95 if mode == "lexical" else 1) * len(QUESTIONS)
    assert same >= 0.9 * len(QUESTIONS)
    if mode != "lexical":
        for a, b in zip(milvus, local, strict=True):
            assert [h.score for h in a[:1]] == pytest.approx([h.score for h in b[:1]], abs=2e-3)


def test_milvus_lite_answers_english_arabic_and_by_words(lite_index: Index):
    for question, mode in [
        ("when did the Qaim base handover happen", "hybrid"),
        ("متى تسلمت القوات العراقية قاعدة القائم", "hybrid"),
        ("قاعدة القائم العسكرية", "lexical"),
    ]:
        assert QAIM in lite_index.search(question, k=3, mode=mode)[0].text, (question, mode)
    hit = lite_index.search("Qaim base", k=1)[0]
    assert hit.highlighted in hit.text and hit.occurrences[0].source == hit.source


def test_manifest_names_the_store_and_check_is_clean(lite_index: Index):
    manifest = json.loads((lite_index.directory / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["store"].startswith("milvus-lite:") and manifest["store"].endswith("seeds.db")
    audit = lite_index.backend.audit()
    assert audit.problems == ()
    assert audit.passages == audit.vectors == lite_index.manifest.passages == 55
    assert len(audit.documents) == 5


def test_server_process_through_the_cli(server: str, seeds_copy: Path, tmp_path: Path):
    """Index, ask, check and info by command, against the gRPC server on loopback;
    the token is used, never written."""
    store = f"{server}/news"
    env = {"SEMSEARCH_MILVUS_TOKEN": "root:Milvus"}
    folder = tmp_path / "idx"
    built = semsearch("index", str(seeds_copy), "--index", str(folder), "--store", store, env=env)
    assert built.returncode == 0, built.stderr
    assert "Milvus" not in (folder / "manifest.json").read_text(encoding="utf-8")
    assert json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["store"] == store
    asked = semsearch(
        "ask", "when did the Qaim base handover happen", "--index", str(folder), "--json", env=env
    )
    assert asked.returncode == 0, asked.stderr
    assert QAIM in json.loads(asked.stdout)["hits"][0]["text"]
    checked = semsearch("check", "--index", str(folder), env=env)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def corpus(root: Path) -> Path:
    root.mkdir(parents=True)
    for n, name in enumerate(sorted(SEEDS.glob("*.txt"))[:3]):
        shutil.copy(name, root / f"doc{n}.txt")
    return root


def content(idx: Index) -> tuple[set, list]:
    stored = {(p.text, p.occurrences) for p in idx.passages()}
    return stored, [places(h) for h in idx.search_many(QUESTIONS[:12], k=5)]


def test_incremental_writes_equal_a_fresh_build(server: str, tmp_path: Path, seeds_index: Index):
    docs = corpus(tmp_path / "docs")
    folder = tmp_path / "inc"
    folder.mkdir()
    shutil.copy(seeds_index.directory / "embeddings.sqlite", folder)
    idx, _ = update([docs], folder, store=f"{server}/inc")
    write(docs / "new.txt", (SEEDS / sorted(p.name for p in SEEDS.glob("*.txt"))[3]).read_text())
    changed = docs / "doc1.txt"
    changed.write_text(
        changed.read_text(encoding="utf-8")[:1500] + "\n\nفقرة جديدة عن قاعدة القائم.",
        encoding="utf-8",
    )
    (docs / "doc2.txt").unlink()
    changes = idx.add([docs], prune=True)
    assert (len(changes.added), len(changes.updated), len(changes.removed)) == (1, 1, 1)
    fresh_folder = tmp_path / "fresh"
    fresh_folder.mkdir()
    shutil.copy(folder / "embeddings.sqlite", fresh_folder)
    fresh, _ = update([docs], fresh_folder, store=f"{server}/fresh")
    assert content(idx) == content(fresh)
    assert idx.backend.audit().problems == ()


@pytest.mark.parametrize("point", ["embed", "commit"])
def test_kill_9_mid_write_then_the_same_command_mends_it(
    server: str, tmp_path: Path, seeds_copy: Path, point: str
):
    store = f"{server}/crash_{point}"
    folder = tmp_path / "idx"
    docs = tmp_path / "docs"
    shutil.copytree(seeds_copy, docs)
    args = ["index", str(docs), "--index", str(folder), "--store", store, "-q"]
    first = semsearch(*args)
    assert first.returncode == 0, first.stderr
    for path in sorted(docs.glob("*.txt"))[:2]:  # changed files: old passages to remove
        text = path.read_text(encoding="utf-8")
        path.write_text(text[len(text) // 3 :] + "\n\nخاتمة جديدة للمقال.", encoding="utf-8")
    killed = semsearch(*args, env={"SEMSEARCH_FAULT": f"{point}:kill"})
    assert killed.returncode == -9
    again = semsearch(*args)
    assert again.returncode == 0, again.stderr
    idx = Index.open(folder)
    audit = idx.backend.audit()
    assert audit.problems == ()
    fresh_dir = tmp_path / "fresh"
    fresh_dir.mkdir()
    shutil.copy(folder / "embeddings.sqlite", fresh_dir)
    fresh, _ = update([docs], fresh_dir, store=f"{server}/fresh_{point}")
    assert content(idx) == content(fresh)
    assert (audit.passages, len(audit.documents)) == (fresh.manifest.passages, 5)


def test_another_model_is_refused(server: str, tmp_path: Path):
    docs = tmp_path / "docs"
    write(docs / "a.txt", "The Qaim base was handed over to Iraqi forces in March 2020.\n")
    store = f"{server}/models"
    idx, _ = update([docs], tmp_path / "e5", encoder="e5-small-q4", store=store)
    with pytest.raises(EncoderMismatchError, match="e5-small-q4"):
        update([docs], tmp_path / "use", encoder="use-m3", store=store)
    with pytest.raises(EncoderMismatchError):
        Index.open(tmp_path / "e5", encoder="use-m3")
    assert idx.search("Qaim", k=1)[0].text.startswith("The Qaim base")


def test_bad_store_values_say_the_forms():
    for value in ["foo", "milvus-lite:x.sqlite", "milvus://host/c", "milvus://h:1/9bad"]:
        with pytest.raises(InputError, match="store"):
            parse_store(value)
    result = semsearch("index", "seeds", "--index", "/tmp/never", "--store", "mongodb://x")
    assert result.returncode != 0
    assert "milvus-lite:PATH.db or milvus://HOST:PORT/COLLECTION" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_server_is_one_line(tmp_path: Path):
    store = f"milvus://127.0.0.1:{free_port()}/none"
    result = semsearch("index", str(SEEDS), "--index", str(tmp_path / "i"), "--store", store)
    assert result.returncode != 0
    assert "cannot reach Milvus at" in result.stderr and "Traceback" not in result.stderr


def test_a_collection_of_an_earlier_layout_is_named_not_misread(tmp_path: Path):
    from pymilvus import DataType, MilvusClient

    client = MilvusClient(uri=str(tmp_path / "old.db"))
    for name in ("semsearch", "semsearch_meta"):  # passages without the names vector
        schema = client.create_schema(auto_id=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("unused", DataType.FLOAT_VECTOR, dim=2)
        params = client.prepare_index_params()
        params.add_index("unused", index_type="FLAT", metric_type="IP")
        client.create_collection(name, schema=schema, index_params=params)
    client.close()
    with pytest.raises(StoreError, match="built by an earlier semsearch"):
        update([SEEDS], tmp_path / "i", store=f"milvus-lite:{tmp_path / 'old.db'}")


def test_missing_extra_names_its_install_command(tmp_path: Path):
    code = (
        "import sys; sys.modules['pymilvus'] = None\n"
        "from semsearch.cli.entry import main; sys.argv = ['semsearch', 'index', 'seeds', '--index', "
        f"{str(tmp_path / 'i')!r}, '--store', 'milvus-lite:' + {str(tmp_path / 'x.db')!r}]; main()"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.returncode != 0
    assert install_command("milvus") in result.stderr


def test_the_default_path_never_imports_pymilvus(seeds_index: Index):
    code = (
        "import sys; from semsearch import Index\n"
        f"Index.open({str(seeds_index.directory)!r}).search('Qaim base')\n"
        "assert 'pymilvus' not in sys.modules and 'milvus_lite' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


XQUAD = REPO.parent / "shared" / "xquad"
ARTICLES = 6
"""Articles of XQuAD's Arabic corpus the suite indexes (bench/milvus.py takes all 48)."""


@pytest.mark.skipif(not XQUAD.is_dir(), reason="../shared/xquad is not beside the repo")
def test_xquad_parity_with_the_local_store(tmp_path: Path):
    """English and Arabic questions against Arabic articles: Milvus's MRR@10 within
    0.01 of the local store's in every mode."""
    from semsearch.reports.evaluation import evaluate, read_qrels

    docs = tmp_path / "ar"
    docs.mkdir()
    names = [f"article_{n:02d}.txt" for n in range(ARTICLES)]
    for name in names:
        shutil.copy(XQUAD / "corpus" / "ar" / name, docs / name)
    qrels = [
        q
        for q in read_qrels([XQUAD / "qrels" / "en.jsonl", XQUAD / "qrels" / "ar.jsonl"], "ar")
        if q.judgments[0].file in names
    ]
    local = Index.create([docs], tmp_path / "local")
    folder = tmp_path / "milvus"
    folder.mkdir()
    shutil.copy(local.directory / "embeddings.sqlite", folder)
    milvus, _ = update([docs], folder, store=f"milvus-lite:{tmp_path / 'x.db'}")
    scores = [
        {m.mode: m.mrr for m in evaluate(idx, qrels, by="lang").groups[lang].modes}
        for lang in ("en", "ar")
        for idx in (local, milvus)
    ]
    for mine, theirs in [(scores[1], scores[0]), (scores[3], scores[2])]:
        for mode, mrr in theirs.items():
            assert mine[mode] == pytest.approx(mrr, abs=0.01), (mode, mine, theirs)
    milvus.close()


def test_a_restarted_server_is_searched_again_without_help(seeds_copy: Path, tmp_path: Path):
    """A restarted server holds the collections released; the next search loads them."""
    port = free_port()
    proc = start_server(tmp_path / "data", port)
    try:
        idx, _ = update([seeds_copy], tmp_path / "i", store=f"milvus://127.0.0.1:{port}/news")
        assert QAIM in idx.search(QUESTIONS[0], k=1)[0].text
        proc.kill()
        proc.wait(timeout=30)
        proc = start_server(tmp_path / "data", port)
        assert QAIM in idx.search(QUESTIONS[0], k=1)[0].text
    finally:
        proc.kill()
        proc.wait(timeout=30)
