"""Unicode text as the index sees it: NFKC, case folded, Traditional → Simplified, length kept.

Length preserving on purpose: highlight offsets found in a normalised text point into the text
as shown. Invisible format characters are removed by `strip_invisible` (which changes lengths),
for what users type, never for article text whose offsets matter.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache

import numpy as np

# ---------------------------------------------------------------- normalisation


@lru_cache(maxsize=1)
def _t2s():
    """OpenCC's Traditional→Simplified converter, loaded once (it reads its tables from disk)."""
    try:
        import opencc
    except ImportError:  # pragma: no cover - OpenCC is a declared dependency
        return None
    return opencc.OpenCC("t2s")


def _char_fold(ch: str) -> str:
    folded = unicodedata.normalize("NFKC", ch)
    if len(folded) != 1:
        return ch
    lowered = folded.lower()
    return lowered if len(lowered) == 1 else folded


class _FoldTable(dict):
    """Code point → its folded character, filled in on first sight (for `str.translate`)."""

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        folded = _char_fold(ch) if code > 0x7F or ch.isupper() else ch
        self[code] = folded
        return folded


_FOLD_TABLE = _FoldTable()
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
VECTOR_MIN_CHARS = 64  # shorter texts (questions, headlines) fold faster with str.translate


# A code table entry: the folded code point (21 bits) and two flags above it.
_CODE = (1 << 21) - 1
_TRADITIONAL = 1 << 30  # OpenCC changes the folded character
_UNKNOWN = 1 << 31  # not learnt yet


class _CodeTables:
    """Per code point, learnt on first sight: its folded form and whether OpenCC changes it.

    `str.translate` looks every character up in a dict (~75 µs for an 800-character article);
    a numpy gather over the UTF-32 code units does the same fold in ~6 µs, and a text without a
    single Traditional character (nearly all news) skips OpenCC altogether. Both facts are in one
    entry per code point, so that a text takes one gather and one `max` (three gathers and a
    mask before: ~24 µs an 800-character article, ~16 µs now).
    """

    def __init__(self) -> None:
        self.entry = np.arange(0x110000, dtype=np.uint32) | np.uint32(_UNKNOWN)
        self._lock = threading.Lock()
        self._learn_ideographs()

    def _learn_ideographs(self) -> None:
        """The CJK Unified Ideographs all at once (one OpenCC call, a few ms): news uses
        thousands of them, and learning each on first sight slowed a fresh process's first
        hundred questions. NFKC leaves them as they are; OpenCC says which are Traditional."""
        converter = _t2s()
        if converter is None:  # pragma: no cover - OpenCC is a declared dependency
            return
        first, last = 0x4E00, 0x9FFF
        chars = [chr(code) for code in range(first, last + 1)]
        converted = converter.convert("\n".join(chars)).split("\n")
        if len(converted) != len(chars):  # pragma: no cover - learnt one by one instead
            return
        changed = np.array([a != b for a, b in zip(chars, converted, strict=True)], dtype=np.uint32)
        self.entry[first : last + 1] = np.arange(first, last + 1, dtype=np.uint32) | (changed * np.uint32(_TRADITIONAL))

    def learn(self, codes: np.ndarray) -> None:
        converter = _t2s()
        with self._lock:
            for code in np.unique(codes).tolist():
                folded = ord(_FOLD_TABLE[code])
                char = chr(folded)
                traditional = converter is not None and converter.convert(char) != char
                self.entry[code] = folded | (_TRADITIONAL if traditional else 0)  # one store: known at once


@lru_cache(maxsize=1)
def _code_tables() -> _CodeTables:
    return _CodeTables()


class _InvisibleTable(dict):
    """Code point → None for format characters (category Cf), itself otherwise; learnt on sight."""

    def __missing__(self, code: int) -> int | None:
        kept = None if unicodedata.category(chr(code)) == "Cf" else code
        self[code] = kept
        return kept


_INVISIBLE_TABLE = _InvisibleTable()


def strip_invisible(text: str) -> str:
    """`text` without format characters (Unicode category Cf): zero-width spaces and joiners, word
    joiners, soft hyphens, bidi marks, byte-order marks. A chat shows none of them, but they split
    words, so 「\u200b樱桃沟」 would never match 樱桃沟. For what users type (questions, keywords),
    before `normalize`, which cannot drop them: it keeps every length for highlight offsets.
    """
    return text if text.isascii() else text.translate(_INVISIBLE_TABLE)


def normalize(text: str) -> str:
    """Full-width → half-width, case-folded, Simplified; the length never changes.

    Keeping one output character per input character lets offsets found in the normalised
    text (matched terms, snippets) point straight back into the original text for display.
    """
    if text.isascii():
        return text.lower()
    converter = _t2s()
    if converter is None:  # pragma: no cover - OpenCC is a declared dependency
        return text.translate(_FOLD_TABLE)
    try:
        return _fold_and_simplify(text, converter)
    except UnicodeEncodeError:  # a lone surrogate (broken input): U+FFFD stands in for it
        return _fold_and_simplify(_SURROGATE_RE.sub("\ufffd", text), converter)


def _fold_and_simplify(text: str, converter) -> str:
    if len(text) < VECTOR_MIN_CHARS:
        folded = text.translate(_FOLD_TABLE)
    else:
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        tables = _code_tables()
        entries = tables.entry[codes]
        if entries.max() < _TRADITIONAL:  # every code known, none Traditional: the fold alone
            return entries.tobytes().decode("utf-32-le")
        unknown = codes[entries >= _UNKNOWN]
        if len(unknown):
            tables.learn(unknown)
            entries = tables.entry[codes]
        folded = (entries & np.uint32(_CODE)).tobytes().decode("utf-32-le")
        # No character OpenCC would change: its phrase tables have nothing to do either.
        if entries.max() < _TRADITIONAL:
            return folded
    if folded.isascii():
        return folded
    simplified = converter.convert(folded)
    if len(simplified) == len(folded):
        return simplified
    # A phrase conversion changed the length: fall back to character by character.
    return "".join(c if len(s := converter.convert(c)) != 1 else s for c in folded)
