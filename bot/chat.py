"""The terminal chat: the same engine as the Telegram bot, for trying it on any machine."""

from __future__ import annotations

import sys

from .answer import Engine
from .render import answer_plain, article_plain

BANNER = """郑州区县新闻助手（终端版）— {n} 篇新闻
直接输入问题，例如：清华附中什么时候投入使用？
命令：read <编号> 看全文 · latest 最新新闻 · quit 退出
（设置 TELEGRAM_BOT_TOKEN 后，同一命令会启动 Telegram 机器人。）"""


def run_chat(engine: Engine, stdin=None, stdout=None) -> int:
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    ansi = stdout.isatty()
    interactive = stdin.isatty()
    print(BANNER.format(n=len(engine.articles)), file=stdout)
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
        if line.lower() in {"quit", "exit", "q", "退出"}:
            return 0
        command, _, rest = line.partition(" ")
        if command.lower() in {"read", "/read"}:
            article = engine.get(rest.strip())
            print(article_plain(article) if article else f"没有编号为 {rest.strip()} 的新闻。", file=stdout)
            continue
        if command.lower() in {"latest", "/latest"}:
            for article in engine.articles[-10:][::-1]:
                print(f"{article.id}  {article.headline}", file=stdout)
            continue
        print(answer_plain(engine.answer(line), ansi=ansi), file=stdout)
        stdout.flush()
