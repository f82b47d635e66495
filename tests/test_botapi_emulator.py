"""End-to-end checks that the Bot API emulator is faithful enough for a real PTB v22
``Application`` (long polling over HTTP), so bot tests built on it can be trusted."""

from __future__ import annotations

import asyncio
import datetime as dtm
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InlineQueryResultsButton,
    InputTextMessageContent,
    Message,
    MessageEntity,
    ReplyParameters,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

try:  # works whether or not tests/ is a package / the repo root is on sys.path
    from tests.botapi_emulator import BotApiEmulator, Fault, detect_entities, parse_formatted_text
except ImportError:  # pragma: no cover - depends on pytest's import mode
    if str(Path(__file__).resolve().parent) not in sys.path:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
    from botapi_emulator import BotApiEmulator, Fault, detect_entities, parse_formatted_text

# slow: a real PTB Application and Bot over HTTP against the emulator.
pytestmark = pytest.mark.slow

USER_ID = 4242
GROUP_ID = -1001234567890


# --------------------------------------------------------------------------- handlers


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None and message.text is not None
    await message.reply_text(f"echo: {message.text}", reply_parameters=ReplyParameters(message_id=message.message_id))


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("订阅", callback_data="sub:1")]])
    await message.reply_text(f"<b>欢迎</b> args={context.args}", parse_mode=ParseMode.HTML, reply_markup=keyboard)


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer("已订阅")
    await query.edit_message_text(f"done {query.data}")


