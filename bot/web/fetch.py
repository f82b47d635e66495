"""A polite async HTTP client for news sites, on httpx.

Timeouts, a size cap (the body is streamed and dropped past `max_bytes`), a redirect limit, a
User-Agent naming the bot, a few requests at a time per host, robots.txt (cached per host; a
robots.txt that cannot be fetched allows everything), conditional GET (ETag / Last-Modified kept
per URL in a small JSON file, so an unchanged page costs a 304), and a few short retries with
backoff on 5xx and timeouts. Every fetch returns a `FetchResult`; nothing raises.
"""

from __future__ import annotations

import asyncio
import json
import os
import urllib.robotparser
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx

USER_AGENT = "district-news-bot/0.1 (Zhengzhou district news for residents; polite fetcher)"


@dataclass(frozen=True)
class FetchSettings:
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    max_bytes: int = 5 * 1024 * 1024
    max_redirects: int = 5
    per_host: int = 2
    retries: int = 2
    backoff: float = 0.5  # seconds before the first retry, doubled each time
    user_agent: str = USER_AGENT


@dataclass
class FetchResult:
    url: str  # as asked
    status: str  # "ok", "not_modified" or "error"
    final_url: str = ""
    content: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    reason: str = ""  # why, for an error
    http_status: int | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


class ValidatorStore:
    """ETag / Last-Modified per URL, in one JSON file (written atomically)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.data: dict[str, dict[str, str]] = {}
        if path is not None and path.exists():
            try:
                loaded = json.loads(path.read_text(encoding="utf-8"))
                if isinstance(loaded, dict):
                    self.data = {k: v for k, v in loaded.items() if isinstance(v, dict)}
            except (OSError, ValueError):
                self.data = {}  # a damaged state file only costs one full fetch

    def headers(self, url: str) -> dict[str, str]:
        saved = self.data.get(url, {})
        headers = {}
        if saved.get("etag"):
            headers["If-None-Match"] = saved["etag"]
        if saved.get("last_modified"):
            headers["If-Modified-Since"] = saved["last_modified"]
        return headers

    def remember(self, url: str, headers: dict[str, str]) -> None:
        entry = {k: headers[h] for k, h in (("etag", "etag"), ("last_modified", "last-modified")) if headers.get(h)}
        if entry:
            self.data[url] = entry

    def save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, ensure_ascii=False, indent=0), encoding="utf-8")
        os.replace(tmp, self.path)


class Fetcher:
    """Use as `async with Fetcher(...) as fetcher: await fetcher.fetch(url)`."""

    def __init__(
        self,
        settings: FetchSettings | None = None,
        state: Path | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings or FetchSettings()
        self.validators = ValidatorStore(state)
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._robots: dict[str, urllib.robotparser.RobotFileParser | None] = {}
        self._robots_lock = asyncio.Lock()

    async def __aenter__(self) -> Fetcher:
        s = self.settings
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(s.read_timeout, connect=s.connect_timeout),
            follow_redirects=False,  # followed by hand: the limit, robots and a loop are checked per hop
            headers={"User-Agent": s.user_agent},
            transport=self._transport,
            trust_env=False,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.aclose()
        self.validators.save()

    def _host(self, url: str) -> asyncio.Semaphore:
        key = urlsplit(url).netloc.lower()
        if key not in self._hosts:
            self._hosts[key] = asyncio.Semaphore(self.settings.per_host)
        return self._hosts[key]

    async def allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        async with self._robots_lock:
            if origin not in self._robots:
                self._robots[origin] = await self._load_robots(origin)
        parser = self._robots[origin]
        return parser is None or parser.can_fetch(self.settings.user_agent, url)

    async def _load_robots(self, origin: str) -> urllib.robotparser.RobotFileParser | None:
        assert self._client is not None
        try:
            response = await self._client.get(origin + "/robots.txt")
        except httpx.HTTPError:
            return None  # cannot fetch robots.txt: allowed
        if response.status_code != 200:
            return None
        parser = urllib.robotparser.RobotFileParser()
        parser.parse(response.text.splitlines())
        return parser

    def remember(self, result: FetchResult) -> None:
        """Keep a page's ETag / Last-Modified for the next conditional GET: call it once what the
        page gave is safely stored, so a failure downstream does not turn into a 304 that hides it."""
        if result.ok:
            self.validators.remember(result.final_url, result.headers)

    async def fetch(self, url: str, *, conditional: bool = True) -> FetchResult:
        if self._client is None:
            raise RuntimeError("use `async with Fetcher() as fetcher`")
        current = url
        seen = {url}
        for _hop in range(self.settings.max_redirects + 1):
            if urlsplit(current).scheme not in ("http", "https"):
                return FetchResult(url, "error", current, reason=f"not an http(s) URL: {current}")
            if not await self.allowed(current):
                return FetchResult(url, "error", current, reason="disallowed by robots.txt")
            headers = self.validators.headers(current) if conditional else {}
            result = await self._get_with_retries(url, current, headers)
            if result.http_status in (301, 302, 303, 307, 308):
                location = result.headers.get("location")
                if not location:
                    return FetchResult(url, "error", current, reason=f"HTTP {result.http_status} without a Location")
                current = urljoin(current, location)
                if current in seen:
                    return FetchResult(url, "error", current, reason="redirect loop")
                seen.add(current)
                continue
            return result
        return FetchResult(url, "error", current, reason=f"more than {self.settings.max_redirects} redirects")

    async def _get_with_retries(self, url: str, current: str, headers: dict[str, str]) -> FetchResult:
        delay = self.settings.backoff
        result = FetchResult(url, "error", current, reason="not fetched")
        for attempt in range(self.settings.retries + 1):
            async with self._host(current):
                result = await self._get(url, current, headers)
            transient = result.status == "error" and (
                (result.http_status or 0) >= 500 or result.reason.startswith(("timeout", "network"))
            )
            if not transient or attempt == self.settings.retries:
                return result
            await asyncio.sleep(delay)
            delay *= 2
        return result

    async def _get(self, url: str, current: str, headers: dict[str, str]) -> FetchResult:
        assert self._client is not None
        cap = self.settings.max_bytes
        try:
            async with self._client.stream("GET", current, headers=headers) as response:
                got = {k.lower(): v for k, v in response.headers.items()}
                status = response.status_code
                if status == 304:
                    return FetchResult(url, "not_modified", current, headers=got, http_status=304)
                if status in (301, 302, 303, 307, 308):
                    return FetchResult(url, "error", current, headers=got, http_status=status, reason="redirect")
                if status != 200:
                    return FetchResult(url, "error", current, headers=got, http_status=status, reason=f"HTTP {status}")
                declared = got.get("content-length", "")
                if declared.isdigit() and int(declared) > cap:
                    return FetchResult(url, "error", current, headers=got, http_status=status, reason=_too_big(cap))
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > cap:
                        return FetchResult(url, "error", current, headers=got, http_status=status, reason=_too_big(cap))
                    chunks.append(chunk)
                return FetchResult(url, "ok", current, b"".join(chunks), got, http_status=status)
        except httpx.TimeoutException:
            return FetchResult(url, "error", current, reason="timeout")
        except httpx.HTTPError as exc:
            return FetchResult(url, "error", current, reason=f"network: {type(exc).__name__}: {exc}"[:200])


def _too_big(cap: int) -> str:
    return f"larger than the {cap // (1024 * 1024)} MB cap"
