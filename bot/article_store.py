"""Articles kept as arrays, read one at a time: what a million articles cost in memory.

A Python object per article (its strings, tuples and dataclass) costs ~5-8 KB and makes a cold
start unpickle a million of them. An `ArticleStore` keeps a batch of articles as flat numpy
arrays instead: their records (compact JSON) in a file of their own with offsets (`Records`, read
with `pread`), their ids sorted for look-up, and what browsing reads of every article (date,
districts, kind, source) as columns. The cache writes the arrays outside the pickle and maps them
back from disk (bot/cache.py), so a start maps files instead of building objects, and a question
reads only the records of the articles it touches. `ArticleShelf` puts the stores of several segments side by side as one
`Sequence[Article]` numbered like the index's documents.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import zlib
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import overload

import numpy as np

from .article import Article, Byline
from .cache import replaced_atomically
from .normalize import normalize

NO_DATE = 0
CAPTION = 1  # `kinds` value of a picture caption


def date_number(date: str | None) -> int:
    """YYYY-MM-DD as the number YYYYMMDD (0 for none): dates sort as numbers."""
    return int(date.replace("-", "")) if date else NO_DATE


def date_text(number: int) -> str | None:
    if not number:
        return None
    text = f"{number:08d}"
    return f"{text[:4]}-{text[4:6]}-{text[6:]}"


def text_key(text: str) -> int:
    """A 64-bit hash of `text`, never 0 (which stands for none): what a column keeps to find the
    few articles that may have this URL or title, whose records then say whether they do."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()) or 1


def same_title(title: str) -> str:
    """The title as two copies of one article have it, however spaced or written (Traditional)."""
    return "".join(normalize(title).split())


def _record(article: Article) -> bytes:
    byline = article.byline
    return json.dumps(
        [article.id, article.title, article.paragraphs, article.kicker, article.subtitle,
         [byline.raw, byline.reporters, byline.correspondents], article.districts, article.date,
         article.url, article.source, article.kind, article.order],
        ensure_ascii=False, separators=(",", ":"),
    ).encode()  # fmt: skip


def _article(data: bytes) -> Article:
    # decoded first: json.loads of bytes works out their encoding in Python (~3 µs a record)
    (id_, title, paragraphs, kicker, subtitle, (raw, reporters, correspondents), districts, date, url, source, kind,
     order) = json.loads(data.decode())  # fmt: skip
    return Article(id_, title, tuple(paragraphs), kicker, subtitle, Byline(tuple(reporters), tuple(correspondents), raw),
                   tuple(districts), date, url, source, kind, order)  # fmt: skip


class Records:
    """The bytes of a store's article records: in memory (a batch just built), or in a file of the
    cache read with `pread` for the few records a question needs — those pages stay in the page
    cache, shared, and never count in this process's memory, however many questions read them."""

    def __init__(self, data: bytes = b"", path: Path | None = None, size: int = 0, crc: int = 0) -> None:
        self.data = data
        self.path = path
        self.size = size if path is not None else len(data)
        self.crc = crc
        self._fd: int | None = None

    def spill(self, path: Path) -> None:
        """Write the records to `path` (atomically) and read them from there from now on."""
        if self.path is not None:
            return
        crc = zlib.crc32(self.data)
        with replaced_atomically(path) as handle:
            handle.write(self.data)
        self.path, self.size, self.crc, self.data = path, len(self.data), crc, b""

    def read(self, start: int, stop: int) -> bytes:
        if self.path is None:
            return self.data[start:stop]
        fd = self._fd
        if fd is None:
            fd = self._fd = os.open(self.path, os.O_RDONLY)
        return os.pread(fd, stop - start, start)

    def __getstate__(self) -> dict:
        if self.path is None:
            return {"data": self.data}
        return {"path": str(self.path), "size": self.size, "crc": self.crc}

    def __setstate__(self, state: dict) -> None:
        path = state.get("path")
        self.__init__(state.get("data", b""), Path(path) if path else None, state.get("size", 0), state.get("crc", 0))  # type: ignore[misc]

    def __del__(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)


