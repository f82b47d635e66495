"""Follow-ups through the real Application and the Bot API emulator: a message that leans on the
last answer is answered about the same article — in a private chat, and in a group's reply thread."""

from __future__ import annotations

import pytest

from .test_telegram_e2e import GROUP, HEADLINE, QUESTION, Harness, bot, engine  # noqa: F401 - fixtures

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]


async def test_a_follow_up_in_a_private_chat_is_about_the_same_article(bot: Harness) -> None:  # noqa: F811
    user, chat = bot.private()
    first = await bot.say(chat, user, QUESTION)
    assert HEADLINE in first["text"]
    follow = await bot.say(chat, user, "它能容纳多少学生")
    assert HEADLINE in follow["text"] and "6000名学生" in follow["text"]
    where = await bot.say(chat, user, "那在哪")
    assert HEADLINE in where["text"] and "位于" in where["text"]
    fresh = await bot.say(chat, user, "金水区科技资金惠及多少家企业")  # a new subject starts afresh
    assert HEADLINE not in fresh["text"] and "5000万科技资金" in fresh["text"]


async def test_a_reply_to_the_card_in_a_group_continues_that_card(bot: Harness) -> None:  # noqa: F811
    emu = bot.emu
    group = emu.group_chat(GROUP, "郑东新区居民群")
    alice, bob = bot.user(1, "Alice"), bot.user(2, "Bob")
    card = await bot.say(group, alice, f"/ask {QUESTION}")
    other = await bot.say(group, alice, "/ask 金水区科技资金惠及多少家企业")  # the chat's latest answer
    assert "5000万科技资金" in other["text"]
    follow = await bot.say(group, bob, "它能容纳多少学生", reply_to_message_id=card["message_id"])
    assert HEADLINE in follow["text"] and "6000名学生" in follow["text"]  # the card replied to, not the latest
    again = await bot.say(group, bob, "还有呢", reply_to_message_id=follow["message_id"])
    assert HEADLINE in again["text"] and again["text"] != follow["text"]  # the thread goes on


async def test_a_time_limited_list_is_paged_with_buttons(bot: Harness) -> None:  # noqa: F811
    from .test_telegram_e2e import data_of

    user, chat = bot.private()
    first = await bot.say(chat, user, "2020年的新闻")
    assert "2020年的新闻" in first["text"] and "第 1/2 页" in first["text"]
    assert data_of(first, "w:") == ["w:2020年:1"]
    second = await bot.press(chat, user, first, "w:2020年:1", wait_for="editMessageText")
    assert "第 2/2 页" in second["text"] and "2020年的新闻" in second["text"]
