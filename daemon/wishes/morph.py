"""Dictionary lemmas of Russian words (pymorphy3 with its shipped dictionary: no download, no network).

A lemma costs about 0.4 ms the first time (pymorphy3 analyses every reading), so it is
asked only for the few words the cheap stem did not place, and remembered.
"""

from __future__ import annotations

from functools import cache, lru_cache

import pymorphy3

LEMMA_CACHE_WORDS = 20_000


@cache
def analyzer() -> pymorphy3.MorphAnalyzer:
    """Loaded once, on first use (about 0.4 s: the dictionary is memory-mapped from the wheel)."""
    return pymorphy3.MorphAnalyzer(lang="ru")


@lru_cache(maxsize=LEMMA_CACHE_WORDS)
def lemmas(word: str) -> tuple[str, ...]:
    """The distinct normal forms of ``word``'s likeliest readings, the likeliest first."""
    found: list[str] = []
    for parse in analyzer().parse(word)[:3]:
        if parse.normal_form not in found:
            found.append(parse.normal_form)
    return tuple(found)


@lru_cache(maxsize=1_000)
def genitive(name: str) -> str:
    """A place's name after «из»: «Казань» → «Казани», «Минеральные Воды» → «Минеральных Вод»."""
    words = []
    for word in name.split(" "):
        head, dash, tail = word.partition("-")
        if head.lower() in ("санкт", "ростов") and dash:  # «Санкт-Петербург», «Ростов-на-Дону»: one part declines
            head, tail = (word.rsplit("-", 1)[0] + "-", word.rsplit("-", 1)[1]) if head.lower() == "санкт" \
                else (head, dash + tail)
            inflected = _genitive_word(tail) if head.endswith("-") else _genitive_word(head)
            words.append(head + inflected if head.endswith("-") else inflected + tail)
            continue
        words.append(_genitive_word(word) + dash + tail)
    return " ".join(words)


def _genitive_word(word: str) -> str:
    for parse in analyzer().parse(word):
        # The name is in the nominative; its number stays («Воды» → «Вод», not «Воды»).
        if parse.tag.case == "nomn" and ("Geox" in parse.tag.grammemes or parse.tag.POS in ("NOUN", "ADJF")):
            form = parse.inflect({"gent", parse.tag.number} if parse.tag.number else {"gent"})
            if form is not None:
                found = form.word
                return found[:1].upper() + found[1:] if word[:1].isupper() else found
    return word
