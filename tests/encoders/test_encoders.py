import subprocess
import sys

import numpy as np
import pytest

from semsearch.encoders import DEFAULT_ENCODER, E5_ENCODER, USE_ENCODER, Encoder, load_encoder
from semsearch.errors import EncoderError


@pytest.mark.parametrize(
    ("name", "dim"), [(DEFAULT_ENCODER, 384 + 512), (E5_ENCODER, 384), (USE_ENCODER, 512)]
)
def test_the_bundled_encoders_are_multilingual(name: str, dim: int) -> None:
    enc = load_encoder(name)
    assert isinstance(enc, Encoder)
    assert enc.name == name and enc.dim == dim
    q = enc.encode_queries(["when did the Qaim base handover happen"])
    p = enc.encode_passages(["وتسلمت القوات الأمنية العراقية قاعدة القائم", "a recipe for bread"])
    assert q.shape == (1, dim) and p.shape == (2, dim) and q.dtype == np.float32
    assert np.allclose(np.linalg.norm(p, axis=1), 1.0, atol=1e-4)
    assert (p @ q[0])[0] > (p @ q[0])[1]  # cross-lingual: the Arabic answer wins


def test_queries_and_passages_get_different_prefixes() -> None:
    enc = load_encoder(E5_ENCODER)
    text = ["the same words"]
    assert not np.allclose(enc.encode_queries(text), enc.encode_passages(text))


def test_the_encoder_is_loaded_once() -> None:
    assert load_encoder("default") is load_encoder(DEFAULT_ENCODER)


def test_an_unknown_encoder_names_the_choices() -> None:
    with pytest.raises(EncoderError, match="e5-small-q4"):
        load_encoder("gpt-17")


def test_import_semsearch_is_cheap_and_the_query_path_never_imports_torch(tmp_path) -> None:
    code = (
        "import sys, semsearch\n"
        "heavy = {'faiss', 'numpy', 'torch', 'sentence_transformers'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
        "from semsearch import Index\n"
        f"Index.create(['{tmp_path}/d'], '{tmp_path}/i').search('question')\n"
        "assert 'torch' not in sys.modules and 'sentence_transformers' not in sys.modules\n"
    )
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.txt").write_text(
        "A paragraph that is long enough to be indexed as a passage.\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