async def on_inline(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.inline_query
    assert query is not None
    result = InlineQueryResultArticle(
        id="news-1", title=f"新闻: {query.query}", input_message_content=InputTextMessageContent(query.query)
    )
    await query.answer([result], cache_time=5, button=InlineQueryResultsButton(text="设置", start_parameter="settings"))


# --------------------------------------------------------------------------- fixtures


@pytest_asyncio.fixture
async def emu() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(bot_username="DistrictNewsBot") as emulator:
        yield emulator


@pytest_asyncio.fixture
async def app(emu: BotApiEmulator) -> AsyncIterator[Application]:
    application = ApplicationBuilder().token(emu.token).base_url(emu.base_url).base_file_url(emu.base_file_url).build()
    application.add_handler(CommandHandler("start", start))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    application.add_handler(CallbackQueryHandler(on_button))
    application.add_handler(InlineQueryHandler(on_inline))
    await application.initialize()
    await application.start()
    assert application.updater is not None
    await application.updater.start_polling(poll_interval=0, timeout=1)
    try:
        yield application
    finally:
        await application.updater.stop()
        await application.stop()
        await application.shutdown()


@pytest_asyncio.fixture
async def bot(emu: BotApiEmulator) -> AsyncIterator[Bot]:
    """A bare Bot for driving single API calls without the polling machinery."""
    async with Bot(emu.token, base_url=emu.base_url, base_file_url=emu.base_file_url) as b:
        yield b


def make_user(emu: BotApiEmulator) -> dict:
    return emu.user(USER_ID, "小明", "xiaoming")


# --------------------------------------------------------------------------- Application


@pytest.mark.asyncio
async def test_private_text_is_echoed(emu: BotApiEmulator, app: Application) -> None:
    user = make_user(emu)
    chat = emu.private_chat(user)
    incoming = emu.send_text(chat, user, "金水区 今天有什么新闻？")

    call = await emu.wait_for_call("sendMessage", lambda p: p["chat_id"] == USER_ID)

    assert [c.method for c in emu.calls[:3]] == ["getMe", "deleteWebhook", "getUpdates"]
    assert call.content_type == "application/x-www-form-urlencoded"
    assert call.params["reply_parameters"] == {"message_id": incoming["message_id"]}
    [sent] = emu.sent_messages(USER_ID)
    assert sent["text"] == "echo: 金水区 今天有什么新闻？"
    assert sent["from"]["username"] == "DistrictNewsBot"
    assert sent["message_id"] == incoming["message_id"] + 1
    assert sent["reply_to_message"]["text"] == "金水区 今天有什么新闻？"
    await emu.wait_idle()
    assert emu.pending_updates == []


@pytest.mark.asyncio
async def test_command_is_routed_to_command_handler(emu: BotApiEmulator, app: Application) -> None:
    user = make_user(emu)
    chat = emu.private_chat(user)
    incoming = emu.send_text(chat, user, "/start 二七区")
    assert incoming["entities"] == [{"offset": 0, "length": 6, "type": "bot_command"}]

    await emu.wait_for_call("sendMessage")

    [sent] = emu.sent_messages(USER_ID)
    assert sent["text"] == "欢迎 args=['二七区']"
    assert {"offset": 0, "length": 2, "type": "bold"} in sent["entities"]
    button = sent["reply_markup"]["inline_keyboard"][0][0]
    assert button == {"text": "订阅", "callback_data": "sub:1"}


@pytest.mark.asyncio
async def test_button_press_reaches_callback_handler(emu: BotApiEmulator, app: Application) -> None:
    user = make_user(emu)
    chat = emu.private_chat(user)
    emu.send_text(chat, user, "/start")
    await emu.wait_for_call("sendMessage")
    [menu] = emu.sent_messages(USER_ID)

    query_id = emu.press_button(chat, user, menu["message_id"], "sub:1")

    answer = await emu.wait_for_call("answerCallbackQuery")
    assert answer.params == {"callback_query_id": query_id, "text": "已订阅"}
    assert emu.callback_answers == [answer.params]
    await emu.wait_for_call("editMessageText", ok=True)
    [edited] = emu.sent_messages(USER_ID)
    assert edited["message_id"] == menu["message_id"]
    assert edited["text"] == "done sub:1"
    assert "reply_markup" not in edited  # editMessageText without markup drops the keyboard
    with pytest.raises(AssertionError, match="no button"):
        emu.press_button(chat, user, menu["message_id"], "sub:1")


@pytest.mark.asyncio
async def test_inline_query_is_answered(emu: BotApiEmulator, app: Application) -> None:
    user = make_user(emu)
    query_id = emu.inline_query(user, "郑东新区")

    call = await emu.wait_for_call("answerInlineQuery")

    assert call.params["inline_query_id"] == query_id
    [answer] = emu.inline_answers
    assert answer["cache_time"] == 5
    assert answer["button"] == {"text": "设置", "start_parameter": "settings"}
    [result] = answer["results"]
    assert result["id"] == "news-1"
    assert result["title"] == "新闻: 郑东新区"
    assert result["input_message_content"]["message_text"] == "郑东新区"


@pytest.mark.asyncio
async def test_privacy_mode_filters_group_messages(emu: BotApiEmulator, app: Application) -> None:
    user = make_user(emu)
    group = emu.group_chat(GROUP_ID, "管城区居民群")

    plain = emu.send_text(group, user, "大家好")
    other_bot = emu.send_text(group, user, "/start@SomeOtherBot")
    emu.send_text(group, user, "/start@DistrictNewsBot")
    await emu.wait_for_call("sendMessage", lambda p: p["chat_id"] == GROUP_ID)

    undelivered_ids = [m["message_id"] for reason, m in emu.undelivered if reason == "privacy_mode"]
    assert undelivered_ids == [plain["message_id"], other_bot["message_id"]]

    emu.set_admins(GROUP_ID, [emu.bot_user["id"]], creator=USER_ID)  # admins see everything
    emu.send_text(group, user, "现在能看到吗")
    echo_call = await emu.wait_for_call("sendMessage", count=2)
    assert echo_call[1].params["text"] == "echo: 现在能看到吗"


# --------------------------------------------------------------------------- raw HTTP


@pytest.mark.asyncio
async def test_wrong_token_and_unknown_method(emu: BotApiEmulator) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{emu.base_url}999:WRONG-TOKEN/getMe") as resp:
            assert resp.status == 401
            assert await resp.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
        async with session.post(f"{emu.base_url}{emu.token}/getMe") as resp:
            body = await resp.json()
            assert body["ok"] is True
            assert body["result"]["username"] == "DistrictNewsBot"
            assert body["result"]["can_read_all_group_messages"] is False
        async with session.post(f"{emu.base_url}{emu.token}/sendTelepathy", data={"x": "1"}) as resp:
            assert resp.status == 404
            assert (await resp.json())["description"] == "Not Found: method not found"
    assert emu.unauthorized_calls == [("getMe", "999:WRONG-TOKEN")]
    assert [c.method for c in emu.unknown_calls] == ["sendTelepathy"]

    with pytest.raises(InvalidToken):
        async with Bot("999:WRONG-TOKEN", base_url=emu.base_url):
            pass


@pytest.mark.asyncio
async def test_long_poll_offsets_and_conflict(emu: BotApiEmulator) -> None:
    user = make_user(emu)
    chat = emu.private_chat(user)
    url = f"{emu.base_url}{emu.token}/getUpdates"
    async with aiohttp.ClientSession() as session:

        async def poll(**params: object) -> tuple[int, dict]:
            async with session.post(url, json=params) as resp:
                return resp.status, await resp.json()

        started = time.monotonic()
        waiting = asyncio.create_task(poll(timeout=5))
        await asyncio.sleep(0.05)
        emu.send_text(chat, user, "hello")
        status, body = await waiting
        assert status == 200
        assert time.monotonic() - started < 1.0  # returned as soon as the update was queued
        [update] = body["result"]
        assert update["message"]["text"] == "hello"

        _, again = await poll()  # not confirmed yet: delivered again
        assert again["result"] == body["result"]
        _, confirmed = await poll(offset=update["update_id"] + 1)
        assert confirmed["result"] == []
        assert emu.pending_updates == []

        polls_seen = len(emu.calls_to("getUpdates"))
        older = asyncio.create_task(poll(timeout=5))
        while len(emu.calls_to("getUpdates")) == polls_seen:  # until the server holds it
            await asyncio.sleep(0.005)
        newer = asyncio.create_task(poll(timeout=0.2))
        old_status, old_body = await older
        assert old_status == 409
        assert old_body["description"].startswith("Conflict: terminated by other getUpdates")
        assert (await newer) == (200, {"ok": True, "result": []})


@pytest.mark.asyncio
async def test_json_body_with_nested_objects(emu: BotApiEmulator) -> None:
    user = make_user(emu)
    emu.private_chat(user)
    payload = {
        "chat_id": USER_ID,
        "text": "123",  # must stay a string even though it looks like JSON
        "reply_markup": {"inline_keyboard": [[{"text": "a", "url": "https://example.org"}]]},
    }
    url = f"{emu.base_url}{emu.token}/sendMessage"
    async with aiohttp.ClientSession() as session, session.post(url, json=payload) as resp:
        body = await resp.json()
    assert body["ok"] is True
    assert body["result"]["text"] == "123"
    assert body["result"]["reply_markup"] == payload["reply_markup"]
    assert emu.calls[-1].content_type == "application/json"

    with pytest.raises(AssertionError, match=r"(?s)waiting for 1 call\(s\) of editMessageText.*sendMessage \[200\]"):
        await emu.wait_for_call("editMessageText", timeout=0.05)


# --------------------------------------------------------------------------- bare Bot


async def send_with_retries(bot: Bot, chat_id: int, text: str) -> tuple[Message, list[type]]:
    """What a careful caller does: honour RetryAfter, retry transient network errors."""
    seen: list[type] = []
    for _ in range(5):
        try:
            return await bot.send_message(chat_id, text), seen
        except RetryAfter as exc:
            seen.append(RetryAfter)
            delay = exc.retry_after
            await asyncio.sleep(delay.total_seconds() if isinstance(delay, dtm.timedelta) else delay)
        except NetworkError:
            seen.append(NetworkError)
            await asyncio.sleep(0.01)
    raise AssertionError("gave up")


@pytest.mark.asyncio
@pytest.mark.filterwarnings("ignore:.*retry_after:telegram.warnings.PTBDeprecationWarning")
async def test_retry_after_then_bad_gateway_stores_message_once(emu: BotApiEmulator, bot: Bot) -> None:
    user = make_user(emu)
    emu.private_chat(user)
    emu.fail_next("sendMessage", Fault.retry_after(1), Fault.server_error(502))

    started = time.monotonic()
    message, seen = await send_with_retries(bot, USER_ID, "早上好")

    assert seen == [RetryAfter, NetworkError]
    assert time.monotonic() - started >= 1.0
    assert [c.status for c in emu.calls_to("sendMessage")] == [429, 502, 200]
    assert [c.faulted for c in emu.calls_to("sendMessage")] == [True, True, False]
    assert [m["text"] for m in emu.sent_messages(USER_ID)] == ["早上好"]
    assert message.message_id == emu.sent_messages(USER_ID)[0]["message_id"]
    assert emu.pending_faults("sendMessage") == 0


@pytest.mark.asyncio
async def test_other_faults_map_to_ptb_errors(emu: BotApiEmulator, bot: Bot) -> None:
    user = make_user(emu)
    emu.private_chat(user)
    emu.fail_next(
        "sendMessage",
        Fault.forbidden("Forbidden: bot was blocked by the user"),
        Fault.bad_request("chat not found"),
        Fault.server_error(500),
    )
    with pytest.raises(Forbidden, match="blocked by the user"):
        await bot.send_message(USER_ID, "x")
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(USER_ID, "x")
    with pytest.raises(NetworkError, match="Internal Server Error"):
        await bot.send_message(USER_ID, "x")
    assert emu.sent_messages() == []

    emu.block_bot(USER_ID)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(USER_ID, "x")
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(777, "x")


@pytest.mark.asyncio
async def test_edit_message_text_in_place(emu: BotApiEmulator, bot: Bot) -> None:
    user = make_user(emu)
    emu.private_chat(user)
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("刷新", callback_data="refresh")]])
    sent = await bot.send_message(USER_ID, "版本 1", reply_markup=keyboard)

    edited = await bot.edit_message_text("版本 2", USER_ID, sent.message_id, reply_markup=keyboard)
    assert isinstance(edited, Message)
    assert edited.message_id == sent.message_id
    assert edited.edit_date is not None
    [stored] = emu.sent_messages(USER_ID)
    assert stored["text"] == "版本 2"
    assert stored["reply_markup"] == keyboard.to_dict()

    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text("版本 2", USER_ID, sent.message_id, reply_markup=keyboard)
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", USER_ID, 9999)
    assert await bot.edit_message_text("inline", inline_message_id="AAQ-inline") is True

    await bot.edit_message_reply_markup(USER_ID, sent.message_id, reply_markup=None)
    assert "reply_markup" not in emu.sent_messages(USER_ID)[0]
    assert await bot.delete_message(USER_ID, sent.message_id) is True
    assert emu.sent_messages(USER_ID) == []


