"""The configured news sources (config/sources.yaml): name, URL (a date pattern allowed), kind,
polling interval and the districts a source covers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import yaml

KINDS = ("auto", "feed", "epaper", "page")


class SourceError(ValueError):
    """config/sources.yaml is broken; the message names the entry."""


@dataclass(frozen=True)
class Source:
    name: str
    url: str  # may hold {date:%Y-%m/%d}: the day's edition
    kind: str = "auto"
    interval: int = 3600  # seconds between polls in the running bot (`fetch` fetches now)
    districts: tuple[str, ...] = ()

    def url_for(self, day: date) -> str:
        if "{" not in self.url:
            return self.url
        return self.url.format(date=datetime(day.year, day.month, day.day))


def load_sources(path: Path) -> list[Source]:
    if not path.exists():
        return []
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise SourceError(f"{path}: not valid YAML: {exc}") from exc
    entries = data.get("sources") if isinstance(data, dict) else None
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise SourceError(f"{path}: `sources` must be a list")
    sources: list[Source] = []
    for number, entry in enumerate(entries, 1):
        where = f"{path}: source {number}"
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str) or not entry["url"].strip():
            raise SourceError(f"{where}: needs a `url`")
        kind = str(entry.get("kind") or "auto")
        if kind not in KINDS:
            raise SourceError(f"{where}: `kind` is one of {', '.join(KINDS)}")
        districts = entry.get("districts") or []
        if isinstance(districts, str):
            districts = [districts]
        try:
            interval = int(entry.get("interval") or 3600)
            if interval < 1:
                raise ValueError("`interval` is a number of seconds, at least 1")
            source = Source(
                str(entry.get("name") or entry["url"]), entry["url"].strip(), kind, interval, tuple(districts)
            )
            source.url_for(date.today())
        except (TypeError, ValueError, KeyError, IndexError) as exc:
            raise SourceError(f"{where}: {exc}") from exc
        if any(s.name == source.name for s in sources):
            raise SourceError(f"{where}: another source is named {source.name!r} (names tell sources apart)")
        sources.append(source)
    return sources
