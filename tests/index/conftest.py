"""What the index tests share: a small corpus and a fake-encoder index of it."""

import json
from pathlib import Path

import pytest

from semsearch import Index

from ..conftest import FakeEncoder, write


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    write(root / "a.txt", "The first document talks about apples and orchards in the valley.\n")
    write(root / "b.txt", "The second document talks about boats and harbours on the coast.\n")
    return root


def build(corpus: Path, tmp_path: Path, enc: FakeEncoder) -> Index:
    return Index.create([corpus], tmp_path / "index", encoder=enc)


def live_generation(directory: Path) -> Path:
    return directory / json.loads((directory / "manifest.json").read_text())["generation"]


def database(directory: Path) -> Path:
    return directory / json.loads((directory / "manifest.json").read_text())["database"]


QUESTIONS = [
    "when did the Qaim base handover happen",
    "how many American soldiers are in Syria",
    "Who is the US ambassador in Baghdad?",
    "متى وقعت اتفاقية الإطار الاستراتيجي؟",
    "what did the Wall Street Journal report",
    "covid cooperation",
    "Brett McGurk",
    "Islamic Resistance in Iraq attacks",
]