@pytest.mark.asyncio
async def test_parse_modes_and_entity_errors(emu: BotApiEmulator, bot: Bot) -> None:
    user = make_user(emu)
    emu.private_chat(user)

    msg = await bot.send_message(USER_ID, "👍🏽<b>惠济区</b> &lt;通知&gt;", parse_mode=ParseMode.HTML)
    assert msg.text == "👍🏽惠济区 <通知>"
    [bold] = msg.entities
    assert (bold.type, bold.offset, bold.length) == (MessageEntity.BOLD, 4, 3)
    assert msg.parse_entity(bold) == "惠济区"

    msg = await bot.send_message(USER_ID, r"*粗* _斜_ 1\.5", parse_mode=ParseMode.MARKDOWN_V2)
    assert msg.text == "粗 斜 1.5"
    assert [e.type for e in msg.entities] == [MessageEntity.BOLD, MessageEntity.ITALIC]

    with pytest.raises(BadRequest, match="Can't parse entities: unsupported start tag"):
        await bot.send_message(USER_ID, "a <foo> b", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match="reserved and must be escaped"):
        await bot.send_message(USER_ID, "版本 1.5", parse_mode=ParseMode.MARKDOWN_V2)
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(USER_ID, "   ")


@pytest.mark.asyncio
async def test_utf16_offsets_through_ptb(emu: BotApiEmulator, bot: Bot) -> None:
    user = make_user(emu)
    chat = emu.private_chat(user)
    text = "👍🏽新闻 /start@DistrictNewsBot 问 @zhang_san #金水区"
    raw = emu.send_text(chat, user, text)

    assert raw["entities"] == [
        {"offset": 7, "length": 22, "type": "bot_command"},
        {"offset": 32, "length": 10, "type": "mention"},
        {"offset": 43, "length": 4, "type": "hashtag"},
    ]
    message = Message.de_json(raw, bot)
    assert list(message.parse_entities().values()) == [
        "/start@DistrictNewsBot",
        "@zhang_san",
        "#金水区",
    ]


