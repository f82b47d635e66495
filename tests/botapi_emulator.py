"""A local Telegram Bot API emulator for end-to-end tests.

Why: unit tests that mock ``telegram.Bot`` never exercise python-telegram-bot's real
request encoding, long polling, error mapping (``RetryAfter``/``BadRequest``/
``NetworkError``) or Telegram's own rules (UTF-16 entity offsets, "message is not
modified", privacy mode, parse-mode errors).  This module runs a tiny aiohttp server on
127.0.0.1 that speaks the Bot API wire format, so a *real* ``Application`` can run
against it without any internet access::

    async with BotApiEmulator(bot_username="DistrictNewsBot") as emu:
        app = (
            ApplicationBuilder()
            .token(emu.token)
            .base_url(emu.base_url)
            .base_file_url(emu.base_file_url)
            .build()
        )
        ...
        emu.send_text(emu.private_chat(user), user, "/start")
        call = await emu.wait_for_call("sendMessage")

Behaviour worth knowing (it mirrors real Telegram on purpose):

* Privacy mode is on by default (``getMe`` says ``can_read_all_group_messages=False``):
  plain group messages are *not* delivered unless the bot is an admin of the group, the
  message carries a command for this bot or replies to a bot message.  Such messages are
  listed in :attr:`BotApiEmulator.undelivered`.  Pass ``privacy_mode=False`` to opt out.
* Text is stripped of surrounding whitespace; ``parse_mode`` HTML/MarkdownV2/Markdown is
  parsed into entities (invalid markup gives 400 "can't parse entities"); mentions,
  commands, hashtags and URLs are detected automatically.
* Only inline keyboards are echoed in ``Message.reply_markup``; ``editMessageText``
  without ``reply_markup`` removes the inline keyboard.
* Updates are only forgotten when confirmed through ``getUpdates(offset=...)``, or, once a
  webhook is set, when a POST of the update to the webhook URL was answered with a 2xx (as
  Telegram does: up to ``max_connections`` at once, each with the ``secret_token`` header; any
  other answer or a broken connection is retried after :attr:`webhook_retry_seconds`).
* :meth:`BotApiEmulator.hold` parks the requests of one method until :meth:`release`; a held
  request whose client went away meanwhile (the bot's process was killed) is dropped, never
  applied, like a request that never reached Telegram (see :attr:`abandoned_calls`).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import inspect
import itertools
import json
import logging
import re
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, overload

import aiohttp
from aiohttp import web

JSONDict = dict[str, Any]

_LOGGER = logging.getLogger(__name__)

__all__ = [
    "BotApiEmulator",
    "Call",
    "EntityParseError",
    "Fault",
    "UploadedFile",
    "detect_entities",
    "parse_formatted_text",
    "utf16_len",
]


# --------------------------------------------------------------------------------------
# Text and entity helpers
# --------------------------------------------------------------------------------------


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit Telegram uses for entities."""
    return len(text.encode("utf-16-le")) // 2


class EntityParseError(ValueError):
    """Raised for malformed HTML/Markdown; the message mirrors Telegram's wording."""


class _TextBuilder:
    """Accumulates plain text while tracking the UTF-16 position for entity offsets."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pos = 0

    def append(self, text: str) -> None:
        self.parts.append(text)
        self.pos += utf16_len(text)

    def text(self) -> str:
        return "".join(self.parts)


@dataclass
class _Open:
    """An entity whose closing marker has not been seen yet."""

    kind: str
    start: int
    src_index: int
    order: int
    extra: JSONDict
    tag: str = ""


def _byte_offset(src: str, index: int) -> int:
    return len(src[:index].encode("utf-8"))


def _make_entity(opened: _Open, end: int) -> JSONDict | None:
    if end <= opened.start or not opened.kind:
        return None
    entity: JSONDict = {"offset": opened.start, "length": end - opened.start, "type": opened.kind}
    entity.update(opened.extra)
    entity["_order"] = opened.order
    return entity


def _sorted_entities(entities: Iterable[JSONDict]) -> list[JSONDict]:
    """Telegram lists entities by offset, outer (longer) entities first."""
    ordered = sorted(entities, key=lambda e: (e["offset"], -e["length"], e.get("_order", 0)))
    return [
        {
            "offset": e["offset"],
            "length": e["length"],
            "type": e["type"],
            **{k: v for k, v in e.items() if k not in ("offset", "length", "type", "_order")},
        }
        for e in ordered
    ]


def _link_entity(url: str) -> JSONDict:
    match = re.fullmatch(r"tg://user\?id=(\d+)", url)
    if match:
        return {
            "type": "text_mention",
            "user": {"id": int(match.group(1)), "is_bot": False, "first_name": "User"},
        }
    match = re.fullmatch(r"tg://emoji\?id=(\d+)", url)
    if match:
        return {"type": "custom_emoji", "custom_emoji_id": match.group(1)}
    return {"type": "text_link", "url": url}


_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_HTML_ATTR_RE = re.compile(r"""\s*([A-Za-z_][\w-]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")
_HTML_ENTITY_RE = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|lt|gt|amp|quot);")
_HTML_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def _html_attrs(text: str) -> dict[str, str]:
    attrs: dict[str, str] = {}
    for match in _HTML_ATTR_RE.finditer(text):
        value = next((g for g in match.groups()[1:] if g is not None), "")
        attrs[match.group(1).lower()] = _html_unescape(value)
    return attrs


def _html_unescape(text: str) -> str:
    def repl(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith(("#x", "#X")):
            return chr(int(name[2:], 16))
        if name.startswith("#"):
            return chr(int(name[1:]))
        return _HTML_NAMED[name]

    return _HTML_ENTITY_RE.sub(repl, text)


def _parse_html(src: str) -> tuple[str, list[JSONDict]]:
    """Parse Telegram's HTML subset strictly, as the real server does."""
    out = _TextBuilder()
    stack: list[_Open] = []
    entities: list[JSONDict] = []
    counter = itertools.count()
    i, n = 0, len(src)
    while i < n:
        ch = src[i]
        if ch == "<":
            end = src.find(">", i)
            if end < 0:
                raise EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(src, i)}")
            inner = src[i + 1 : end]
            if inner.startswith("/"):
                name = inner[1:].strip().lower()
                if not stack:
                    raise EntityParseError(f"Unexpected end tag at byte offset {_byte_offset(src, i)}")
                top = stack.pop()
                if name != top.tag:
                    raise EntityParseError(
                        f"Unmatched end tag at byte offset {_byte_offset(src, i)}, "
                        f'expected "</{top.tag}>", found "</{name}>"'
                    )
                entity = _make_entity(top, out.pos)
                if entity:
                    entities.append(entity)
            else:
                match = re.match(r"[A-Za-z][A-Za-z0-9-]*", inner)
                name = match.group(0).lower() if match else inner.split(" ")[0]
                if not match or name not in _HTML_TAGS:
                    raise EntityParseError(f'Unsupported start tag "{name}" at byte offset {_byte_offset(src, i)}')
                attrs = _html_attrs(inner[match.end() :])
                kind = _HTML_TAGS[name]
                extra: JSONDict = {}
                if name == "span" and attrs.get("class") != "tg-spoiler":
                    raise EntityParseError('Tag "span" must have class "tg-spoiler"')
                if name == "a":
                    href = attrs.get("href")
                    if href is None:
                        kind = ""
                    else:
                        extra = _link_entity(href)
                        kind = extra.pop("type")
                elif name == "code" and stack and stack[-1].tag == "pre":
                    language = attrs.get("class", "")
                    if language.startswith("language-"):
                        stack[-1].extra["language"] = language[len("language-") :]
                        kind = ""
                elif name == "blockquote" and "expandable" in attrs:
                    kind = "expandable_blockquote"
                elif name == "tg-emoji":
                    if "emoji-id" not in attrs:
                        raise EntityParseError('Tag "tg-emoji" must have attribute "emoji-id"')
                    extra = {"custom_emoji_id": attrs["emoji-id"]}
                stack.append(_Open(kind, out.pos, i, next(counter), extra, tag=name))
            i = end + 1
        elif ch == "&":
            match = _HTML_ENTITY_RE.match(src, i)
            if match:
                out.append(_html_unescape(match.group(0)))
                i = match.end()
            else:
                out.append("&")
                i += 1
        else:
            j = i + 1
            while j < n and src[j] not in "<&":
                j += 1
            out.append(src[i:j])
            i = j
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    return out.text(), entities


_MDV2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MDV2_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "link": "TextUrl",
    "emoji": "CustomEmoji",
}


def _find_unescaped(src: str, token: str, start: int) -> int:
    i = start
    while i < len(src):
        if src[i] == "\\":
            i += 2
            continue
        if src.startswith(token, i):
            return i
        i += 1
    return -1


def _unescape_backslashes(text: str) -> str:
    return re.sub(r"\\([\x01-\x7e])", r"\1", text)


