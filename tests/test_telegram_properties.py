"""Property: whatever a user sends, the bot sends nothing Telegram would refuse, and nothing raises.

Hypothesis drives the real Application (handlers, views, keyboards, sending) against the Bot API
emulator, which refuses what Telegram refuses: text over 4096 characters after entity parsing,
HTML it cannot parse, callback answers over 200 characters, bad inline results. One bot serves
all the examples of a test; each example writes as a new user in a new private chat (so the
flood guard and subscription limits of one example do not shape the next), then waits until the
update went through every handler group and the emulator is quiet. After each example: every
call the bot made was accepted (Telegram's "message is not modified" to an unchanged edit is the
one refusal the bot expects and ignores), every inline result's text parses and fits, and no
error handler fired.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telegram import Update
from telegram.ext import ContextTypes, TypeHandler

from bot.library import Library

from .botapi_emulator import EntityParseError, parse_formatted_text, utf16_len
from .test_telegram_e2e import Harness, running_bot

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]

EXAMPLES = settings(
    max_examples=80,
    deadline=None,
    # one bot for all examples on purpose (starting one per example would take minutes)
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
CHECKED = ("sendMessage", "editMessageText", "editMessageReplyMarkup", "answerCallbackQuery", "answerInlineQuery")
QUESTION = "清华附中什么时候投入使用"


@dataclass
class Driver:
    bot: Harness
    card: dict  # an answer card with buttons, for button presses
    errors: list[BaseException] = field(default_factory=list)
    processed: int = 0
    users: itertools.count = field(default_factory=lambda: itertools.count(700_000))

    def new_user(self) -> tuple[dict, dict]:
        uid = next(self.users)
        user = self.bot.emu.user(uid, f"用户{uid}")
        return user, self.bot.emu.private_chat(user)

    async def through(self, send: object) -> list:
        """Run one input (`send()` enqueues it) through the bot; the calls it caused."""
        emu = self.bot.emu
        mark, before, errors = emu.mark(), self.processed, len(self.errors)
        assert callable(send)
        send()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        while self.processed == before:
            assert loop.time() < deadline, "the update was never processed\n" + emu.describe_recent()
            await asyncio.sleep(0.005)
        await emu.wait_idle(timeout=20, quiet=0.03)
        assert self.errors[errors:] == [], f"an error handler fired: {self.errors[errors:]!r}"
        calls = [c for c in emu.calls[mark:] if c.method in CHECKED]
        for call in calls:
            refused = call.status != 200
            if refused and "message is not modified" in str(call.response.get("description", "")):
                continue
            assert not refused, f"{call.method} refused ({call.status}): {call.response} for {call.params!r:.300}"
        for call in calls:
            if call.method == "answerInlineQuery":
                check_inline_results(call.params)
        return calls


def check_inline_results(params: dict) -> None:
    for result in params.get("results") or []:
        content = result.get("input_message_content") or {}
        try:
            text, _ = parse_formatted_text(content.get("message_text", ""), content.get("parse_mode"))
        except EntityParseError as exc:  # Telegram refuses the result when it is chosen
            raise AssertionError(f"inline result {result.get('id')}: {exc}") from exc
        assert 0 < utf16_len(text) <= 4096
        assert len(result.get("title", "")) > 0 and len(result.get("description", "")) <= 1024


@pytest_asyncio.fixture
async def driver(library: Library) -> AsyncIterator[Driver]:
    async with running_bot(library) as bot:
        user, chat = bot.private(4242)
        card = await bot.say(chat, user, QUESTION)
        assert card.get("reply_markup"), "the card has buttons to press"
        driven = Driver(bot, card)

        async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
            driven.errors.append(context.error or RuntimeError("error handler without an error"))

        async def done(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
            driven.processed += 1

        bot.app.add_error_handler(on_error)
        bot.app.add_handler(TypeHandler(Update, done), group=99)  # after every other group
        yield driven


# ---------------------------------------------------------------- what users send

# Any character a client can send (no lone surrogates), with the troublesome ones more often.
_TRICKY = st.sampled_from(
    [
        *["<", ">", "&", "&amp;", "<b>", "</i>", '"', "\u200b", "\u2060", "\ufeff", "\u00ad", "\u202e", "😀"],
        *["👨\u200d👩\u200d👧", "\n", " ", "\u3000", "/", "@", "#", "_", "*", "`", "a" * 40],
        *["二七区", "樱桃沟", "清华附中", "郑东", "erqi"],
    ]
)
_CHARS = st.characters(blacklist_categories=("Cs",))
_PIECES = st.lists(st.one_of(_TRICKY, st.text(_CHARS, min_size=1, max_size=30)), max_size=40).map("".join)
_LONG = st.builds(lambda piece, n: (piece * n)[:4096], st.text(_CHARS, min_size=1, max_size=12), st.integers(1, 4096))
TEXT = st.one_of(_PIECES, _LONG).filter(lambda t: t.strip() and utf16_len(t) <= 4096)

COMMANDS = ["start", "help", "ask", "latest", "districts", "district", "read", "about", "subscribe",
            "unsubscribe", "subscriptions", "digest", "reload", "nosuchcommand"]  # fmt: skip


def _fits_a_message(text: str) -> bool:
    return bool(text.strip()) and utf16_len(text) <= 4096


MESSAGE = st.one_of(
    TEXT,
    st.builds(
        lambda c, sep, rest: f"/{c}{sep}{rest}",
        st.sampled_from(COMMANDS),
        st.sampled_from([" ", "\n", "@DistrictNewsBot "]),
        TEXT,
    ),
).filter(_fits_a_message)

_PAYLOAD = st.text(
    st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"), min_size=1, max_size=64
)
START = st.one_of(_PAYLOAD, TEXT).map(lambda p: f"/start {p}").filter(_fits_a_message)


def _to_the_limit(message: str) -> str:
    """`message`, then different one-character words (none of them a topic) up to 4096 characters:
    the most a user can send, all of it to be echoed as not understood."""
    words = (chr(0x4E00 + n) for n in range(4096))
    while len(message) < 4094:
        message += " " + next(words)
    return message


_WORD = st.one_of(_TRICKY, st.text(_CHARS, min_size=1, max_size=40), st.text(_CHARS, min_size=30, max_size=300))
KEYWORDS = st.builds(
    lambda cmd, words, sep, fill: (_to_the_limit if fill else str)(f"/{cmd} " + sep.join(words)),
    st.sampled_from(["subscribe", "unsubscribe"]),
    st.lists(_WORD, min_size=1, max_size=60),
    st.sampled_from([" ", "、", "，", ",", "\n", " \u200b"]),
    st.booleans(),
).filter(_fits_a_message)


def _within_64_bytes(data: str) -> bool:
    return 0 < len(data.encode()) <= 64


_TAIL = st.one_of(st.text(_CHARS, max_size=40), st.integers(-(10**20), 10**20).map(str), st.just("a266052e1124"))
CALLBACK = st.one_of(
    st.text(_CHARS, min_size=1, max_size=64),
    st.builds(
        lambda head, tail: head + tail, st.sampled_from(["r:", "p:", "f:", "f:1:", "m:", "d:", "d:二七区:", "n"]), _TAIL
    ),
    st.sampled_from(["do", "ds", "l", "n", "m:", "r:", "p::", "d::", "f:2:x"]),
).filter(_within_64_bytes)

INLINE = st.one_of(st.text(_CHARS, max_size=256), _PIECES.map(lambda t: t[:256]))


# ---------------------------------------------------------------- the properties


@EXAMPLES
@given(text=MESSAGE)
async def test_any_message_text_gets_replies_telegram_accepts(driver: Driver, text: str) -> None:
    user, chat = driver.new_user()
    calls = await driver.through(lambda: driver.bot.emu.send_text(chat, user, text))
    assert any(c.method == "sendMessage" for c in calls)  # a private chat always gets an answer


@EXAMPLES
@given(text=START)
async def test_any_deep_link_payload_gets_replies_telegram_accepts(driver: Driver, text: str) -> None:
    user, chat = driver.new_user()
    calls = await driver.through(lambda: driver.bot.emu.send_text(chat, user, text))
    assert any(c.method == "sendMessage" for c in calls)


@EXAMPLES
@given(text=KEYWORDS)
async def test_any_subscribe_keywords_get_replies_telegram_accepts(driver: Driver, text: str) -> None:
    user, chat = driver.new_user()
    calls = await driver.through(lambda: driver.bot.emu.send_text(chat, user, text))
    assert any(c.method == "sendMessage" for c in calls)
    for subscription in driver.bot.store.subscriptions(chat["id"]):  # what is stored is visible text
        assert subscription.value.strip() and not any(ch in subscription.value for ch in "\u200b\u2060\ufeff\u00ad")


@EXAMPLES
@given(data=CALLBACK)
async def test_any_callback_data_is_answered_and_nothing_refused(driver: Driver, data: str) -> None:
    user, _ = driver.new_user()
    chat = {"id": driver.card["chat"]["id"], "type": "private"}
    calls = await driver.through(
        lambda: driver.bot.emu.press_button(chat, user, driver.card["message_id"], data, check_markup=False)
    )
    assert [c.method for c in calls].count("answerCallbackQuery") == 1  # the spinner always stops


@EXAMPLES
@given(query=INLINE)
async def test_any_inline_query_is_answered_with_results_telegram_accepts(driver: Driver, query: str) -> None:
    user, _ = driver.new_user()
    calls = await driver.through(lambda: driver.bot.emu.inline_query(user, query))
    assert [c.method for c in calls] == ["answerInlineQuery"]