@pytest.mark.asyncio
async def test_commands_members_and_files(emu: BotApiEmulator, bot: Bot) -> None:
    user = make_user(emu)
    emu.group_chat(GROUP_ID, "中原区", forum=True)
    emu.set_admins(GROUP_ID, [555], creator=USER_ID)
    emu.user(555, "管理员")
    emu.user(666, "居民")

    scope = BotCommandScopeChat(GROUP_ID)
    assert await bot.set_my_commands([BotCommand("news", "最新新闻")], scope=scope, language_code="zh")
    assert emu.commands_for(f"chat:{GROUP_ID}", "zh") == [{"command": "news", "description": "最新新闻"}]
    assert [c.command for c in await bot.get_my_commands(scope=scope, language_code="zh")] == ["news"]
    assert await bot.get_my_commands() == ()
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Bad-Name", "x")])

    assert (await bot.get_chat_member(GROUP_ID, USER_ID)).status == "creator"
    assert (await bot.get_chat_member(GROUP_ID, 555)).status == "administrator"
    assert (await bot.get_chat_member(GROUP_ID, 666)).status == "left"
    assert [m.user.id for m in await bot.get_chat_administrators(GROUP_ID)] == [USER_ID, 555]
    assert (await bot.get_chat(GROUP_ID)).is_forum is True
    assert await bot.send_chat_action(GROUP_ID, "typing", message_thread_id=3)
    assert emu.chat_actions == [(GROUP_ID, "typing")]

    topic_msg = await bot.send_message(GROUP_ID, "话题", message_thread_id=3)
    assert topic_msg.message_thread_id == 3
    assert topic_msg.is_topic_message is True

    photo = await bot.send_photo(GROUP_ID, b"\x89PNG-bytes", caption="图 #金水区")
    upload_call = emu.calls_to("sendPhoto")[-1]
    assert upload_call.content_type == "multipart/form-data"
    assert photo.caption_entities[0].type == MessageEntity.HASHTAG
    file = await bot.get_file(photo.photo[-1].file_id)
    assert bytes(await file.download_as_bytearray()) == b"\x89PNG-bytes"

    incoming = emu.send_photo(emu.private_chat(user), user, data=b"user-jpeg")
    assert "text" not in incoming
    user_file = await bot.get_file(incoming["photo"][-1]["file_id"])
    assert bytes(await user_file.download_as_bytearray()) == b"user-jpeg"


# --------------------------------------------------------------------------- pure helpers


def test_detect_entities_counts_utf16_units() -> None:
    assert detect_entities("😀 @district_fan") == [{"offset": 3, "length": 13, "type": "mention"}]
    assert detect_entities("a/b /cmd@Bot_x x") == [{"offset": 4, "length": 10, "type": "bot_command"}]
    assert detect_entities("邮件 me@example.com") == []


def test_parse_formatted_text_strips_and_shifts() -> None:
    text, entities = parse_formatted_text("  <i>x</i> 😀 <code>@not_a_mention</code> ", "HTML")
    assert text == "x 😀 @not_a_mention"
    assert entities == [
        {"offset": 0, "length": 1, "type": "italic"},
        {"offset": 5, "length": 14, "type": "code"},
    ]
