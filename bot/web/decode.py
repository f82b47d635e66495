"""Bytes of a page → text: the HTTP charset, then the page's own <meta>, then detection.

Chinese sites often say GBK or GB2312 and use characters only GB18030 has, so both are read as
GB18030 (a superset). A page that still comes out as mojibake is refused with a reason, never
stored: a wrong guess would put garbage into the answers.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from charset_normalizer import from_bytes

_META_RE = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_XML_RE = re.compile(rb"""<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_.:-]+)""", re.I)
_HEADER_RE = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", re.I)
# Sequences UTF-8 read as Latin-1/cp1252, or GBK read as UTF-8, leave behind.
_MOJIBAKE_RE = re.compile(r"[ÃÂÅæçéèäåï][\x80-\xbf¡-¿€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ]|锟斤拷|烫烫烫")
_ALIASES = {"gbk": "gb18030", "gb2312": "gb18030", "gb_2312-80": "gb18030", "x-gbk": "gb18030", "cp936": "gb18030"}
MAX_BAD_SHARE = 0.01  # U+FFFD or mojibake sequences per character
# Servers often send ISO-8859-1 by default whatever the page is: such a header is a last resort.
WEAK_HEADER = ("iso8859-1", "latin-1", "cp1252", "ascii")


class DecodeError(ValueError):
    """The bytes are no readable text; the message says why."""


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str
    how: str  # "header", "meta", "detected" or "utf-8"


def _codec(name: str | bytes | None) -> str | None:
    if not name:
        return None
    label = (name.decode("ascii", "ignore") if isinstance(name, bytes) else name).strip().lower()
    label = _ALIASES.get(label, label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def header_charset(content_type: str | None) -> str | None:
    match = _HEADER_RE.search(content_type or "")
    return _codec(match.group(1)) if match else None


def declared_charset(data: bytes) -> str | None:
    """The charset the document declares itself: `<meta charset>`, http-equiv or `<?xml encoding>`."""
    head = data[:4096]
    match = _META_RE.search(head) or _XML_RE.search(head)
    return _codec(match.group(1)) if match else None


def bad_share(text: str) -> float:
    """How much of `text` is unreadable: U+FFFD, typical mojibake sequences, and — these are
    Chinese news pages — mostly Latin-1 letters where the CJK characters should be."""
    if not text:
        return 0.0
    bad = text.count("\ufffd") + 3 * len(_MOJIBAKE_RE.findall(text))
    latin = sum(1 for ch in text if "\x80" <= ch <= "\xff")
    wide = sum(1 for ch in text if ch > "\xff")
    if latin >= 8 and latin > wide:
        bad += latin
    return bad / len(text)


def decode(data: bytes, content_type: str | None = None) -> Decoded:
    """The text of a page; DecodeError when no charset gives readable text."""
    if not data.strip():
        raise DecodeError("empty page")
    if data.startswith(codecs.BOM_UTF8):
        return _checked(data[3:].decode("utf-8", "replace"), "utf-8", "bom")
    tried: list[str] = []
    header = header_charset(content_type)
    weak = header in WEAK_HEADER
    clues = [("meta", declared_charset(data))] if weak else [("header", header), ("meta", declared_charset(data))]
    for how, encoding in clues:
        if encoding is None or encoding in tried:
            continue
        tried.append(encoding)
        try:
            return _checked(data.decode(encoding), encoding, how)
        except (UnicodeDecodeError, DecodeError):
            continue  # a wrong label: the next clue
    try:
        utf8 = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:  # valid UTF-8 is UTF-8: if it reads as mojibake, the page itself is mojibake
        return _checked(utf8, "utf-8", "utf-8")
    if weak and header is not None:
        try:
            return _checked(data.decode(header), header, "header")
        except (UnicodeDecodeError, DecodeError):
            pass
    best = from_bytes(data).best()
    if best is None or best.encoding is None:
        raise DecodeError("no character set reads this page")
    encoding = _codec(best.encoding) or best.encoding
    return _checked(data.decode(encoding, "replace"), encoding, "detected")


def _checked(text: str, encoding: str, how: str) -> Decoded:
    share = bad_share(text)
    if share > MAX_BAD_SHARE:
        raise DecodeError(f"mojibake: {share:.1%} of the text is unreadable when read as {encoding} ({how})")
    return Decoded(text, encoding, how)
