import pytest

from semsearch.text.cleaning import boilerplate_reason, word_count

from ..conftest import SEEDS


@pytest.mark.parametrize(
    "line",
    [
        "| لمتابعة أهم وأحدث الأخبار انضموا إلينا عبر قناتنا على واتساب (channel whatsapp) اضغط هنا",
        "تسجل في النشرة اليومية عبر البريد الالكتروني",
        "دولية وإقليمية - Wednesday, April 7, 2021 9:34:00 PM",
        "الجمعة 23/07/2021 - 03:53 بتوقيت نيويورك",
        "لن يتم نشر عنوان بريدك الإلكتروني. الحقول الإلزامية مشار إليها بـ *",
        "Connect with us",
        "  • facebook",
        "  • google+",
        "أحدث الأخبار|",
        "https://example.com/article/123",
    ],
)
def test_page_chrome_is_recognised(line: str) -> None:
    assert boilerplate_reason(line) is not None


@pytest.mark.parametrize(
    "line",
    [
        "وتسلمت القوات الأمنية العراقية قاعدة القائم العسكرية في محافظة الأنبار، غربي البلاد.",
        "وأمس أعرب وزير الخارجية الأميركي، أنتوني بلينكن في تغريدة على تويتر، عن تطلعه للبحث",
        "The minister said on Twitter that the talks on the coalition's future went well and would go on.",
        "| column a | column b |",
    ],
)
def test_prose_is_kept(line: str) -> None:
    assert boilerplate_reason(line) is None


def test_the_news_ticker_of_seed_003_is_dropped() -> None:
    ticker = next(
        line
        for line in (SEEDS / "003_9dea5bcf8ffcc030.txt").read_text().splitlines()
        if line.startswith("ماكرون وبوتين")
    )
    assert boilerplate_reason(ticker) == "navigation"


def test_word_count_ignores_numbers_and_punctuation() -> None:
    assert word_count("الجمعة 23/07/2021 - 03:53") == 1