def _parse_markdown_v2(src: str) -> tuple[str, list[JSONDict]]:
    """Parse MarkdownV2, rejecting unescaped reserved characters like Telegram does."""
    out = _TextBuilder()
    stack: list[_Open] = []
    entities: list[JSONDict] = []
    counter = itertools.count()
    quote_start: int | None = None
    at_line_start = True
    i, n = 0, len(src)

    def fail_unclosed(opened: _Open) -> EntityParseError:
        return EntityParseError(
            f"Can't find end of {_MDV2_NAMES.get(opened.kind, opened.kind)} entity "
            f"at byte offset {_byte_offset(src, opened.src_index)}"
        )

    def toggle(kind: str, index: int) -> None:
        if stack and stack[-1].kind == kind:
            entity = _make_entity(stack.pop(), out.pos)
            if entity:
                entities.append(entity)
        elif any(o.kind == kind for o in stack):
            raise fail_unclosed(stack[-1])
        else:
            stack.append(_Open(kind, out.pos, index, next(counter), {}))

    while i < n:
        ch = src[i]
        if at_line_start:
            at_line_start = False
            if ch == ">":
                if quote_start is None:
                    quote_start = out.pos
                i += 1
                continue
            if quote_start is not None:
                # the quote ends before the newline that preceded this line
                entities.append(
                    {
                        "type": "blockquote",
                        "offset": quote_start,
                        "length": out.pos - 1 - quote_start,
                        "_order": next(counter),
                    }
                )
                quote_start = None
        if ch == "\\":
            if i + 1 < n and 0 < ord(src[i + 1]) < 127:
                out.append(src[i + 1])
                i += 2
            else:
                out.append(ch)
                i += 1
            continue
        if ch == "\n":
            out.append(ch)
            at_line_start = True
            i += 1
            continue
        if ch == "`":
            fence = "```" if src.startswith("```", i) else "`"
            close = _find_unescaped(src, fence, i + len(fence))
            if close < 0:
                name = "Pre" if fence == "```" else "Code"
                raise EntityParseError(f"Can't find end of {name} entity at byte offset {_byte_offset(src, i)}")
            body = src[i + len(fence) : close]
            extra: JSONDict = {}
            if fence == "```" and "\n" in body:
                first, rest = body.split("\n", 1)
                if not re.search(r"\s", first):
                    body = rest
                    if first:
                        extra["language"] = first
            start = out.pos
            out.append(_unescape_backslashes(body))
            if out.pos > start:
                entity = {
                    "type": "pre" if fence == "```" else "code",
                    "offset": start,
                    "length": out.pos - start,
                    "_order": next(counter),
                    **extra,
                }
                entities.append(entity)
            i = close + len(fence)
            continue
        if ch == "*":
            toggle("bold", i)
            i += 1
            continue
        if ch == "_":
            if src.startswith("__", i):
                toggle("underline", i)
                i += 2
            else:
                toggle("italic", i)
                i += 1
            continue
        if ch == "~":
            toggle("strikethrough", i)
            i += 1
            continue
        if ch == "|" and src.startswith("||", i):
            toggle("spoiler", i)
            i += 2
            continue
        if ch == "[" or (ch == "!" and src.startswith("![", i)):
            kind = "emoji" if ch == "!" else "link"
            stack.append(_Open(kind, out.pos, i, next(counter), {}))
            i += 2 if ch == "!" else 1
            continue
        if ch == "]" and stack and stack[-1].kind in ("link", "emoji"):
            if not src.startswith("(", i + 1):
                raise fail_unclosed(stack[-1])
            close = _find_unescaped(src, ")", i + 2)
            if close < 0:
                raise fail_unclosed(stack[-1])
            url = _unescape_backslashes(src[i + 2 : close])
            opened = stack.pop()
            opened.extra = _link_entity(url)
            opened.kind = opened.extra.pop("type")
            entity = _make_entity(opened, out.pos)
            if entity:
                entities.append(entity)
            i = close + 1
            continue
        if ch in _MDV2_RESERVED:
            raise EntityParseError(f"Character '{ch}' is reserved and must be escaped with the preceding '\\'")
        out.append(ch)
        i += 1
    if quote_start is not None:
        entities.append(
            {
                "type": "blockquote",
                "offset": quote_start,
                "length": out.pos - quote_start,
                "_order": next(counter),
            }
        )
    if stack:
        raise fail_unclosed(stack[-1])
    return out.text(), entities


def _parse_markdown_legacy(src: str) -> tuple[str, list[JSONDict]]:
    """Parse the legacy ``Markdown`` mode (no nesting, few escapes)."""
    out = _TextBuilder()
    entities: list[JSONDict] = []
    i, n = 0, len(src)

    def unclosed(index: int) -> EntityParseError:
        return EntityParseError(f"Can't find end of the entity starting at byte offset {_byte_offset(src, index)}")

    while i < n:
        ch = src[i]
        if ch == "\\" and i + 1 < n and src[i + 1] in "_*`[":
            out.append(src[i + 1])
            i += 2
        elif ch in "*_":
            close = src.find(ch, i + 1)
            if close < 0:
                raise unclosed(i)
            start = out.pos
            out.append(src[i + 1 : close])
            if out.pos > start:
                kind = "bold" if ch == "*" else "italic"
                entities.append({"type": kind, "offset": start, "length": out.pos - start})
            i = close + 1
        elif ch == "`":
            fence = "```" if src.startswith("```", i) else "`"
            close = src.find(fence, i + len(fence))
            if close < 0:
                raise unclosed(i)
            body = src[i + len(fence) : close]
            extra: JSONDict = {}
            if fence == "```" and "\n" in body:
                first, rest = body.split("\n", 1)
                if first and not re.search(r"\s", first):
                    extra["language"] = first
                    body = rest
            start = out.pos
            out.append(body)
            if out.pos > start:
                entities.append(
                    {
                        "type": "pre" if fence == "```" else "code",
                        "offset": start,
                        "length": out.pos - start,
                        **extra,
                    }
                )
            i = close + len(fence)
        elif ch == "[":
            close = src.find("]", i + 1)
            if close < 0 or not src.startswith("(", close + 1):
                raise unclosed(i)
            url_end = src.find(")", close + 2)
            if url_end < 0:
                raise unclosed(i)
            start = out.pos
            out.append(src[i + 1 : close])
            if out.pos > start:
                entities.append({"offset": start, "length": out.pos - start, **_link_entity(src[close + 2 : url_end])})
            i = url_end + 1
        else:
            out.append(ch)
            i += 1
    return out.text(), entities


_COMMAND_RE = re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![A-Za-z0-9_])")
_MENTION_RE = re.compile(r"(?<![\w@/])@[A-Za-z][A-Za-z0-9_]{4,31}(?![A-Za-z0-9_])")
_HASHTAG_RE = re.compile(r"(?<![\w#])#\w*[^\W\d]\w*")
_URL_RE = re.compile(r"(?<![\w@/])https?://[^\s<>\"]+")


def detect_entities(text: str) -> list[JSONDict]:
    """Entities Telegram finds by itself: ``bot_command``, ``mention``, ``hashtag``, ``url``.

    Offsets/lengths are in UTF-16 code units (an emoji outside the BMP counts 2).
    """
    found: list[tuple[int, int, str]] = []
    for kind, regex in (
        ("url", _URL_RE),
        ("bot_command", _COMMAND_RE),
        ("mention", _MENTION_RE),
        ("hashtag", _HASHTAG_RE),
    ):
        for match in regex.finditer(text):
            start, end = match.span()
            if kind == "url":
                while end > start and text[end - 1] in ".,;:!?)]}'":
                    end -= 1
            found.append((start, end, kind))
    found.sort()
    entities: list[JSONDict] = []
    last_end = -1
    for start, end, kind in found:
        if start < last_end:
            continue
        last_end = end
        offset = utf16_len(text[:start])
        entities.append({"offset": offset, "length": utf16_len(text[start:end]), "type": kind})
    return entities


def _strip_text(text: str, entities: list[JSONDict]) -> tuple[str, list[JSONDict]]:
    """Telegram trims surrounding whitespace and shifts/clips entities accordingly."""
    stripped = text.strip()
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    total = utf16_len(stripped)
    result = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, total)
        if end > start:
            result.append({**entity, "offset": start, "length": end - start})
    return stripped, result


_NO_AUTO_INSIDE = frozenset({"code", "pre", "text_link", "url", "text_mention", "email"})


def parse_formatted_text(
    text: str, parse_mode: str | None = None, entities: list[JSONDict] | None = None
) -> tuple[str, list[JSONDict]]:
    """Turn what a client sends (text + parse_mode or explicit entities) into what
    Telegram stores: plain text plus sorted UTF-16 entities.

    Raises :class:`EntityParseError` for invalid markup.
    """
    if entities is not None:
        plain, parsed = text, [dict(e) for e in entities]
        return _strip_text(plain, _sorted_entities(parsed))
    mode = (parse_mode or "").lower()
    if mode == "html":
        plain, parsed = _parse_html(text)
    elif mode == "markdownv2":
        plain, parsed = _parse_markdown_v2(text)
    elif mode == "markdown":
        plain, parsed = _parse_markdown_legacy(text)
    elif mode:
        raise EntityParseError(f"Unsupported parse_mode {parse_mode!r}")
    else:
        plain, parsed = text, []
    blocked = [(e["offset"], e["offset"] + e["length"]) for e in parsed if e["type"] in _NO_AUTO_INSIDE]
    for auto in detect_entities(plain):
        a_start, a_end = auto["offset"], auto["offset"] + auto["length"]
        if not any(a_start < b_end and b_start < a_end for b_start, b_end in blocked):
            parsed.append(auto)
    return _strip_text(plain, _sorted_entities(parsed))


# --------------------------------------------------------------------------------------
# Faults, calls, errors
# --------------------------------------------------------------------------------------

_NGINX_PAGE = (
    "<html>\r\n<head><title>{code} {phrase}</title></head>\r\n<body>\r\n"
    "<center><h1>{code} {phrase}</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
    "</body>\r\n</html>\r\n"
)
_PHRASES = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Time-out",
}


def _error_body(status: int, description: str, parameters: JSONDict | None = None) -> bytes:
    body: JSONDict = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return json.dumps(body, ensure_ascii=False).encode()


def _with_prefix(prefix: str, description: str) -> str:
    return description if description.startswith(prefix) else f"{prefix}: {description}"


