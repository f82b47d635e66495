"""Canned pages of the fetch tests: a GBK Founder e-paper edition, RSS and Atom feeds, a news page."""

from __future__ import annotations

from tests.local_site import Page, Site

NAV = """<table><tr><td><a href="node_1.htm">上一版</a> <a href="node_3.htm">下一版</a>
<a href="/">返回主页</a></td></tr></table>"""
FOOTER = """<div class="footer">版权声明：本网站所刊登的各种新闻、信息均为郑州晚报版权所有，未经协议授权禁止下载使用。</div>"""

ARTICLES = {
    "1001": (
        "二七区",
        "二七区老旧小区改造年底完工",
        "民生实事",
        "涉及12个小区3000余户居民",
        [
            "记者从二七区住建局获悉，今年二七区老旧小区改造项目共涉及12个小区，将于12月底前全部完工。",
            "改造内容包括管网更新、加装电梯和增设充电桩，惠及居民3000余户。",
        ],
    ),
    "1002": (
        "金水区",
        "金水区新建口袋公园开放",
        "",
        "",
        [
            "金水区花园路与农业路交叉口的口袋公园11月20日正式向市民开放，占地约5000平方米。",
            "公园内设有儿童游乐区、健身步道和休息座椅。",
        ],
    ),
}


def content_page(article_id: str) -> str:
    _district, title, kicker, subtitle, paragraphs = ARTICLES[article_id]
    body = "".join(f"<P>　　{p}</P>" for p in paragraphs)
    return f"""<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">
<title>郑州晚报数字报-{title}</title></head><body>
{NAV}
<table><tr><td class="font02">{kicker}</td></tr>
<tr><td class="font01">{title}</td></tr>
<tr><td class="font02">{subtitle}</td></tr></table>
<div id="ozoom" style="font-size:14px"><!--enpcontent--><founder-content>{body}</founder-content><!--/enpcontent--></div>
<div class="share">分享到：微信 微博</div>
{NAV}
{FOOTER}
</body></html>"""


def edition_page() -> str:
    links = "".join(f'<li><a href="content_{i}.htm">{ARTICLES[i][1]}</a></li>' for i in ARTICLES)
    return f"""<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">
<title>郑州晚报数字报</title></head><body>{NAV}<ul>{links}</ul>
<a href="content_1001.htm#top">头条</a>{FOOTER}</body></html>"""


EDITION_DIR = "/html/2026-11/22"


def serve_epaper(site: Site) -> str:
    """The edition page and its articles, GBK-encoded; returns the edition's URL."""
    gbk = "text/html"  # no charset in the header: the page's <meta> says gb2312
    site.routes[f"{EDITION_DIR}/node_2.htm"] = Page(edition_page().encode("gbk"), content_type=gbk)
    for article_id in ARTICLES:
        site.routes[f"{EDITION_DIR}/content_{article_id}.htm"] = Page(
            content_page(article_id).encode("gbk"), content_type=gbk
        )
    return site.url(f"{EDITION_DIR}/node_2.htm")


def rss_feed(base: str) -> str:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>中原区新闻</title><link>{base}/</link>
<item><title>中原区启动冬季供暖</title><link>{base}/news/2026/11/21/heat.html</link>
<pubDate>Sat, 21 Nov 2026 08:00:00 +0800</pubDate>
<description><![CDATA[<p>中原区11月15日起正式供暖，覆盖全区120个小区。</p>]]></description>
<content:encoded xmlns:content="http://purl.org/rss/1.0/modules/content/"><![CDATA[
<p>中原区11月15日起正式供暖，覆盖全区120个小区，供暖面积达到900万平方米。</p>
<p>区供热办公室提醒居民，如遇暖气不热可拨打热线电话，维修人员将在24小时内上门处理。今年新增换热站8座，
老旧管网改造30公里，全区供暖质量明显提升，居民室温可保持在18摄氏度以上。</p>
<p>此外，区里还组织了供暖服务队，走访困难家庭，为行动不便的老人检查暖气设施，确保每户居民温暖过冬。</p>]]>
</content:encoded></item>
</channel></rss>"""


def atom_feed(base: str) -> str:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>管城回族区动态</title><id>{base}/atom</id>
<updated>2026-11-22T09:30:00+08:00</updated>
<entry><title>管城回族区商城遗址公园扩建</title><id>{base}/a/1</id>
<link href="{base}/a/1.html"/><updated>2026-11-22T09:30:00+08:00</updated>
<summary>商城遗址公园扩建工程开工。</summary></entry>
</feed>"""


def news_page(title: str, paragraphs: list[str], *, canonical: str | None = None) -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    link = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><meta name="ArticleTitle" content="{title}">
<title>{title}_管城回族区政府网</title>{link}</head><body>
<nav><a href="/">首页</a> <a href="/news">新闻中心</a> <a href="/gov">政务公开</a></nav>
<div class="article"><h1>{title}</h1><div class="info">发布时间：2026-11-22 09:30 来源：管城回族区</div>
<div class="content">{body}</div>
<div class="share">分享到：微信 微博 QQ空间</div></div>
<footer>版权所有：郑州市管城回族区人民政府 备案号：豫ICP备12345678号 联系我们</footer></body></html>"""


ATOM_PAGE_PARAGRAPHS = [
    "管城回族区商城遗址公园扩建工程11月22日正式开工，新增绿地面积12万平方米，计划明年10月完工。",
    "扩建后的公园将新增文化展示区和城墙遗址步道，串联起周边的文庙和城隍庙等历史建筑，方便市民游览。",
    "项目负责人介绍，施工期间将分段围挡，公园南门和东门照常开放，市民可以正常入园晨练和散步。",
]


def serve_feeds(site: Site) -> tuple[str, str]:
    """A UTF-8 RSS feed with full text and an Atom feed with summaries (its item page served)."""
    site.routes["/rss.xml"] = Page(rss_feed(site.base).encode("utf-8"), content_type="application/rss+xml")
    site.routes["/atom.xml"] = Page(atom_feed(site.base).encode("utf-8"), content_type="application/atom+xml")
    site.routes["/a/1.html"] = Page(
        news_page("管城回族区商城遗址公园扩建", ATOM_PAGE_PARAGRAPHS).encode("utf-8"),
        content_type="text/html; charset=utf-8",
    )
    return site.url("/rss.xml"), site.url("/atom.xml")
