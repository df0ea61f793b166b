import pytest

from semsearch.errors import QueryError
from semsearch.search import ranking
from semsearch.search.ranking import Signals, dense_score, fuse


def test_dense_mode_is_the_cosine_blended_with_the_best_sentence() -> None:
    s = Signals(passage=0.80, sentence=0.90, bm25=5.0, names=2.0)
    w = ranking.Weights().sentence
    assert dense_score(s) == pytest.approx((1 - w) * 0.80 + w * 0.90)
    assert dense_score(Signals(0.8, 0.7, 0, 0)) == pytest.approx(
        0.8
    )  # a weaker sentence never lowers it
    assert dense_score(Signals(0.8, None, 0, 0)) == 0.8
    assert fuse({1: s}, "dense") == {1: dense_score(s)}


def test_hybrid_adds_bounded_bonuses_normalised_by_the_best_match() -> None:
    candidates = {
        1: Signals(0.80, None, 10.0, 4.0),
        2: Signals(0.82, None, 5.0, 0.0),
        3: Signals(0.83, None, 0, 0),
    }
    scores = fuse(candidates, "hybrid")
    assert scores[1] == pytest.approx(0.80 + ranking.Weights().lexical + ranking.Weights().names)
    assert scores[2] == pytest.approx(0.82 + ranking.Weights().lexical / 2)
    assert scores[3] == pytest.approx(0.83)


def test_lexical_mode_keeps_only_lexical_matches() -> None:
    scores = fuse({1: Signals(0.9, None, 0, 0), 2: Signals(0.1, None, 2.0, 1.0)}, "lexical")
    assert scores == {2: 2.0}


def test_rrf_is_available_for_comparison() -> None:
    candidates = {1: Signals(0.9, None, 0, 0), 2: Signals(0.8, None, 3.0, 0)}
    scores = fuse(candidates, "hybrid", method="rrf")
    assert scores[2] > scores[1]  # second on dense, first on BM25


def test_unknown_modes_are_refused() -> None:
    with pytest.raises(QueryError, match="'semantic'"):
        ranking.check_mode("semantic")
