from importlib import resources

import pytest

from semsearch.text.language import LANGUAGES, guess_language


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("when did the Qaim base handover happen", "en"),
        ("متى تم تسليم قاعدة القائم؟", "ar"),
        ("أين يقع Energiprojekt AB؟", "ar"),  # a Latin name inside an Arabic question
        ("چه کسی در انتخابات پیروز شد؟", "fa"),
        ("Quand la base a-t-elle été remise à l'armée ?", "fr"),
        ("Wann wurde der Stützpunkt übergeben?", "de"),
        ("¿Cuándo se entregó la base?", "es"),
        ("Когда передали базу?", "ru"),
        ("基地是什么时候移交的？", "zh"),
        ("基地はいつ引き渡されましたか？", "ja"),
        ("기지는 언제 인계되었습니까?", "ko"),
        ("अड्डा कब सौंपा गया?", "hi"),
        ("Πότε παραδόθηκε η βάση;", "el"),
        ("Üs ne zaman teslim edildi?", "tr"),
        ("Căn cứ được bàn giao khi nào?", "vi"),
        ("ฐานทัพถูกส่งมอบเมื่อใด", "th"),
        ("Când a fost predată baza?", "ro"),
        ("Qaim 2020", None),  # no common word: no guess
        ("42 ?", None),
    ],
)
def test_a_question_language_is_guessed_from_its_script_and_words(text: str, lang: str) -> None:
    assert guess_language(text) == lang


def test_most_shipped_example_questions_are_guessed_as_their_language() -> None:
    folder = resources.files("semsearch.data").joinpath("questions")
    names = sorted(e.name.removesuffix(".txt") for e in folder.iterdir() if e.name.endswith(".txt"))
    assert names == sorted(LANGUAGES)
    for lang in names:
        questions = folder.joinpath(f"{lang}.txt").read_text(encoding="utf-8").splitlines()
        right = sum(guess_language(q) == lang for q in questions)
        assert len(questions) >= 24 and right >= 0.9 * len(questions), (lang, right)