def _codes(values: Iterable[str], names: dict[str, int]) -> list[int]:
    return [names.setdefault(value, len(names)) for value in values]


@dataclass
class ArticleStore:
    """One batch of articles (numbers 0..n-1) as arrays; see the module docstring."""

    offsets: np.ndarray  # int64, n + 1: article i's record is records[offsets[i]:offsets[i+1]]
    records: Records  # the records (UTF-8 JSON arrays)
    ids: np.ndarray  # bytes ("S<width>"), sorted
    id_numbers: np.ndarray  # int32: ids[j] is the id of article id_numbers[j]
    dates: np.ndarray  # int32 YYYYMMDD, 0 when undated
    district_offsets: np.ndarray  # int32, n + 1, into district_codes
    district_codes: np.ndarray  # int16, into district_names; an article's districts in its own order
    district_names: list[str]
    kinds: np.ndarray  # uint8, CAPTION for a picture caption
    source_codes: np.ndarray  # int32, into source_names; -1 without a source
    source_names: list[str]
    # text_key() of each article's URL and of same_title(title), 0 without: a fetch checks what it
    # found against these, where reading every record of a million articles took a minute and a half.
    url_keys: np.ndarray  # uint64
    title_keys: np.ndarray  # uint64

    @classmethod
    def of(cls, articles: Sequence[Article]) -> ArticleStore:
        records = [_record(a) for a in articles]
        offsets = np.zeros(len(records) + 1, dtype=np.int64)
        np.cumsum([len(r) for r in records], out=offsets[1:])
        raw_ids = np.array([a.id.encode() for a in articles] or [b""], dtype=np.bytes_)[: len(articles)]
        order = np.argsort(raw_ids, kind="stable").astype(np.int32)
        districts: dict[str, int] = {}
        sources: dict[str, int] = {}
        source_codes = [sources.setdefault(a.source, len(sources)) if a.source else -1 for a in articles]
        per_article = [_codes(dict.fromkeys(a.districts), districts) for a in articles]
        district_offsets = np.zeros(len(articles) + 1, dtype=np.int32)
        np.cumsum([len(c) for c in per_article], out=district_offsets[1:])
        return cls(
            offsets=offsets,
            records=Records(b"".join(records)),
            ids=raw_ids[order],
            id_numbers=order,
            dates=np.array([date_number(a.date) for a in articles], dtype=np.int32),
            district_offsets=district_offsets,
            district_codes=np.array([c for codes in per_article for c in codes], dtype=np.int16),
            district_names=list(districts),
            kinds=np.array([CAPTION if a.kind == "caption" else 0 for a in articles], dtype=np.uint8),
            source_codes=np.array(source_codes, dtype=np.int32),
            source_names=list(sources),
            url_keys=np.array([text_key(a.url) if a.url else 0 for a in articles], dtype=np.uint64),
            title_keys=np.array([text_key(same_title(a.title)) for a in articles], dtype=np.uint64),
        )

    @classmethod
    def joined(cls, stores: Sequence[ArticleStore]) -> ArticleStore:
        """The stores one after another (for a merged segment)."""
        if len(stores) == 1:
            return stores[0]
        districts: dict[str, int] = {}
        sources: dict[str, int] = {}
        district_maps = [np.array(_codes(s.district_names, districts) or [0], dtype=np.int16) for s in stores]
        source_maps = [np.array([*_codes(s.source_names, sources), -1], dtype=np.int32) for s in stores]
        sizes = [len(s) for s in stores]
        bases = np.cumsum([0, *sizes[:-1]])
        blob_bases = np.cumsum([0, *(int(s.offsets[-1]) for s in stores[:-1])])
        offsets = np.concatenate([[0]] + [s.offsets[1:] + b for s, b in zip(stores, blob_bases, strict=True)])
        ids = np.concatenate([s.ids for s in stores]) if stores else np.zeros(0, np.bytes_)
        numbers = np.concatenate([s.id_numbers.astype(np.int64) + b for s, b in zip(stores, bases, strict=True)])
        order = np.argsort(ids, kind="stable")
        dist_bases = np.cumsum([0, *(int(s.district_offsets[-1]) for s in stores[:-1])])
        return cls(
            offsets=offsets.astype(np.int64),
            records=Records(b"".join(s.records.read(0, s.records.size) for s in stores)),
            ids=ids[order],
            id_numbers=numbers[order].astype(np.int32),
            dates=np.concatenate([s.dates for s in stores]),
            district_offsets=np.concatenate(
                [[0]] + [s.district_offsets[1:] + b for s, b in zip(stores, dist_bases, strict=True)]
            ).astype(np.int32),
            district_codes=np.concatenate(
                [m[s.district_codes] for s, m in zip(stores, district_maps, strict=True)]
            ).astype(np.int16),
            district_names=list(districts),
            kinds=np.concatenate([s.kinds for s in stores]),
            source_codes=np.concatenate([m[s.source_codes] for s, m in zip(stores, source_maps, strict=True)]),
            source_names=list(sources),
            url_keys=np.concatenate([s.url_keys for s in stores]),
            title_keys=np.concatenate([s.title_keys for s in stores]),
        )

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def article(self, number: int) -> Article:
        return _article(self.records.read(int(self.offsets[number]), int(self.offsets[number + 1])))

    def number_of(self, article_id: str) -> int | None:
        """The number of the article with this id, by binary search over the sorted ids."""
        key = article_id.encode("ascii", "replace")
        if len(key) > self.ids.dtype.itemsize:
            return None  # longer than every id here; searching would widen a copy of all of them first
        at = int(self.ids.searchsorted(key))
        if at < len(self.ids) and self.ids[at] == key:
            return int(self.id_numbers[at])
        return None

    def districts_of(self, number: int) -> tuple[str, ...]:
        lo, hi = int(self.district_offsets[number]), int(self.district_offsets[number + 1])
        return tuple(self.district_names[c] for c in self.district_codes[lo:hi].tolist())

    def id_array(self) -> np.ndarray:
        """Every id (bytes), in article order."""
        ordered = np.empty_like(self.ids)
        ordered[self.id_numbers] = self.ids
        return ordered

    def all_ids(self) -> list[str]:
        """Every id, in article order (for the few callers that compare whole corpora)."""
        return [i.decode() for i in self.id_array().tolist()]

    def all_sources(self) -> list[str]:
        names = [*self.source_names, ""]  # code -1: no source
        return [names[c] for c in self.source_codes.tolist()]


