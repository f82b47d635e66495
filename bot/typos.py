"""Typo repair of known names: 二七去 → 二七区, 清华付中 → 清华附中 (one wrong character)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache

CJK = r"\u4e00-\u9fff\u3400-\u4dbf"


class NameVariants:
    """Finds known names typed with one wrong character (二七去, 清华付中, 上街去).

    Every name of three or more characters is indexed under each of its one-wildcard
    variants, so a window of the question is checked with a few dictionary look-ups
    instead of a fuzzy scan over all names. Input-method typos are homophones, so a
    substitution is accepted when the typed character sounds like the name's (去/区, 付/附);
    names of five or more characters accept any one substitution.
    """

    def __init__(self, names: Iterable[str], sounds: Mapping[str, str] | None = None) -> None:
        # How each CJK character is spoken (Lexicon.sounds): looked up, so pypinyin and its
        # ~50 MB of phrase tables are not loaded into every process that answers questions.
        self.sounds: Mapping[str, str] = sounds or {}
        self.names: set[str] = set()
        self.variants: dict[str, set[str]] = {}
        # A window one character off a name keeps the name's first two or last two characters
        # (or, three long with the middle one wrong, its first and last), so the windows worth
        # the variant look-ups are found from each position's pair of characters, and a
        # question costs a few dictionary look-ups per character instead of one per window.
        self.heads: dict[str, set[int]] = {}  # first two characters -> lengths of such names
        self.tails: dict[str, set[int]] = {}  # last two characters -> lengths
        self.rims: set[str] = set()  # first + last character of three-character names
        self.add(names)

    def add(self, names: Iterable[str]) -> None:
        for name in names:
            if name in self.names or not (3 <= len(name) <= 12 and re.fullmatch(rf"[{CJK}0-9]+", name)):
                continue
            self.names.add(name)
            self.heads.setdefault(name[:2], set()).add(len(name))
            self.tails.setdefault(name[-2:], set()).add(len(name))
            if len(name) == 3:
                self.rims.add(name[0] + name[2])
            for i in range(len(name)):
                self.variants.setdefault(name[:i] + "\0" + name[i + 1 :], set()).add(name)

    def _windows(self, text: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """(exact names, windows that may be one character off a name) as (begin, length)."""
        exact: list[tuple[int, int]] = []
        near: set[tuple[int, int]] = set()
        size = len(text)
        for begin in range(size - 1):
            pair = text[begin : begin + 2]
            for length in self.heads.get(pair, ()):
                if begin + length <= size:
                    if text[begin : begin + length] in self.names:
                        exact.append((begin, length))
                    else:
                        near.add((begin, length))
            for length in self.tails.get(pair, ()):  # the pair ends a window here
                start = begin + 2 - length
                if start >= 0:
                    near.add((start, length))
            if begin + 2 < size and text[begin] + text[begin + 2] in self.rims:
                near.add((begin, 3))
        near.difference_update(exact)
        return exact, sorted(near, key=lambda w: (-w[1], w[0]))

    def repair(self, text: str) -> str:
        if not self.names or len(text) > 400:
            return text
        exact, near = self._windows(text)
        if not near:
            return text
        covered = [False] * len(text)
        for begin, length in exact:  # exact names are left alone
            covered[begin : begin + length] = [True] * length
        chars = list(text)
        for begin, length in near:  # longest first, then left to right
            end = begin + length
            if any(covered[begin:end]):
                continue
            name = self._match(text[begin:end])
            if name:
                chars[begin:end] = list(name)
                covered[begin:end] = [True] * length
        return "".join(chars)

    def _match(self, window: str) -> str | None:
        found: set[str] = set()
        for i, typed in enumerate(window):
            if not "\u4e00" <= typed <= "\u9fff":  # only CJK substitutions are name typos
                continue
            for name in self.variants.get(window[:i] + "\0" + window[i + 1 :], ()):
                if len(name) >= 5 or self._sounds_alike(typed, name[i]):
                    found.add(name)
        return found.pop() if len(found) == 1 else None

    def _sounds_alike(self, a: str, b: str) -> bool:
        known_a, known_b = self._sound(a), self._sound(b)
        if known_a is not None and known_b is not None:
            return known_a == known_b
        return _sounds_alike(a, b)  # a character outside the table (rare): ask pypinyin

    def _sound(self, char: str) -> str | None:
        sound = self.sounds.get(char)
        return char if sound is None and char.isascii() else sound  # pypinyin spells ASCII as itself


def char_sounds() -> dict[str, str]:
    """The toneless pinyin of every character of the CJK block, as `lazy_pinyin` gives it."""
    try:
        from pypinyin import lazy_pinyin
    except ImportError:  # pragma: no cover
        return {}
    chars = [chr(code) for code in range(0x4E00, 0xA000)]
    return dict(zip(chars, (lazy_pinyin(c)[0] for c in chars), strict=True))


@lru_cache(maxsize=65536)
def _sounds_alike(a: str, b: str) -> bool:
    try:
        from pypinyin import lazy_pinyin
    except ImportError:  # pragma: no cover
        return False
    return lazy_pinyin(a) == lazy_pinyin(b)
