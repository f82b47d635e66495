"""The terminal chat: the same library and intent layer as the Telegram bot, on any machine."""

from __future__ import annotations

import sys
from typing import TextIO

from .library import Conversation, Library
from .render import reply_plain

BANNER = """郑州区县新闻助手（终端版）— {n} 篇新闻
直接输入问题，例如：清华附中什么时候投入使用？
命令：/latest 最新新闻 · /districts 按区县浏览 · /read 编号 看全文 · /help 用法 · quit 退出
（设置 TELEGRAM_BOT_TOKEN 后，同一命令会启动 Telegram 机器人。）"""
QUIT = {"quit", "exit", "q", "退出", "/quit", "/exit"}


def run_chat(library: Library, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    ansi = stdout.isatty()
    interactive = stdin.isatty()
    conversation = Conversation()
    library.warm_views()  # the lists' views, while the resident types
    print(BANNER.format(n=len(library.articles)), file=stdout)
    while True:
        if interactive:
            stdout.write("\n问> ")
            stdout.flush()
        line = stdin.readline()
        if not line:
            return 0
        line = line.strip()
        if not line:
            continue
        if line.lower() in QUIT:
            return 0
        print(reply_plain(library.ask(line, conversation), ansi=ansi), file=stdout)
        stdout.flush()
