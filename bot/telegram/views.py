"""What the bot says: Chinese copy and HTML builders, pure functions over the engine's data.

Everything that comes from users or from the corpus is escaped here; the answer card and
the article pages come from `bot.render` (which escapes its own input).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from telegram.helpers import create_deep_linked_url

from ..article import Article
from ..library import Facts
from ..question import MAX_QUESTION_CHARS
from ..render import EMPTY_TEXT, GREETING_TEXT, TELEGRAM_LIMIT, answer_html, article_pages, meta_line
from ..reply import Listing
from ..results import Answer, Snippet, Status

LIST_PAGE = 8  # articles per page of a district list
ECHO_CHARS = 40  # how much of a question we quote back when we cannot answer it

# (command, description) per command menu; descriptions show in Telegram's "/" menu.
PRIVATE_COMMANDS: list[tuple[str, str]] = [
    ("start", "开始使用"),
    ("help", "使用说明"),
    ("ask", "提问，例如 /ask 清华附中什么时候投入使用"),
    ("latest", "最新新闻，例如 /latest 10"),
    ("districts", "按区县浏览"),
    ("district", "某个区县的新闻，例如 /district 二七区"),
    ("read", "阅读全文：/read 文章编号"),
    ("about", "资料来源与说明"),
]
GROUP_COMMANDS: list[tuple[str, str]] = [
    ("ask", "向新闻助手提问，例如 /ask 清华附中什么时候投入使用"),
    ("latest", "最新新闻"),
    ("district", "某个区县的新闻，例如 /district 二七区"),
    ("districts", "按区县浏览"),
    ("help", "使用说明"),
]

FLOOD_NOTICE = "你发得有点快，请稍后再试。"
ERROR_NOTICE = "抱歉，出了点问题，没能处理这条消息。请稍后再试。"
MEDIA_HINT = "我只能看懂文字问题。请用文字提问，比如「清华附中什么时候投入使用？」，或发送 /help 查看用法。"
UNKNOWN_COMMAND = "我不认识这个命令。发送 /help 查看我能做什么。"
ASK_USAGE_PRIVATE = "请在 /ask 后面写上问题，例如：/ask 清华附中什么时候投入使用\n也可以直接把问题发给我。"
ASK_PROMPT_GROUP = "请回复这条消息，写下你想问的问题。"
ASK_PLACEHOLDER = "例如：清华附中什么时候投入使用"
MENTION_HINT = "有什么想问的？在 @{username} 后面写上问题，或者用 /ask 问题。"
READ_USAGE = "请在 /read 后面写上文章编号，例如 /read {example}。\n也可以发送 /latest 或 /districts，点按钮阅读全文。"
ARTICLE_GONE = "这篇文章已不在资料库中了。"
STALE_BUTTON = "这条消息太旧了，请重新发送命令。"
FEEDBACK_THANKS = {True: "谢谢！很高兴有帮助。", False: "谢谢反馈，我们会改进。"}
GROUP_COOLDOWN = "你刚问过，请 {seconds} 秒后再问，也可以私聊我。"
GROUP_BUSY = "本群消息有点多，请 {seconds} 秒后再试，也可以私聊我。"
ALREADY_POSTED = "刚刚已发过，往上翻翻就能看到。"
LONG_QUESTION = "（问题较长，只按前 {n} 个字回答。）"
INLINE_NOTHING = "没有找到相关新闻 · 查看用法"
NO_NEWS_IN_DISTRICT = "暂时没有{district}的新闻。"


def esc(text: object) -> str:
    return html.escape(str(text), quote=False)


def short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def article_link(article: Article, bot_username: str | None) -> str | None:
    """Where a card or list links an article: its own page, else a deep link that opens it here.

    Links into the bot are the front end's business, so they are built here and not by the engine.
    None when there is neither (no page, bot name unknown): the caller offers /read <id> instead.
    """
    if article.url:
        return article.url
    if not bot_username:
        return None
    try:
        return create_deep_linked_url(bot_username.lstrip("@"), article.id)
    except ValueError:  # an id a deep link cannot carry
        return None


# ------------------------------------------------------------------ greetings and help


def welcome_html(first_name: str | None, articles: int) -> str:
    who = f"{esc(first_name)}，" if first_name else ""
    return (
        f"你好{who}我是<b>郑州区县新闻助手</b>。\n\n"
        f"我读过 {articles} 篇郑州各区县的新闻报道，可以回答关于它们的问题。直接把问题发给我，比如：\n"
        "• 清华附中什么时候投入使用？\n"
        "• 金水区的科技资金惠及多少家企业？\n\n"
        "也可以发送 /latest 看最新新闻，/districts 按区县浏览，/help 查看全部用法。"
    )


def help_html(username: str | None) -> str:
    lines = [
        "<b>怎么用</b>",
        "直接发问题给我，我会从新闻原文里找答案，并标出相关的句子。答案下面的按钮可以看全文、"
        "看更多结果，或者告诉我答得好不好。",
        "",
        "<b>命令</b>",
    ]
    lines += [f"/{name} — {esc(description)}" for name, description in PRIVATE_COMMANDS]
    lines += [
        "",
        "<b>在群里</b>",
        "把我拉进群后，用 /ask 问题、回复我的消息，或者 @ 我提问；其他聊天我不会打扰。",
    ]
    if username:
        lines += [
            "",
            "<b>在任意聊天里</b>",
            f"输入 @{esc(username)} 加关键词（例如 @{esc(username)} 清华附中），就能把新闻卡片发到当前聊天。",
        ]
    lines += ["", "找不到答案时我会直说，不会编造。"]
    return "\n".join(lines)


def group_welcome_html(username: str | None) -> str:
    mention = f"@{esc(username)} " if username else ""
    return (
        "大家好，我是<b>郑州区县新闻助手</b>，可以回答关于郑州各区县新闻的问题。\n"
        f"在群里用 /ask 问题 提问，或者 {mention}加问题、回复我的消息；其他聊天我不会打扰。\n"
        "例如：/ask 清华附中什么时候投入使用"
    )


def about_html(facts: Facts, districts: int) -> str:
    lines = [
        "<b>郑州区县新闻助手</b>",
        "",
        f"资料库：{facts.articles} 篇新闻（其中图片新闻 {facts.captions} 条），来自 {facts.sources} 份郑州各区县报纸版面和稿件，"
        f"涉及 {districts} 个区县。",
    ]
    if facts.first_date and facts.last_date:
        lines.append(f"报道日期：{esc(facts.first_date)} 至 {esc(facts.last_date)}")
    lines += [
        "",
        "回答全部取自这些报道的原文，并附出处；资料库里没有的事，我会说没有找到。",
        "为了改进回答，我会匿名记录问题和 👍/👎 反馈，不记录你的账号或名字。",
    ]
    return "\n".join(lines)


def greeting_html() -> str:
    return esc(GREETING_TEXT)


def empty_html() -> str:
    return esc(EMPTY_TEXT)


# ------------------------------------------------------------------ answers


def answer_message(answer: Answer, link: str | None, *, truncated: bool = False) -> str:
    """The reply to a question: the answer card, or a kind explanation when there is none."""
    if answer.found:
        text = answer_html(answer, link)
        if truncated:
            text += "\n\n<i>" + esc(LONG_QUESTION.format(n=MAX_QUESTION_CHARS)) + "</i>"
        return text
    return abstain_html(answer.question)


def abstain_html(question: str) -> str:
    echo = short(question, ECHO_CHARS)
    return (
        f"抱歉，没有找到与「{esc(echo)}」相关的新闻。\n\n"
        "我只知道资料库里郑州各区县的新闻。可以换个说法，带上区县或地名试试，比如「二七区 老旧小区改造」；"
        "也可以发送 /latest 看最新新闻，或 /districts 按区县浏览。"
    )


def card_for_article(article: Article, link: str | None, question: str = "") -> str:
    """An answer-style card for an article found without a question (inline results, lists)."""
    lead = article.paragraphs[0] if article.paragraphs else ""
    card = Answer(question, Status.ANSWER, article=article, snippet=Snippet(short(lead, 150), ()))
    return answer_html(card, link)


def lead_text(article: Article, limit: int = 120) -> str:
    return short(article.paragraphs[0] if article.paragraphs else article.headline, limit)


# ------------------------------------------------------------------ articles and lists


@dataclass(frozen=True)
class Page:
    text: str
    number: int  # 0-based, clamped into range
    total: int


def article_page(article: Article, number: int) -> Page:
    pages = article_pages(article) or [f"<b>{esc(article.title)}</b>"]
    number = min(max(number, 0), len(pages) - 1)
    text = pages[number]
    if len(pages) > 1:
        footer = f"\n\n<i>第 {number + 1}/{len(pages)} 页</i>"
        if len(text) + len(footer) <= TELEGRAM_LIMIT:
            text += footer
    return Page(text, number, len(pages))


def _article_line(number: int, article: Article) -> str:
    meta = meta_line(article)
    suffix = f" <i>{esc(meta)}</i>" if meta else ""
    return f"{number}. {esc(short(article.headline, 60))}{suffix}"


def latest_html(articles: Sequence[Article], total: int) -> str:
    if not articles:
        return "资料库里还没有新闻。"
    lines = [f"<b>最新 {len(articles)} 篇新闻</b>（共 {total} 篇）", ""]
    lines += [_article_line(i, a) for i, a in enumerate(articles, 1)]
    lines += ["", "点下面的按钮阅读全文。"]
    return "\n".join(lines)


def districts_html(counts: Sequence[tuple[str, int]]) -> str:
    if not counts:
        return "资料库里还没有标明区县的新闻。"
    total = sum(n for _, n in counts)
    return (
        f"<b>按区县浏览</b>\n{len(counts)} 个区县共有 {total} 篇相关报道（一篇可能涉及几个区县）。"
        "\n点一个区县查看它的新闻，或发送 /district 名称。"
    )


def district_page(listing: Listing, number: int) -> tuple[Page, list[Article]]:
    """Page `number` of a district's or a topic's list, and the articles on it (for their buttons)."""
    total = max(1, -(-listing.total // LIST_PAGE))
    number = min(max(number, 0), total - 1)
    chunk = listing.page(number * LIST_PAGE, LIST_PAGE)
    when = esc(listing.when or "")
    if listing.topic is not None:
        within = f"<b>{esc(listing.district)}</b>" if listing.district else ""
        head = f"{when}{within}关于「<b>{esc(short(listing.topic, ECHO_CHARS))}</b>」的新闻（{listing.total} 篇）"
    else:
        head = f"{when}<b>{esc(listing.district or '')}</b>的新闻（{listing.total} 篇）"
    lines = [head, ""]
    lines += [_article_line(number * LIST_PAGE + i, a) for i, a in enumerate(chunk, 1)]
    if total > 1:
        lines += ["", f"<i>第 {number + 1}/{total} 页</i>"]
    return Page("\n".join(lines), number, total), chunk


def no_news_when_html(when: str) -> str:
    return f"资料库里没有{esc(short(when, ECHO_CHARS))}的新闻。可以看看最新新闻，或按区县浏览。"


def no_topic_html(topic: str, district: str | None) -> str:
    where = esc(district) if district else ""
    return f"没有找到{where}关于「{esc(short(topic, ECHO_CHARS))}」的新闻。可以换个说法，或看看最新新闻、按区县浏览。"


def no_news_html(district: str, counts: Sequence[tuple[str, int]]) -> str:
    """A district without news: say so, and name the districts that have some (the buttons)."""
    text = NO_NEWS_IN_DISTRICT.format(district=esc(district))
    return text + ("点下面有新闻的区县看看。" if counts else "")


def unknown_district_html(name: str) -> str:
    return f"没有找到叫「{esc(short(name, ECHO_CHARS))}」的区县。点下面的区县看看，或者换个写法试试。"


def unknown_article_html(article_id: str) -> str:
    return f"没有找到编号为「{esc(short(article_id, ECHO_CHARS))}」的文章。发送 /latest 可以看到最新文章。"