@dataclass(frozen=True)
class Fault:
    """One injected failure, consumed by exactly one request of the targeted method.

    A faulted request is answered with ``status``/``body`` and has no side effects (no
    message is stored), except :meth:`slow`, which only delays a normal response.
    """

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    delay: float = 0.0
    proceed: bool = False

    @classmethod
    def error(cls, status: int, description: str, parameters: JSONDict | None = None) -> Fault:
        """Any Bot API error response."""
        return cls(status, _error_body(status, description, parameters))

    @classmethod
    def retry_after(cls, seconds: int) -> Fault:
        """429 flood control; PTB raises ``RetryAfter`` from ``parameters.retry_after``."""
        return cls.error(429, f"Too Many Requests: retry after {seconds}", {"retry_after": seconds})

    @classmethod
    def server_error(cls, status: int = 502, *, html: bool | None = None) -> Fault:
        """A 5xx; by default an nginx HTML page for 502/503/504 (what Telegram's front end
        really returns, so PTB's JSON parsing fails) and a JSON body otherwise."""
        phrase = _PHRASES.get(status, "Server Error")
        if html is None:
            html = status in (502, 503, 504)
        if html:
            page = _NGINX_PAGE.format(code=status, phrase=phrase).encode()
            return cls(status, page, content_type="text/html")
        return cls.error(status, phrase)

    @classmethod
    def bad_request(cls, description: str = "Bad Request") -> Fault:
        """400, raised by PTB as ``BadRequest``."""
        return cls.error(400, _with_prefix("Bad Request", description))

    @classmethod
    def forbidden(cls, description: str = "Forbidden: bot was blocked by the user") -> Fault:
        """403, raised by PTB as ``Forbidden``."""
        return cls.error(403, _with_prefix("Forbidden", description))

    @classmethod
    def conflict(
        cls,
        description: str = "Conflict: terminated by other getUpdates request; "
        "make sure that only one bot instance is running",
    ) -> Fault:
        """409, raised by PTB as ``Conflict``."""
        return cls.error(409, description)

    @classmethod
    def migrate(cls, new_chat_id: int) -> Fault:
        """400 with ``migrate_to_chat_id``; PTB raises ``ChatMigrated``."""
        return cls.error(
            400,
            "Bad Request: group chat was upgraded to a supergroup chat",
            {"migrate_to_chat_id": new_chat_id},
        )

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Delay, then process normally (the side effect happens even if the client
        times out: the classic duplicate-send scenario)."""
        return cls(200, delay=seconds, proceed=True)


class _CallBase(NamedTuple):
    method: str
    params: JSONDict


class Call(_CallBase):
    """One received API request: unpacks as ``(method, params)``.

    Extra attributes: ``status`` (HTTP status once answered, else ``None``), ``response``
    (decoded JSON body or raw text), ``faulted`` (answered by an injected :class:`Fault`),
    ``content_type`` of the request body (``None`` without a body).
    """

    status: int | None
    response: Any
    faulted: bool
    content_type: str | None

    @property
    def done(self) -> bool:
        return self.status is not None

    @property
    def ok(self) -> bool:
        return self.status == 200


def _new_call(method: str, params: JSONDict) -> Call:
    call = Call(method, params)
    call.status = None
    call.response = None
    call.faulted = False
    call.content_type = None
    return call


class ApiError(Exception):
    """Raised inside method implementations; becomes a Bot API error response."""

    def __init__(self, status: int, description: str, parameters: JSONDict | None = None):
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


def _bad(description: str) -> ApiError:
    return ApiError(400, _with_prefix("Bad Request", description))


@dataclass(frozen=True)
class UploadedFile:
    """A multipart file part as received (PTB sends InputFile contents this way)."""

    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class _StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes


@dataclass
class _Result:
    value: Any
    description: str | None = None


# Parameters whose form value is always a plain string; everything else PTB JSON-encodes.
# fmt: off
_STRING_PARAMS = frozenset({
    "text", "caption", "parse_mode", "query", "callback_query_id", "inline_query_id",
    "inline_message_id", "url", "description", "short_description", "name", "language_code",
    "next_offset", "secret_token", "ip_address", "action", "emoji", "title", "photo", "document",
    "sticker", "video", "audio", "voice", "animation", "video_note", "thumbnail", "cover", "file_id",
    "business_connection_id", "message_effect_id", "result_id", "switch_pm_text", "switch_pm_parameter",
    "custom_title", "address", "first_name", "last_name", "phone_number", "question", "explanation",
    "payload", "currency", "provider_token", "start_parameter", "invite_link", "sticker_set_name",
    "game_short_name", "web_app_query_id", "data", "vcard", "foursquare_id", "google_place_id",
    "certificate",
})
# fmt: on
_CHAT_ID_PARAMS = frozenset({"chat_id", "from_chat_id"})

_DEFAULT_UPDATE_TYPES_EXCLUDED = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
# fmt: off
_CHAT_ACTIONS = frozenset({
    "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
    "upload_document", "choose_sticker", "find_location", "record_video_note", "upload_video_note",
})
# fmt: on
# fmt: off
_BUTTON_KINDS = (
    "url", "callback_data", "web_app", "login_url", "switch_inline_query",
    "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text", "callback_game",
    "pay",
)
# fmt: on


def _decode_value(name: str, value: Any) -> Any:
    """Undo PTB's form encoding: non-string values arrive JSON-dumped."""
    if not isinstance(value, str) or name in _STRING_PARAMS:
        return value
    if name in _CHAT_ID_PARAMS:
        try:
            return int(value)
        except ValueError:
            return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _now() -> int:
    return int(time.time())


def _status_kind(chat: JSONDict) -> str:
    return {"supergroup": "supergroup", "channel": "channel"}.get(chat["type"], "group")