class ArticleShelf(Sequence[Article]):
    """The stores of an index's segments as one sequence of articles, numbered as its documents."""

    def __init__(self, stores: Sequence[ArticleStore] = ()) -> None:
        self.stores: tuple[ArticleStore, ...] = tuple(stores)
        self.bases: list[int] = []
        size = 0
        for store in self.stores:
            self.bases.append(size)
            size += len(store)
        self._size = size

    def with_store(self, store: ArticleStore) -> ArticleShelf:
        return ArticleShelf((*self.stores, store))

    def __len__(self) -> int:
        return self._size

    def _locate(self, number: int) -> tuple[ArticleStore, int]:
        if number < 0:
            number += self._size
        if not 0 <= number < self._size:
            raise IndexError(number)
        part = bisect_right(self.bases, number) - 1
        return self.stores[part], number - self.bases[part]

    @overload
    def __getitem__(self, number: int) -> Article: ...
    @overload
    def __getitem__(self, number: slice) -> list[Article]: ...
    def __getitem__(self, number: int | slice) -> Article | list[Article]:
        if isinstance(number, slice):
            return [self[i] for i in range(*number.indices(self._size))]
        store, local = self._locate(int(number))
        return store.article(local)

    def __iter__(self) -> Iterator[Article]:
        for store in self.stores:
            for local in range(len(store)):
                yield store.article(local)

    def number_of(self, article_id: str) -> int | None:
        for base, store in zip(self.bases, self.stores, strict=True):
            local = store.number_of(article_id)
            if local is not None:
                return base + local
        return None

    def districts_of(self, number: int) -> tuple[str, ...]:
        store, local = self._locate(number)
        return store.districts_of(local)

    def ids(self) -> list[str]:
        return [i for store in self.stores for i in store.all_ids()]

    def id_sources(self, only: set[str] | None = None) -> Iterator[tuple[str, str]]:
        """(id, source) of every article, or of those from the sources `only` names ("" for
        none), from the arrays: no record is read."""
        for store in self.stores:
            if only is None:
                yield from zip(store.all_ids(), store.all_sources(), strict=True)
                continue
            codes = [code for code, name in enumerate(store.source_names) if name in only] + (
                [-1] if "" in only else []
            )
            numbers = np.flatnonzero(np.isin(store.source_codes, codes))
            names = [*store.source_names, ""]  # code -1: no source
            ids = store.id_array()[numbers].tolist()
            yield from zip(
                (i.decode() for i in ids), (names[c] for c in store.source_codes[numbers].tolist()), strict=True
            )

    def source_counts(self) -> Counter[str]:
        """How many articles each source file gave ("" for none), from the columns."""
        counts: Counter[str] = Counter()
        for store in self.stores:
            names = [*store.source_names, ""]
            for code, count in enumerate(np.bincount(store.source_codes + 1, minlength=len(names) + 1).tolist()):
                if count:
                    counts[names[code - 1]] += count
        return counts

    def with_url(self, url: str) -> list[Article]:
        """The articles at this URL (a scan of the URL column; only matches are read)."""
        return [a for a in self._keyed("url_keys", text_key(url)) if a.url == url] if url else []

    def titled(self, title: str) -> list[Article]:
        """The articles with this title, however spaced or written (see same_title)."""
        wanted = same_title(title)
        return [a for a in self._keyed("title_keys", text_key(wanted)) if same_title(a.title) == wanted]

    def _keyed(self, column: str, key: int) -> Iterator[Article]:
        for store in self.stores:
            for local in np.flatnonzero(getattr(store, column) == np.uint64(key)).tolist():
                yield store.article(local)

    def numbers_not_in(self, other: ArticleShelf) -> list[int]:
        """The numbers of the articles whose ids `other` does not have (one vectorised pass)."""
        if not self._size:
            return []
        mine = np.concatenate([s.id_array() for s in self.stores])
        theirs = np.concatenate([s.ids for s in other.stores]) if other.stores else mine[:0]
        return np.flatnonzero(~np.isin(mine, theirs)).tolist()

    def sources(self) -> set[str]:
        return {name for s in self.stores for name in s.source_names}

    def tally(self) -> Tally:
        """What the operator's `stats` counts of the whole archive, from the columns: at a million
        articles, decoding every record for it took minutes."""
        tally = Tally(Counter(), Counter(), Counter(), 0, Counter())
        for store in self.stores:
            starts, ends = store.district_offsets[:-1], store.district_offsets[1:]
            codes = store.district_codes
            first = np.where(ends > starts, np.append(codes, -1)[starts], -1)  # -1 past the end: none
            districts = [*store.district_names, None]  # code -1: none
            sources = [*store.source_names, None]
            tally.by_district.update(_in_order_seen(first, districts))
            tally.mentions.update(_in_order_seen(codes, districts))
            tally.by_date.update({date_text(int(n)): c for n, c in _in_order_seen(store.dates).items()})
            tally.captions += int((store.kinds == CAPTION).sum())
            tally.by_source.update(_in_order_seen(store.source_codes, sources))
        return tally


@dataclass
class Tally:
    """Counts over every article of a shelf, each in the order its keys first occur (as counting
    the articles one by one would list ties); None where an article has no district, date or
    source."""

    by_district: Counter[str | None]  # each article's first district
    mentions: Counter[str | None]  # every district an article names
    by_date: Counter[str | None]
    captions: int
    by_source: Counter[str | None]


def _in_order_seen(values: np.ndarray, names: list[str | None] | None = None) -> dict:
    """How many times each value occurs, keyed by value (or its name), in order of first occurrence."""
    if not len(values):
        return {}
    keys, first, counts = np.unique(values, return_index=True, return_counts=True)
    order = np.argsort(first, kind="stable")
    if names is None:
        return {keys[i].item(): int(counts[i]) for i in order}
    return {names[int(keys[i])]: int(counts[i]) for i in order}
