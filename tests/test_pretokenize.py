"""BERT pre-tokenisation: exact outputs, and exact agreement with tokenizers on real text."""

from __future__ import annotations

import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.corpus_fixtures import english_texts, joined_words, multilingual_texts
from transforms.vocab.pretokenize import (
    is_cjk,
    is_punctuation,
    normalize_text,
    pretokenize,
    split_words,
)


def _hf(lowercase: bool):
    from tokenizers import normalizers, pre_tokenizers

    norm = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=lowercase
    )
    pre = pre_tokenizers.BertPreTokenizer()
    return lambda text: [w for w, _ in pre.pre_tokenize_str(norm.normalize_str(text))]


@pytest.mark.parametrize(
    ("text", "lowercase", "words"),
    [
        ("Hello, World!", True, ["hello", ",", "world", "!"]),
        ("Hello, World!", False, ["Hello", ",", "World", "!"]),
        ("naïve Café", True, ["naive", "cafe"]),
        ("naïve Café", False, ["naïve", "Café"]),
        ("don't", True, ["don", "'", "t"]),
        ("$5.00 + 3%", False, ["$", "5", ".", "00", "+", "3", "%"]),
        ("中文abc字", False, ["中", "文", "abc", "字"]),
        ("日本語のテキスト", False, ["日", "本", "語", "のテキスト"]),  # kana are not CJK
        ("a\u00adb\u200bc", False, ["abc"]),  # soft hyphen, zero-width space: Cf, dropped
        ("a\tb\u3000c\u2028d\u00a0e", False, ["a", "b", "c", "d", "e"]),
        ("a\x00b\ufffdc\x0bd", False, ["abcd"]),  # NUL, U+FFFD, VT dropped
        ("ΟΔΟΣ", True, ["οδοσ"]),  # char-by-char lowercase: no final sigma
        ("«quoted»—dash", False, ["«", "quoted", "»", "—", "dash"]),
        ("©2024 x^2", False, ["©2024", "x", "^", "2"]),  # So is not punctuation
        ("", True, []),
        ("   \n  ", True, []),
    ],
)
def test_pretokenize_examples(text, lowercase, words):
    assert pretokenize(text, lowercase=lowercase) == words
    assert _hf(lowercase)(text) == words


def test_character_classes():
    assert all(is_punctuation(c) for c in "!/:@[`{~¿«»—、。")
    assert not any(is_punctuation(c) for c in "aZ0$é©+" if c not in "$+")
    assert is_punctuation("$") and is_punctuation("+")  # ASCII symbols count as punctuation
    assert is_cjk("中") and is_cjk("\U00020000") and not is_cjk("の") and not is_cjk("한")


def test_normalized_text_definition():
    text = "  Héllo,\tWORLD!!  中文 "
    assert normalize_text(text, lowercase=True) == "  hello, world!!   中  文  "
    assert joined_words(text, lowercase=True) == "hello , world ! ! 中 文"
    assert joined_words(text, lowercase=False) == "Héllo , WORLD ! ! 中 文"


@pytest.fixture(scope="module")
def all_texts(shared_data):
    return {**english_texts(shared_data), **multilingual_texts(shared_data)}


@pytest.mark.parametrize("lowercase", [True, False])
def test_agrees_with_tokenizers_on_all_shared_text(all_texts, lowercase):
    hf = _hf(lowercase)
    assert len(all_texts) >= 30
    for name, lines in all_texts.items():
        assert lines, name
        mismatches = [ln for ln in lines if pretokenize(ln, lowercase=lowercase) != hf(ln)]
        assert mismatches == [], f"{name}: {len(mismatches)} lines differ, e.g. {mismatches[:2]}"


@pytest.mark.parametrize("lowercase", [True, False])
def test_code_point_sweep_differs_only_by_unicode_version(lowercase):
    """Every code point in context. tokenizers compiles in older Unicode tables than Python's
    unicodedata, so a few hundred characters added/re-categorised since then differ; nothing
    below U+0600 (Latin, Greek, Cyrillic, Hebrew, ...) and no CJK ideograph may differ."""
    hf = _hf(lowercase)

    def probe(cp: int) -> str:
        return f"aX{chr(cp)}b{chr(cp)}Σ"

    differ = []
    codepoints = [cp for cp in range(sys.maxunicode + 1) if not 0xD800 <= cp < 0xE000]
    for start in range(0, len(codepoints), 512):
        block = codepoints[start : start + 512]
        text = " ".join(probe(cp) for cp in block)  # one call per block; drill down on a miss
        if pretokenize(text, lowercase=lowercase) != hf(text):
            differ += [
                cp for cp in block if pretokenize(probe(cp), lowercase=lowercase) != hf(probe(cp))
            ]
    assert len(differ) < 600
    assert all(cp >= 0x600 and not is_cjk(chr(cp)) for cp in differ)


@pytest.mark.parametrize("lowercase", [True, False])
def test_pretokenize_splits_the_normalised_text(lowercase):
    """pretokenize spaces out CJK while splitting, after the folding; normalize_text spaces it
    out first, as BertNormalizer does. Both must give the same words for every code point."""
    codepoints = [cp for cp in range(sys.maxunicode + 1) if not 0xD800 <= cp < 0xE000]
    for start in range(0, len(codepoints), 4096):
        text = " ".join(f"aX{chr(cp)}\u0301b{chr(cp)}Σ" for cp in codepoints[start : start + 4096])
        normalized = normalize_text(text, lowercase=lowercase)
        assert pretokenize(text, lowercase=lowercase) == split_words(normalized)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_properties(text):
    for lowercase in (True, False):
        words = pretokenize(text, lowercase=lowercase)
        assert all(w and " " not in w for w in words)
        # Normalised text is a fixed point: pre-tokenising it again gives the same words.
        assert pretokenize(" ".join(words), lowercase=lowercase) == words