# --------------------------------------------------------------------------------------
# The emulator
# The placeholder users Telegram puts in `from` of messages sent on behalf of a chat.
ANONYMOUS_ADMIN: JSONDict = {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"}
CHANNEL_SENDER: JSONDict = {"id": 136817688, "is_bot": True, "first_name": "Channel", "username": "Channel_Bot"}


# --------------------------------------------------------------------------------------


class BotApiEmulator:
    """In-process fake of ``api.telegram.org`` for one bot; see the module docstring.

    All test-side helpers are plain (synchronous) methods except the ``wait_*`` ones;
    everything runs on the test's event loop, so no locking is needed.
    """

    def __init__(
        self,
        *,
        bot_username: str = "DistrictNewsBot",
        bot_first_name: str = "District News",
        bot_id: int = 123456,
        token: str | None = None,
        privacy_mode: bool = True,
        host: str = "127.0.0.1",
    ) -> None:
        self.token = token or f"{bot_id}:TEST-TOKEN"
        self.host = host
        self.privacy_mode = privacy_mode
        self.bot_user: JSONDict = {
            "id": bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": not privacy_mode,
            "supports_inline_queries": True,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self._bot_from: JSONDict = {
            "id": bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }

        # recordings
        self.calls: list[Call] = []
        self.unknown_calls: list[Call] = []
        self.unauthorized_calls: list[tuple[str, str]] = []
        self.undelivered: list[tuple[str, JSONDict]] = []
        self.callback_answers: list[JSONDict] = []
        self.inline_answers: list[JSONDict] = []
        self.inline_edits: list[JSONDict] = []
        self.chat_actions: list[tuple[int | str, str]] = []
        self.deleted_messages: list[tuple[int, int]] = []
        self.commands: dict[tuple[str, str], list[JSONDict]] = {}
        self.descriptions: dict[tuple[str, str], str] = {}
        self.reply_keyboards: dict[int, JSONDict] = {}
        self.webhook: JSONDict = {}
        self.logged_out = False

        # world state
        self._users: dict[int, JSONDict] = {}
        self._chats: dict[int, JSONDict] = {}
        self._members: dict[int, dict[int, str]] = {}
        self._blocked: set[int] = set()
        self._messages: dict[int, dict[int, JSONDict]] = {}
        self._last_message_id: dict[int, int] = {}
        self._bot_message_order: list[tuple[int, int]] = []
        self._files: dict[str, _StoredFile] = {}
        self._file_ids = itertools.count(1)
        self._callback_queries: dict[str, bool] = {}
        self._inline_queries: dict[str, bool] = {}
        self._query_ids = itertools.count(4_000_000_000_000_000_001)

        # update queue / polling
        self._updates: deque[JSONDict] = deque()
        self._next_update_id = 10_001
        self._allowed_updates: list[str] | None = None
        self._poll_generation = 0
        self._faults: dict[str, deque[Fault]] = {}
        self._in_flight = 0
        self._last_activity = 0.0
        self._closing = False
        self._changed: asyncio.Event | None = None

        # webhook delivery and held methods
        self.webhook_posts: list[tuple[int, int]] = []  # (update_id, HTTP status; 0: no answer)
        self.webhook_retry_seconds = 0.5
        self._posting: set[int] = set()
        self._retry_at: dict[int, float] = {}
        self._webhook_task: asyncio.Task[None] | None = None
        self._holds: dict[str, asyncio.Event] = {}
        self.held_calls: list[Call] = []  # requests parked by hold(), in order
        self.abandoned_calls: list[Call] = []  # held requests whose client was gone on release: not applied

        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._methods: dict[str, tuple[str, Callable[[JSONDict], Any]]] = {
            name.lower(): (name, handler) for name, handler in self._method_table().items()
        }

    # ---------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> BotApiEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Bind to a free port on 127.0.0.1 and start serving."""
        self._changed = asyncio.Event()
        self._closing = False
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", r"/bot{token}/{method}", self._handle_api)
        app.router.add_route("GET", r"/file/bot{token}/{path:.+}", self._handle_file)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        address = self._runner.addresses[0]
        self._port = int(address[1])

    async def stop(self) -> None:
        """Release pending long polls, then shut the server down."""
        self._closing = True
        self._notify()
        for event in self._holds.values():
            event.set()
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task
            self._webhook_task = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("BotApiEmulator is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """Pass to ``ApplicationBuilder.base_url``; PTB appends ``token + "/" + method``."""
        return f"http://{self.host}:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """Pass to ``ApplicationBuilder.base_file_url``."""
        return f"http://{self.host}:{self.port}/file/bot"

    # ---------------------------------------------------------------- world builders

    def user(
        self,
        user_id: int,
        first_name: str,
        username: str | None = None,
        language_code: str | None = "zh-hans",
        *,
        last_name: str | None = None,
        is_bot: bool = False,
    ) -> JSONDict:
        """Register and return a Telegram ``User`` object."""
        user: JSONDict = {"id": user_id, "is_bot": is_bot, "first_name": first_name}
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        self._users[user_id] = user
        return dict(user)

    def private_chat(self, user: JSONDict | int) -> JSONDict:
        """The private chat with ``user``; registering it means the user started the bot."""
        user = self._user_obj(user)
        chat: JSONDict = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
        for key in ("last_name", "username"):
            if key in user:
                chat[key] = user[key]
        self._chats[chat["id"]] = chat
        return dict(chat)

    def group_chat(
        self,
        chat_id: int,
        title: str,
        *,
        forum: bool = False,
        username: str | None = None,
        chat_type: str | None = None,
    ) -> JSONDict:
        """A group the bot is a member of. ``-100…`` ids and forums become supergroups."""
        if chat_type is None:
            chat_type = "supergroup" if forum or str(chat_id).startswith("-100") else "group"
        chat: JSONDict = {"id": chat_id, "title": title, "type": chat_type}
        if username:
            chat["username"] = username
        if forum:
            chat["is_forum"] = True
        self._chats[chat_id] = chat
        self._members.setdefault(chat_id, {})
        return dict(chat)

    def channel(self, chat_id: int, title: str, *, username: str | None = None) -> JSONDict:
        """A channel; bot posts there carry ``sender_chat`` instead of ``from``."""
        return self.group_chat(chat_id, title, username=username, chat_type="channel")

    def set_admins(self, chat_id: int, user_ids: Iterable[int], *, creator: int | None = None) -> None:
        """Replace the chat's admin table (include the bot's id to make the bot admin)."""
        members = self._members.setdefault(chat_id, {})
        for uid, status in list(members.items()):
            if status in ("creator", "administrator"):
                members[uid] = "member"
        for uid in user_ids:
            members[uid] = "administrator"
        if creator is not None:
            members[creator] = "creator"

    def set_member_status(self, chat_id: int, user_id: int, status: str) -> None:
        """Set one member's status: creator/administrator/member/restricted/left/kicked.
        Setting the bot to left/kicked makes sends to that chat fail with 403."""
        self._members.setdefault(chat_id, {})[user_id] = status

    def block_bot(self, user_id: int, blocked: bool = True) -> None:
        """Make sends to this user's private chat fail with 403 "bot was blocked"."""
        (self._blocked.add if blocked else self._blocked.discard)(user_id)

    # ---------------------------------------------------------------- update builders

    def send_text(
        self,
        chat: JSONDict | int,
        user: JSONDict | int | None,
        text: str,
        *,
        reply_to_message_id: int | None = None,
        message_thread_id: int | None = None,
        edited: bool = False,
        message_id: int | None = None,
        entities: list[JSONDict] | None = None,
        sender_chat: JSONDict | None = None,
    ) -> JSONDict:
        """A user writes ``text``; entities (commands, mentions, …) are auto-detected.

        ``edited=True`` edits ``message_id`` (default: the user's latest message in the
        chat) and enqueues an ``edited_message`` update. Returns the message.
        ``sender_chat`` sends on behalf of a chat, as Telegram does: the group itself for an
        anonymous admin (``from`` is GroupAnonymousBot), a channel otherwise (``from`` is
        Channel_Bot); ``user`` is then ignored.
        """
        chat_obj = self._chat_obj(chat)
        ents = entities if entities is not None else detect_entities(text)
        if edited:
            msg = self._find_user_message(chat_obj["id"], user, message_id)
            msg["text"] = text
            msg.pop("entities", None)
            if ents:
                msg["entities"] = ents
            msg["edit_date"] = _now()
            kind = "edited_channel_post" if chat_obj["type"] == "channel" else "edited_message"
            self._deliver_message(kind, msg)
            return copy.deepcopy(msg)
        content: JSONDict = {"text": text}
        if ents:
            content["entities"] = ents
        return self._user_message(chat_obj, user, content, reply_to_message_id, message_thread_id, sender_chat)

    def send_sticker(
        self,
        chat: JSONDict | int,
        user: JSONDict | int | None,
        *,
        emoji: str = "👍",
        set_name: str | None = "DistrictTestStickers",
        reply_to_message_id: int | None = None,
        message_thread_id: int | None = None,
    ) -> JSONDict:
        """A user sends a (static, regular) sticker. Returns the message."""
        stored = self._store_file(b"RIFF-fake-webp", "stickers", "webp")
        sticker: JSONDict = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
            "file_size": len(stored.data),
        }
        if set_name:
            sticker["set_name"] = set_name
        return self._user_message(
            self._chat_obj(chat), user, {"sticker": sticker}, reply_to_message_id, message_thread_id
        )

    def send_photo(
        self,
        chat: JSONDict | int,
        user: JSONDict | int | None,
        *,
        caption: str | None = None,
        data: bytes = b"\xff\xd8\xff\xe0fake-jpeg",
        reply_to_message_id: int | None = None,
        message_thread_id: int | None = None,
    ) -> JSONDict:
        """A user sends a photo (no ``text``; optional caption with auto entities)."""
        content: JSONDict = {"photo": self._photo_sizes(data)}
        if caption:
            content["caption"] = caption
            ents = detect_entities(caption)
            if ents:
                content["caption_entities"] = ents
        return self._user_message(self._chat_obj(chat), user, content, reply_to_message_id, message_thread_id)

    def press_button(
        self,
        chat: JSONDict | int,
        user: JSONDict | int,
        message_id: int,
        callback_data: str,
        *,
        check_markup: bool = True,
    ) -> str:
        """A user presses an inline button under a stored message; returns the query id.

        With ``check_markup`` the button must currently exist on that message, so a
        test cannot press a button the bot never showed (or already removed).
        """
        chat_obj = self._chat_obj(chat)
        msg = self._messages.get(chat_obj["id"], {}).get(message_id)
        if msg is None:
            raise AssertionError(f"press_button: no message {message_id} in chat {chat_obj['id']}")
        if check_markup:
            available = [
                button.get("callback_data")
                for row in msg.get("reply_markup", {}).get("inline_keyboard", [])
                for button in row
                if "callback_data" in button
            ]
            if callback_data not in available:
                raise AssertionError(
                    f"press_button: message {message_id} has no button with callback_data "
                    f"{callback_data!r}; available: {available}"
                )
        query_id = str(next(self._query_ids))
        self._callback_queries[query_id] = False
        self._enqueue(
            "callback_query",
            {
                "id": query_id,
                "from": self._user_obj(user),
                "message": copy.deepcopy(msg),
                "chat_instance": f"-{abs(chat_obj['id']) * 7919 % 10**18}",
                "data": callback_data,
            },
        )
        return query_id

    def inline_query(
        self,
        user: JSONDict | int,
        query: str,
        offset: str = "",
        *,
        chat_type: str | None = "sender",
    ) -> str:
        """A user types ``@bot query``; returns the inline query id."""
        query_id = str(next(self._query_ids))
        self._inline_queries[query_id] = False
        payload: JSONDict = {"id": query_id, "from": self._user_obj(user), "query": query, "offset": offset}
        if chat_type:
            payload["chat_type"] = chat_type
        self._enqueue("inline_query", payload)
        return query_id

    def chosen_inline_result(
        self,
        user: JSONDict | int,
        result_id: str,
        query: str,
        *,
        inline_message_id: str | None = None,
    ) -> JSONDict:
        """A user picked an inline result (needs inline feedback enabled in real life)."""
        payload: JSONDict = {"result_id": result_id, "from": self._user_obj(user), "query": query}
        if inline_message_id:
            payload["inline_message_id"] = inline_message_id
        self._enqueue("chosen_inline_result", payload)
        return payload

    def push_update(self, kind: str, payload: JSONDict) -> JSONDict:
        """Enqueue any raw update type (e.g. ``my_chat_member``); returns the update."""
        return self._enqueue(kind, copy.deepcopy(payload))

    # ---------------------------------------------------------------- inspection

    @property
    def pending_updates(self) -> list[JSONDict]:
        """Updates not yet confirmed by ``getUpdates(offset=...)``."""
        return [copy.deepcopy(u) for u in self._updates]

    def sent_messages(self, chat_id: int | None = None) -> list[JSONDict]:
        """Bot messages currently stored (edits applied, deletions removed), oldest first."""
        result = []
        for cid, mid in self._bot_message_order:
            if chat_id is not None and cid != chat_id:
                continue
            msg = self._messages.get(cid, {}).get(mid)
            if msg is not None:
                result.append(copy.deepcopy(msg))
        return result

    def messages(self, chat_id: int) -> list[JSONDict]:
        """Every stored message of a chat (users' and bot's), by message_id."""
        return [copy.deepcopy(m) for _, m in sorted(self._messages.get(chat_id, {}).items())]

    def get_message(self, chat_id: int, message_id: int) -> JSONDict | None:
        msg = self._messages.get(chat_id, {}).get(message_id)
        return copy.deepcopy(msg) if msg is not None else None

    def calls_to(self, method: str) -> list[Call]:
        """Calls of one method (case-insensitive), in order received."""
        return [c for c in self.calls if c.method.lower() == method.lower()]

    def mark(self) -> int:
        """Index to pass as ``since=`` so later waits ignore earlier calls."""
        return len(self.calls)

    def commands_for(self, scope: str = "default", language_code: str = "") -> list[JSONDict]:
        """Commands set for a scope key such as ``"default"``, ``"chat:-100123"`` or
        ``"chat_member:-100123:42"``."""
        return copy.deepcopy(self.commands.get((scope, language_code), []))

    def fail_next(self, method: str, *faults: Fault) -> None:
        """Queue faults for ``method``; each is consumed by one request, in order."""
        self._faults.setdefault(method.lower(), deque()).extend(faults)

    def pending_faults(self, method: str) -> int:
        return len(self._faults.get(method.lower(), ()))

    def hold(self, method: str) -> None:
        """Park every request of ``method`` until :meth:`release` (they count as in flight)."""
        self._holds.setdefault(method.lower(), asyncio.Event())

    def release(self, method: str) -> None:
        """Let the parked requests of ``method`` through; one whose client is gone is dropped."""
        event = self._holds.pop(method.lower(), None)
        if event is not None:
            event.set()

    def held(self, method: str) -> list[Call]:
        """Requests of ``method`` parked right now."""
        return [c for c in self.held_calls if c.method.lower() == method.lower() and not c.done]

    @overload
    async def wait_for_call(
        self,
        method: str,
        predicate: Callable[[JSONDict], bool] | None = ...,
        timeout: float = ...,
        count: Literal[1] = ...,
        *,
        since: int = ...,
        ok: bool | None = ...,
    ) -> Call: ...

    @overload
    async def wait_for_call(
        self,
        method: str,
        predicate: Callable[[JSONDict], bool] | None = ...,
        timeout: float = ...,
        count: int = ...,
        *,
        since: int = ...,
        ok: bool | None = ...,
    ) -> Call | list[Call]: ...

    async def wait_for_call(
        self,
        method: str,
        predicate: Callable[[JSONDict], bool] | None = None,
        timeout: float = 5.0,
        count: int = 1,
        *,
        since: int = 0,
        ok: bool | None = None,
    ) -> Call | list[Call]:
        """Wait until ``count`` answered calls of ``method`` match ``predicate(params)``.

        Considers every call since index ``since`` (default: all, including calls made
        before waiting). ``ok=True``/``False`` restricts to successful/failed calls.
        A predicate raising (e.g. ``KeyError``) counts as no match. Returns the call for
        ``count == 1``, else a list of the first ``count`` matches.
        """

        def matching() -> list[Call]:
            found = []
            for call in self.calls[since:]:
                if call.method.lower() != method.lower() or not call.done:
                    continue
                if ok is not None and call.ok != ok:
                    continue
                if predicate is not None:
                    try:
                        if not predicate(call.params):
                            continue
                    except Exception:  # a crashing predicate is a non-match
                        continue
                found.append(call)
            return found

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = matching()
            if len(found) >= count:
                return found[0] if count == 1 else found[:count]
            remaining = deadline - loop.time()
            if remaining <= 0:
                what = f"{count} call(s) of {method}"
                if predicate is not None:
                    what += " matching the predicate"
                raise AssertionError(
                    f"Timed out after {timeout}s waiting for {what}; found {len(found)}.\n" + self.describe_recent()
                )
            await self._wait_changed(remaining)

    async def wait_idle(self, timeout: float = 5.0, quiet: float = 0.05) -> None:
        """Wait until every update was fetched and confirmed, no request other than
        ``getUpdates`` is in flight, and nothing happened for ``quiet`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            now = loop.time()
            busy = bool(self._updates) or self._in_flight > 0
            silent_for = now - self._last_activity
            if not busy and silent_for >= quiet:
                return
            if now >= deadline:
                raise AssertionError(
                    f"Emulator not idle after {timeout}s: {len(self._updates)} unconfirmed "
                    f"update(s), {self._in_flight} request(s) in flight.\n" + self.describe_recent()
                )
            wait = deadline - now if busy else min(quiet - silent_for, deadline - now)
            await self._wait_changed(max(wait, 0.001))

    def describe_recent(self, limit: int = 20) -> str:
        """Human-readable list of recent non-polling calls, for assertion messages."""
        recent = [c for c in self.calls if c.method != "getUpdates"][-limit:]
        lines = ["Recent calls (getUpdates omitted):"]
        for call in recent:
            params = json.dumps(call.params, ensure_ascii=False, default=repr)
            if len(params) > 300:
                params = params[:297] + "..."
            status = "pending" if call.status is None else call.status
            lines.append(f"  {call.method} [{status}{' fault' if call.faulted else ''}] {params}")
        if len(lines) == 1:
            lines.append("  (none)")
        if self.unknown_calls:
            lines.append(f"Unknown methods called: {[c.method for c in self.unknown_calls]}")
        if self._updates:
            lines.append(f"Unconfirmed updates: {len(self._updates)}")
        if self.undelivered:
            lines.append(
                f"{len(self.undelivered)} message(s)/update(s) never reached the bot (privacy mode: "
                "group text without a command for it, a reply to it or the bot being admin; or "
                "excluded by allowed_updates); see emu.undelivered"
            )
        return "\n".join(lines)

    # ---------------------------------------------------------------- internals: world

    def _notify(self) -> None:
        self._last_activity = asyncio.get_running_loop().time() if self._changed else 0.0
        if self._changed is not None:
            self._changed.set()
            self._changed = asyncio.Event()

    async def _wait_changed(self, timeout: float) -> None:
        event = self._changed
        if event is None:
            raise RuntimeError("BotApiEmulator is not started")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)

    def _user_obj(self, user: JSONDict | int) -> JSONDict:
        if isinstance(user, int):
            if user not in self._users:
                raise AssertionError(f"unknown user {user}; create it with emu.user(...)")
            return dict(self._users[user])
        self._users.setdefault(user["id"], dict(user))
        return dict(user)

    def _chat_obj(self, chat: JSONDict | int) -> JSONDict:
        chat_id = chat if isinstance(chat, int) else chat["id"]
        if chat_id not in self._chats:
            if isinstance(chat, int):
                raise AssertionError(f"unknown chat {chat}; create it with emu.group_chat(...)")
            self._chats[chat_id] = dict(chat)
        return dict(self._chats[chat_id])

    def _next_message_id(self, chat_id: int) -> int:
        self._last_message_id[chat_id] = self._last_message_id.get(chat_id, 0) + 1
        return self._last_message_id[chat_id]

    def _store_file(self, data: bytes, folder: str, ext: str) -> _StoredFile:
        number = next(self._file_ids)
        stored = _StoredFile(
            file_id=f"AgACAgIAAxkBAAI{number:06d}EmuFile",
            file_unique_id=f"AQAD{number:06d}",
            file_path=f"{folder}/file_{number}.{ext}",
            data=data,
        )
        self._files[stored.file_id] = stored
        return stored

    def _photo_sizes(self, data: bytes) -> list[JSONDict]:
        sizes = []
        for width, height in ((90, 67), (800, 600)):
            stored = self._store_file(data, "photos", "jpg")
            sizes.append(
                {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "width": width,
                    "height": height,
                    "file_size": len(data),
                }
            )
        return sizes

    def _find_user_message(self, chat_id: int, user: JSONDict | int | None, message_id: int | None) -> JSONDict:
        stored = self._messages.get(chat_id, {})
        if message_id is not None:
            if message_id not in stored:
                raise AssertionError(f"no message {message_id} in chat {chat_id}")
            return stored[message_id]
        user_id = None if user is None else self._user_obj(user)["id"]
        for mid in sorted(stored, reverse=True):
            if stored[mid].get("from", {}).get("id") == user_id or (user_id is None and "from" not in stored[mid]):
                return stored[mid]
        raise AssertionError(f"no earlier message from {user_id} in chat {chat_id} to edit")

    def _user_message(
        self,
        chat: JSONDict,
        user: JSONDict | int | None,
        content: JSONDict,
        reply_to_message_id: int | None,
        message_thread_id: int | None,
        sender_chat: JSONDict | None = None,
    ) -> JSONDict:
        chat_id = chat["id"]
        msg: JSONDict = {"message_id": self._next_message_id(chat_id)}
        if chat["type"] == "channel":
            msg["sender_chat"] = chat
        elif sender_chat is not None:
            msg["from"] = dict(ANONYMOUS_ADMIN if sender_chat["id"] == chat_id else CHANNEL_SENDER)
            msg["sender_chat"] = dict(sender_chat)
        else:
            if user is None:
                raise AssertionError("a user is required outside channels")
            user_obj = self._user_obj(user)
            msg["from"] = user_obj
            self._members.setdefault(chat_id, {}).setdefault(user_obj["id"], "member")
        msg["chat"] = chat
        msg["date"] = _now()
        if message_thread_id is not None:
            msg["message_thread_id"] = message_thread_id
            if chat.get("is_forum"):
                msg["is_topic_message"] = True
        if reply_to_message_id is not None:
            replied = self._messages.get(chat_id, {}).get(reply_to_message_id)
            if replied is None:
                raise AssertionError(f"no message {reply_to_message_id} in chat {chat_id}")
            msg["reply_to_message"] = self._reply_copy(replied)
        msg.update(content)
        self._messages.setdefault(chat_id, {})[msg["message_id"]] = msg
        kind = "channel_post" if chat["type"] == "channel" else "message"
        self._deliver_message(kind, msg)
        return copy.deepcopy(msg)

    @staticmethod
    def _reply_copy(message: JSONDict) -> JSONDict:
        replied = copy.deepcopy(message)
        replied.pop("reply_to_message", None)
        return replied

    def _bot_is_admin(self, chat_id: int) -> bool:
        return self._members.get(chat_id, {}).get(self.bot_user["id"]) in ("creator", "administrator")

    def _privacy_allows(self, msg: JSONDict) -> bool:
        """Privacy mode: which group messages a non-admin bot gets (see Bot API FAQ)."""
        chat = msg["chat"]
        if not self.privacy_mode or chat["type"] in ("private", "channel"):
            return True
        if self._bot_is_admin(chat["id"]):
            return True
        replied = msg.get("reply_to_message")
        if replied and replied.get("from", {}).get("id") == self.bot_user["id"]:
            return True
        text = msg.get("text", msg.get("caption", ""))
        ents = msg.get("entities", msg.get("caption_entities", []))
        utf16 = text.encode("utf-16-le")
        for ent in ents:
            if ent["type"] != "bot_command":
                continue
            start, end = ent["offset"] * 2, (ent["offset"] + ent["length"]) * 2
            command = utf16[start:end].decode("utf-16-le")
            _, _, target = command.partition("@")
            if not target or target.lower() == self.bot_user["username"].lower():
                return True
        return False

    def _deliver_message(self, kind: str, msg: JSONDict) -> None:
        if self._privacy_allows(msg):
            self._enqueue(kind, copy.deepcopy(msg))
        else:
            _LOGGER.info("privacy mode: message %s not delivered", msg["message_id"])
            self.undelivered.append(("privacy_mode", copy.deepcopy(msg)))

    def _enqueue(self, kind: str, payload: JSONDict) -> JSONDict:
        update = {"update_id": self._next_update_id, kind: payload}
        self._next_update_id += 1
        self._updates.append(update)
        self._notify()
        return copy.deepcopy(update)

    # ---------------------------------------------------------------- internals: HTTP

    async def _read_params(self, request: web.Request) -> JSONDict:
        raw: dict[str, Any] = dict(request.query)
        if request.body_exists:
            ctype = request.content_type
            if ctype == "application/json":
                body = await request.json()
                if not isinstance(body, dict):
                    raise ValueError("JSON body must be an object")
                raw.update(body)
            elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        raw[key] = UploadedFile(value.filename, value.content_type, value.file.read())
                    else:
                        raw[key] = value
        return {key: _decode_value(key, value) for key, value in raw.items()}

    @staticmethod
    def _json_response(status: int, body: JSONDict) -> web.Response:
        return web.Response(
            status=status, body=json.dumps(body, ensure_ascii=False).encode(), content_type="application/json"
        )

    async def _handle_api(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        method = request.match_info["method"]
        if token != self.token:
            self.unauthorized_calls.append((method, token))
            return self._json_response(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        try:
            params = await self._read_params(request)
        except ValueError as exc:
            return self._json_response(
                400,
                {"ok": False, "error_code": 400, "description": f"Bad Request: can't parse request: {exc}"},
            )
        name, handler = self._methods.get(method.lower(), (method, None))
        call = _new_call(name, params)
        call.content_type = request.content_type if request.body_exists else None
        self.calls.append(call)
        is_poll = name == "getUpdates"
        if not is_poll:
            self._in_flight += 1
            self._notify()
        response: web.Response
        try:
            gate = self._holds.get(name.lower())
            if gate is not None:
                self.held_calls.append(call)
                self._notify()
                await gate.wait()
                if request.transport is None:  # the client died while its request was parked
                    call.status, call.faulted = 499, True
                    self.abandoned_calls.append(call)
                    return web.Response(status=499)
            response = await self._dispatch(call, handler)
        finally:
            if not is_poll:
                self._in_flight -= 1
            self._notify()
        return response

    async def _dispatch(self, call: Call, handler: Callable[[JSONDict], Any] | None) -> web.Response:
        queue = self._faults.get(call.method.lower())
        fault = queue.popleft() if queue else None
        if fault is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if not fault.proceed:
                call.faulted = True
                call.status = fault.status
                text = fault.body.decode("utf-8", "replace")
                try:
                    call.response = json.loads(text)
                except ValueError:
                    call.response = text
                return web.Response(status=fault.status, body=fault.body, content_type=fault.content_type)
        if handler is None:
            self.unknown_calls.append(call)
            _LOGGER.warning("BotApiEmulator: unknown method %s called", call.method)
            body: JSONDict = {"ok": False, "error_code": 404, "description": "Not Found: method not found"}
            call.status, call.response = 404, body
            return self._json_response(404, body)
        try:
            result = handler(call.params)
            if inspect.isawaitable(result):
                result = await result
        except ApiError as exc:
            body = {"ok": False, "error_code": exc.status, "description": exc.description}
            if exc.parameters:
                body["parameters"] = exc.parameters
            call.status, call.response = exc.status, body
            return self._json_response(exc.status, body)
        except Exception as exc:  # a bug in the emulator: make it loud but parseable
            _LOGGER.exception("BotApiEmulator: %s crashed", call.method)
            body = {
                "ok": False,
                "error_code": 500,
                "description": f"Internal Server Error: emulator crashed: {exc!r}",
            }
            call.status, call.response = 500, body
            return self._json_response(500, body)
        if not isinstance(result, _Result):
            result = _Result(result)
        body = {"ok": True, "result": result.value}
        if result.description:
            body["description"] = result.description
        call.status, call.response = 200, body
        return self._json_response(200, body)

    async def _handle_file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401, text="Unauthorized")
        path = request.match_info["path"]
        for stored in self._files.values():
            if stored.file_path == path:
                return web.Response(body=stored.data, content_type="application/octet-stream")
        return web.Response(status=404, text="Not Found")

    # ---------------------------------------------------------------- internals: Bot API

    def _method_table(self) -> dict[str, Callable[[JSONDict], Any]]:
        return {
            "getMe": lambda p: dict(self.bot_user),
            "logOut": self._m_log_out,
            "close": lambda p: True,
            "getUpdates": self._m_get_updates,
            "setWebhook": self._m_set_webhook,
            "deleteWebhook": self._m_delete_webhook,
            "getWebhookInfo": self._m_get_webhook_info,
            "sendMessage": self._m_send_message,
            "sendPhoto": self._m_send_photo,
            "sendDocument": self._m_send_document,
            "editMessageText": self._m_edit_message_text,
            "editMessageCaption": self._m_edit_message_caption,
            "editMessageReplyMarkup": self._m_edit_message_reply_markup,
            "deleteMessage": self._m_delete_message,
            "deleteMessages": self._m_delete_messages,
            "answerCallbackQuery": self._m_answer_callback_query,
            "answerInlineQuery": self._m_answer_inline_query,
            "setMyCommands": self._m_set_my_commands,
            "getMyCommands": self._m_get_my_commands,
            "deleteMyCommands": self._m_delete_my_commands,
            "setMyDescription": lambda p: self._set_text_setting(p, "description"),
            "getMyDescription": lambda p: self._get_text_setting(p, "description"),
            "setMyShortDescription": lambda p: self._set_text_setting(p, "short_description"),
            "getMyShortDescription": lambda p: self._get_text_setting(p, "short_description"),
            "setMyName": lambda p: self._set_text_setting(p, "name"),
            "getMyName": lambda p: self._get_text_setting(p, "name"),
            "sendChatAction": self._m_send_chat_action,
            "getChat": self._m_get_chat,
            "getChatMember": self._m_get_chat_member,
            "getChatAdministrators": self._m_get_chat_administrators,
            "getChatMemberCount": self._m_get_chat_member_count,
            "getFile": self._m_get_file,
        }

    # -- polling & webhook

    def _m_log_out(self, params: JSONDict) -> bool:
        self.logged_out = True
        return True

    def _update_allowed(self, update: JSONDict) -> bool:
        kind = next(k for k in update if k != "update_id")
        if self._allowed_updates:
            return kind in self._allowed_updates
        return kind not in _DEFAULT_UPDATE_TYPES_EXCLUDED

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            while self._updates and self._updates[0]["update_id"] < offset:
                self._updates.popleft()
        elif offset < 0:
            while len(self._updates) > -offset:
                self._updates.popleft()

    def _deliverable(self, limit: int) -> list[JSONDict]:
        batch: list[JSONDict] = []
        for update in list(self._updates):
            if not self._update_allowed(update):
                # Telegram would never have produced it for this bot
                self._updates.remove(update)
                self.undelivered.append(("allowed_updates", copy.deepcopy(update)))
                continue
            batch.append(copy.deepcopy(update))
            if len(batch) >= limit:
                break
        return batch

    async def _m_get_updates(self, params: JSONDict) -> list[JSONDict]:
        if self.webhook.get("url"):
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active;"
                " use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = max(float(params.get("timeout") or 0), 0.0)
        if "allowed_updates" in params:
            allowed = params["allowed_updates"]
            self._allowed_updates = list(allowed) if allowed else None
        self._poll_generation += 1
        generation = self._poll_generation
        self._confirm(offset)
        self._notify()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
                )
            batch = self._deliverable(limit)
            if batch or self._closing:
                return batch
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            await self._wait_changed(remaining)

    def _m_set_webhook(self, params: JSONDict) -> _Result:
        url = params.get("url") or ""
        if params.get("drop_pending_updates"):
            self._updates.clear()
        if not url:
            self.webhook = {}
            return _Result(True, "Webhook is already deleted")
        self.webhook = {k: v for k, v in params.items() if not isinstance(v, UploadedFile)}
        if "allowed_updates" in params:
            self._allowed_updates = list(params["allowed_updates"] or []) or None
        if self._webhook_task is None or self._webhook_task.done():
            self._webhook_task = asyncio.get_running_loop().create_task(self._push_updates())
        return _Result(True, "Webhook was set")

    async def _push_updates(self) -> None:
        """While a webhook is set: POST each update to it, as Telegram does, until one is taken (2xx)."""
        loop = asyncio.get_running_loop()
        tasks: set[asyncio.Task[None]] = set()
        async with aiohttp.ClientSession() as session:
            try:
                while not self._closing and self.webhook.get("url"):
                    limit = int(self.webhook.get("max_connections") or 40)
                    for update in self._deliverable(100):
                        update_id = update["update_id"]
                        if update_id in self._posting or self._retry_at.get(update_id, 0.0) > loop.time():
                            continue
                        if len(self._posting) >= limit:
                            break
                        self._posting.add(update_id)
                        task = loop.create_task(self._post_update(session, update))
                        tasks.add(task)
                        task.add_done_callback(tasks.discard)
                    await self._wait_changed(0.05)
            finally:
                for task in list(tasks):
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    async def _post_update(self, session: aiohttp.ClientSession, update: JSONDict) -> None:
        update_id = update["update_id"]
        headers: dict[str, str] = {}
        if self.webhook.get("secret_token"):
            headers["X-Telegram-Bot-Api-Secret-Token"] = str(self.webhook["secret_token"])
        try:
            async with session.post(
                self.webhook["url"], json=update, headers=headers, timeout=aiohttp.ClientTimeout(total=120)
            ) as response:
                status = response.status
        except (TimeoutError, aiohttp.ClientError, KeyError):
            status = 0
        finally:
            self._posting.discard(update_id)
        self.webhook_posts.append((update_id, status))
        if 200 <= status < 300:
            self._retry_at.pop(update_id, None)
            for queued in list(self._updates):
                if queued["update_id"] == update_id:
                    self._updates.remove(queued)
        else:
            self._retry_at[update_id] = asyncio.get_running_loop().time() + self.webhook_retry_seconds
        self._notify()

    def _m_delete_webhook(self, params: JSONDict) -> _Result:
        if params.get("drop_pending_updates"):
            self._updates.clear()
        had = bool(self.webhook.get("url"))
        self.webhook = {}
        return _Result(True, "Webhook was deleted" if had else "Webhook is already deleted")

    def _m_get_webhook_info(self, params: JSONDict) -> JSONDict:
        info: JSONDict = {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self.webhook.get("url"):
            info["max_connections"] = self.webhook.get("max_connections", 40)
        if self._allowed_updates:
            info["allowed_updates"] = list(self._allowed_updates)
        return info

    # -- chats

    def _resolve_chat(self, chat_id: Any) -> JSONDict:
        if chat_id is None or chat_id == "":
            raise _bad("chat_id is empty")
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            for chat in self._chats.values():
                if chat.get("username", "").lower() == chat_id[1:].lower():
                    return chat
            raise _bad("chat not found")
        try:
            cid = int(chat_id)
        except (TypeError, ValueError):
            raise _bad("chat not found") from None
        chat = self._chats.get(cid)
        if chat is None:
            if cid in self._users:
                raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
            raise _bad("chat not found")
        return chat

    def _writable_chat(self, chat_id: Any) -> JSONDict:
        chat = self._resolve_chat(chat_id)
        if chat["type"] == "private":
            if chat["id"] in self._blocked:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
        else:
            status = self._members.get(chat["id"], {}).get(self.bot_user["id"])
            if status == "kicked":
                raise ApiError(403, f"Forbidden: bot was kicked from the {_status_kind(chat)} chat")
            if status == "left":
                raise ApiError(403, f"Forbidden: bot is not a member of the {_status_kind(chat)} chat")
        return chat

    def _member_status(self, chat_id: int, user_id: int) -> str:
        status = self._members.get(chat_id, {}).get(user_id)
        if status:
            return status
        if user_id == self.bot_user["id"]:
            return "member"
        return "left"

    def _member_obj(self, chat: JSONDict, user_id: int) -> JSONDict:
        if user_id == self.bot_user["id"]:
            user = dict(self._bot_from)
        else:
            user = dict(self._users.get(user_id) or {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"})
        status = self._member_status(chat["id"], user_id)
        member: JSONDict = {"user": user, "status": status}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            member.update(
                {
                    "can_be_edited": False,
                    "is_anonymous": False,
                    "can_manage_chat": True,
                    "can_delete_messages": True,
                    "can_manage_video_chats": True,
                    "can_restrict_members": True,
                    "can_promote_members": False,
                    "can_change_info": True,
                    "can_invite_users": True,
                    "can_post_stories": True,
                    "can_edit_stories": True,
                    "can_delete_stories": True,
                    "can_pin_messages": True,
                }
            )
            if chat.get("is_forum"):
                member["can_manage_topics"] = True
        elif status == "restricted":
            member.update(
                {
                    "is_member": True,
                    "until_date": 0,
                    **{
                        name: False
                        for name in (
                            "can_send_messages",
                            "can_send_audios",
                            "can_send_documents",
                            "can_send_photos",
                            "can_send_videos",
                            "can_send_video_notes",
                            "can_send_voice_notes",
                            "can_send_polls",
                            "can_send_other_messages",
                            "can_add_web_page_previews",
                            "can_change_info",
                            "can_invite_users",
                            "can_pin_messages",
                            "can_manage_topics",
                            "can_edit_tag",
                        )
                    },
                }
            )
        elif status == "kicked":
            member["until_date"] = 0
        return member

    def _m_get_chat(self, params: JSONDict) -> JSONDict:
        chat = dict(self._resolve_chat(params.get("chat_id")))
        chat.update(
            {
                "accent_color_id": 0,
                "max_reaction_count": 11,
                "accepted_gift_types": {
                    "unlimited_gifts": False,
                    "limited_gifts": False,
                    "unique_gifts": False,
                    "premium_subscription": False,
                    "gifts_from_channels": False,
                },
            }
        )
        return chat

    def _m_get_chat_member(self, params: JSONDict) -> JSONDict:
        chat = self._resolve_chat(params.get("chat_id"))
        try:
            user_id = int(params.get("user_id"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise _bad("user_id is empty") from None
        if user_id not in self._users and user_id != self.bot_user["id"]:
            raise _bad("user not found")
        if chat["type"] == "private" and user_id in (chat["id"], self.bot_user["id"]):
            return {"user": self._member_obj(chat, user_id)["user"], "status": "member"}
        return self._member_obj(chat, user_id)

    def _m_get_chat_administrators(self, params: JSONDict) -> list[JSONDict]:
        chat = self._resolve_chat(params.get("chat_id"))
        if chat["type"] == "private":
            raise _bad("there are no administrators in the private chat")
        members = self._members.get(chat["id"], {})
        admins = sorted(
            (uid for uid, s in members.items() if s in ("creator", "administrator")),
            key=lambda uid: members[uid] != "creator",
        )
        return [self._member_obj(chat, uid) for uid in admins]

    def _m_get_chat_member_count(self, params: JSONDict) -> int:
        chat = self._resolve_chat(params.get("chat_id"))
        if chat["type"] == "private":
            return 2
        members = self._members.get(chat["id"], {})
        count = sum(1 for s in members.values() if s not in ("left", "kicked"))
        return count + (self.bot_user["id"] not in members)

    def _m_send_chat_action(self, params: JSONDict) -> bool:
        chat = self._writable_chat(params.get("chat_id"))
        action = params.get("action")
        if action not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        self.chat_actions.append((chat["id"], action))
        return True

    # -- messages

    def _format(
        self, params: JSONDict, text_key: str, entities_key: str, limit: int, too_long: str
    ) -> tuple[str, list[JSONDict]]:
        raw = params.get(text_key)
        if raw is None:
            raw = ""
        if not isinstance(raw, str):
            raw = str(raw)
        explicit = params.get(entities_key)
        if explicit is not None and not isinstance(explicit, list):
            raise _bad(f"can't parse entities JSON object in {entities_key}")
        try:
            text, entities = parse_formatted_text(raw, params.get("parse_mode"), explicit)
        except EntityParseError as exc:
            raise _bad(f"can't parse entities: {exc}") from None
        if utf16_len(text) > limit:
            raise _bad(too_long)
        return text, entities

    def _split_markup(self, markup: Any) -> tuple[JSONDict | None, JSONDict | None]:
        """Validate reply_markup; return (inline keyboard to store, other keyboard)."""
        if markup is None or markup == "":
            return None, None
        if not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" not in markup:
            return None, markup
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise _bad('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays')
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not button.get("text"):
                    raise _bad("can't parse inline keyboard button: Text must be non-empty")
                kinds = [k for k in _BUTTON_KINDS if k in button]
                if not kinds:
                    raise _bad("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
                if "callback_data" in button:
                    size = len(str(button["callback_data"]).encode("utf-8"))
                    if not 1 <= size <= 64:
                        raise _bad("BUTTON_DATA_INVALID")
                if "url" in button and not re.match(r"(https?|tg)://\S+$", str(button["url"])):
                    raise _bad(f"inline keyboard button URL '{button['url']}' is invalid: Wrong HTTP URL")
        if not any(rows):
            return None, None
        return copy.deepcopy(markup), None

    def _new_bot_message(self, chat: JSONDict, params: JSONDict) -> JSONDict:
        """Common part of every bot-sent message; validates replies before storing."""
        chat_id = chat["id"]
        reply_ref = params.get("reply_parameters")
        if reply_ref is None and params.get("reply_to_message_id") is not None:
            reply_ref = {
                "message_id": params["reply_to_message_id"],
                "allow_sending_without_reply": params.get("allow_sending_without_reply", False),
            }
        replied: JSONDict | None = None
        quote: JSONDict | None = None
        if reply_ref is not None:
            if not isinstance(reply_ref, dict) or "message_id" not in reply_ref:
                raise _bad("can't parse reply parameters JSON object")
            ref_chat = chat_id
            if reply_ref.get("chat_id") is not None:
                ref_chat = self._resolve_chat(reply_ref["chat_id"])["id"]
            replied = self._messages.get(ref_chat, {}).get(int(reply_ref["message_id"]))
            if replied is None and not reply_ref.get("allow_sending_without_reply"):
                raise _bad("message to be replied not found")
            if replied is not None and reply_ref.get("quote"):
                source = replied.get("text", replied.get("caption", ""))
                position = source.find(reply_ref["quote"])
                if position < 0:
                    raise _bad("QUOTE_TEXT_INVALID")
                quote = {
                    "text": reply_ref["quote"],
                    "position": utf16_len(source[:position]),
                    "is_manual": True,
                }
        msg: JSONDict = {"message_id": 0}
        if chat["type"] == "channel":
            msg["sender_chat"] = dict(chat)
        else:
            msg["from"] = dict(self._bot_from)
        msg["chat"] = dict(chat)
        msg["date"] = _now()
        thread = params.get("message_thread_id")
        if thread is not None:
            msg["message_thread_id"] = int(thread)
            if chat.get("is_forum"):
                msg["is_topic_message"] = True
        if replied is not None:
            msg["reply_to_message"] = self._reply_copy(replied)
        if quote:
            msg["quote"] = quote
        if params.get("protect_content"):
            msg["has_protected_content"] = True
        return msg

    def _store_bot_message(self, chat: JSONDict, msg: JSONDict, params: JSONDict, markup: Any) -> JSONDict:
        inline_markup, other_markup = self._split_markup(markup)
        if params.get("link_preview_options") is not None:
            msg["link_preview_options"] = params["link_preview_options"]
        if inline_markup:
            msg["reply_markup"] = inline_markup
        if other_markup is not None:
            self.reply_keyboards[chat["id"]] = other_markup
        msg["message_id"] = self._next_message_id(chat["id"])
        self._messages.setdefault(chat["id"], {})[msg["message_id"]] = msg
        self._bot_message_order.append((chat["id"], msg["message_id"]))
        return copy.deepcopy(msg)

    def _m_send_message(self, params: JSONDict) -> JSONDict:
        chat = self._writable_chat(params.get("chat_id"))
        text, entities = self._format(params, "text", "entities", 4096, "message is too long")
        if not text:
            raise _bad("message text is empty")
        self._split_markup(params.get("reply_markup"))  # validate before building
        msg = self._new_bot_message(chat, params)
        msg["text"] = text
        if entities:
            msg["entities"] = entities
        return self._store_bot_message(chat, msg, params, params.get("reply_markup"))

    def _media_input(self, params: JSONDict, key: str) -> bytes:
        value = params.get(key)
        if isinstance(value, UploadedFile):
            return value.data
        if isinstance(value, str) and value.startswith("attach://"):
            attached = params.get(value[len("attach://") :])
            if isinstance(attached, UploadedFile):
                return attached.data
        if isinstance(value, str) and value in self._files:
            return self._files[value].data
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            return b""
        raise _bad(f"there is no {key} in the request" if value is None else "wrong file identifier/HTTP URL specified")

    def _captioned(self, params: JSONDict, chat: JSONDict, content: JSONDict) -> JSONDict:
        caption, entities = self._format(params, "caption", "caption_entities", 1024, "message caption is too long")
        self._split_markup(params.get("reply_markup"))
        msg = self._new_bot_message(chat, params)
        msg.update(content)
        if caption:
            msg["caption"] = caption
            if entities:
                msg["caption_entities"] = entities
        return self._store_bot_message(chat, msg, params, params.get("reply_markup"))

    def _m_send_photo(self, params: JSONDict) -> JSONDict:
        chat = self._writable_chat(params.get("chat_id"))
        data = self._media_input(params, "photo")
        return self._captioned(params, chat, {"photo": self._photo_sizes(data)})

    def _m_send_document(self, params: JSONDict) -> JSONDict:
        chat = self._writable_chat(params.get("chat_id"))
        data = self._media_input(params, "document")
        upload = params.get("document")
        file_name = upload.filename if isinstance(upload, UploadedFile) else None
        stored = self._store_file(data, "documents", "bin")
        document: JSONDict = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(data),
        }
        if file_name:
            document["file_name"] = file_name
        return self._captioned(params, chat, {"document": document})

    def _editable(self, params: JSONDict) -> JSONDict | None:
        """The stored message an edit targets, or ``None`` for inline messages."""
        if params.get("inline_message_id"):
            return None
        chat = self._resolve_chat(params.get("chat_id"))
        try:
            message_id = int(params.get("message_id"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise _bad("message identifier is not specified") from None
        msg = self._messages.get(chat["id"], {}).get(message_id)
        if msg is None:
            raise _bad("message to edit not found")
        if msg.get("from", {}).get("id") != self.bot_user["id"] and "sender_chat" not in msg:
            raise _bad("message can't be edited")
        return msg

    @staticmethod
    def _not_modified() -> ApiError:
        return _bad(
            "message is not modified: specified new message content and reply markup "
            "are exactly the same as a current content and reply markup of the message"
        )

    def _apply_edit(
        self,
        msg: JSONDict,
        key: str,
        entities_key: str,
        value: str,
        entities: list[JSONDict],
        markup: JSONDict | None,
        params: JSONDict,
    ) -> JSONDict:
        if msg.get(key, "") == value and msg.get(entities_key, []) == entities and msg.get("reply_markup") == markup:
            raise self._not_modified()
        msg[key] = value
        msg.pop(entities_key, None)
        if entities:
            msg[entities_key] = entities
        msg.pop("reply_markup", None)
        if markup:
            msg["reply_markup"] = markup
        if params.get("link_preview_options") is not None:
            msg["link_preview_options"] = params["link_preview_options"]
        msg["edit_date"] = _now()
        return copy.deepcopy(msg)

    def _m_edit_message_text(self, params: JSONDict) -> JSONDict | bool:
        text, entities = self._format(params, "text", "entities", 4096, "message is too long")
        if not text:
            raise _bad("message text is empty")
        markup, _ = self._split_markup(params.get("reply_markup"))
        msg = self._editable(params)
        if msg is None:
            self.inline_edits.append(dict(params))
            return True
        if "text" not in msg:
            raise _bad("there is no text in the message to edit")
        return self._apply_edit(msg, "text", "entities", text, entities, markup, params)

    def _m_edit_message_caption(self, params: JSONDict) -> JSONDict | bool:
        caption, entities = self._format(params, "caption", "caption_entities", 1024, "message caption is too long")
        markup, _ = self._split_markup(params.get("reply_markup"))
        msg = self._editable(params)
        if msg is None:
            self.inline_edits.append(dict(params))
            return True
        if "text" in msg:
            raise _bad("there is no caption in the message to edit")
        return self._apply_edit(msg, "caption", "caption_entities", caption, entities, markup, params)

    def _m_edit_message_reply_markup(self, params: JSONDict) -> JSONDict | bool:
        markup, _ = self._split_markup(params.get("reply_markup"))
        msg = self._editable(params)
        if msg is None:
            self.inline_edits.append(dict(params))
            return True
        if msg.get("reply_markup") == markup:
            raise self._not_modified()
        msg.pop("reply_markup", None)
        if markup:
            msg["reply_markup"] = markup
        msg["edit_date"] = _now()
        return copy.deepcopy(msg)

    def _m_delete_message(self, params: JSONDict) -> bool:
        chat = self._resolve_chat(params.get("chat_id"))
        try:
            message_id = int(params.get("message_id"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise _bad("message identifier is not specified") from None
        if self._messages.get(chat["id"], {}).pop(message_id, None) is None:
            raise _bad("message to delete not found")
        self.deleted_messages.append((chat["id"], message_id))
        return True

    def _m_delete_messages(self, params: JSONDict) -> bool:
        chat = self._resolve_chat(params.get("chat_id"))
        for message_id in params.get("message_ids") or []:
            if self._messages.get(chat["id"], {}).pop(int(message_id), None) is not None:
                self.deleted_messages.append((chat["id"], int(message_id)))
        return True

    # -- queries

    _QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"

    def _m_answer_callback_query(self, params: JSONDict) -> bool:
        query_id = str(params.get("callback_query_id", ""))
        if self._callback_queries.get(query_id, True):
            raise _bad(self._QUERY_TOO_OLD)
        if len(str(params.get("text") or "")) > 200:
            raise _bad("MESSAGE_TOO_LONG")
        self._callback_queries[query_id] = True
        self.callback_answers.append(dict(params))
        return True

    def _m_answer_inline_query(self, params: JSONDict) -> bool:
        query_id = str(params.get("inline_query_id", ""))
        if self._inline_queries.get(query_id, True):
            raise _bad(self._QUERY_TOO_OLD)
        results = params.get("results")
        if not isinstance(results, list):
            raise _bad("can't parse inline query results JSON object")
        if len(results) > 50:
            raise _bad("RESULTS_TOO_MUCH")
        seen: set[str] = set()
        for result in results:
            if not isinstance(result, dict) or "type" not in result or "id" not in result:
                raise _bad("can't parse InlineQueryResult JSON object")
            result_id = str(result["id"])
            if not 1 <= len(result_id.encode()) <= 64:
                raise _bad("RESULT_ID_INVALID")
            if result_id in seen:
                raise _bad("RESULT_ID_DUPLICATE")
            seen.add(result_id)
        self._inline_queries[query_id] = True
        self.inline_answers.append(dict(params))
        return True

    # -- bot settings

    def _scope_key(self, scope: Any) -> str:
        if scope is None or scope == "":
            return "default"
        if not isinstance(scope, dict) or "type" not in scope:
            raise _bad("can't parse BotCommandScope JSON object")
        kind = scope["type"]
        if kind in ("default", "all_private_chats", "all_group_chats", "all_chat_administrators"):
            return kind
        if kind not in ("chat", "chat_administrators", "chat_member"):
            raise _bad("wrong bot command scope type specified")
        chat_id = self._resolve_chat(scope.get("chat_id"))["id"]
        if kind == "chat_member":
            return f"{kind}:{chat_id}:{int(scope.get('user_id', 0))}"
        return f"{kind}:{chat_id}"

    def _m_set_my_commands(self, params: JSONDict) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad("can't parse commands JSON object")
        if len(commands) > 100:
            raise _bad("too many commands specified")
        for command in commands:
            if not isinstance(command, dict):
                raise _bad("can't parse BotCommand JSON object")
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(command.get("command", ""))):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
        key = (self._scope_key(params.get("scope")), params.get("language_code") or "")
        cleaned = [{"command": c["command"], "description": c["description"]} for c in commands]
        if cleaned:
            self.commands[key] = cleaned
        else:
            self.commands.pop(key, None)
        return True

    def _m_get_my_commands(self, params: JSONDict) -> list[JSONDict]:
        key = (self._scope_key(params.get("scope")), params.get("language_code") or "")
        return copy.deepcopy(self.commands.get(key, []))

    def _m_delete_my_commands(self, params: JSONDict) -> bool:
        key = (self._scope_key(params.get("scope")), params.get("language_code") or "")
        self.commands.pop(key, None)
        return True

    def _set_text_setting(self, params: JSONDict, field: str) -> bool:
        value = str(params.get(field) or "")
        key = (field, params.get("language_code") or "")
        if value:
            self.descriptions[key] = value
        else:
            self.descriptions.pop(key, None)
        return True

    def _get_text_setting(self, params: JSONDict, field: str) -> JSONDict:
        language = params.get("language_code") or ""
        value = self.descriptions.get((field, language), self.descriptions.get((field, ""), ""))
        if field == "name" and not value:
            value = self.bot_user["first_name"]
        return {field: value}

    def _m_get_file(self, params: JSONDict) -> JSONDict:
        stored = self._files.get(str(params.get("file_id", "")))
        if stored is None:
            raise _bad("invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
            "file_path": stored.file_path,
        }
