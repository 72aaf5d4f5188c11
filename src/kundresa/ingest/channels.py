"""The default channel grouping: marketing channels from campaign data, click ids and referrers.

When an event has no ``channel`` but carries where the visit came from (UTM or Snowplow
``mkt_*`` fields, a Google/Microsoft/TikTok/Meta click id, a referrer), its channel is
derived with the rules Google Analytics 4 documents for its *default channel group*
(Analytics Help, "[GA4] Default channel group", answer 9756891): the rules of
:data:`CHANNEL_RULES` are tried in order on the visit's source, medium and campaign name and
the first that fits names the channel. Channel ids are GA4's channel names in snake case
(``paid_search`` for "Paid Search"); :data:`GA4_NAMES` gives the names back.

GA4 matches sources against internal lists of search, social, video and shopping sites;
:data:`SEARCH_SITES` and its siblings are shorter public equivalents (the best-known sites,
by name or host name, any top-level domain).

Examples
--------
>>> default_channel("google", "cpc", None)
'paid_search'
>>> default_channel("newsletter", "email", "spring_sale")
'email'
>>> default_channel("(direct)", "(none)", None)
'direct'
>>> traffic_source({"referrer": "https://www.bing.com/search?q=kundresa"})
('bing.com', 'referral', None)
>>> channel_for({"url": "https://shop.example/?gclid=abc"})
'paid_search'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qs, urlsplit

import pyarrow as pa

from kundresa.ingest.readers import RawBatch

__all__ = [
    "CHANNEL_RULES",
    "GA4_NAMES",
    "SEARCH_SITES",
    "SHOPPING_SITES",
    "SOCIAL_SITES",
    "VIDEO_SITES",
    "ChannelRule",
    "assign_channels",
    "channel_for",
    "default_channel",
    "traffic_source",
]


def _sites(*names: str) -> str:
    # A site by its name ("google") or any host name of it ("www.google.co.uk", "m.facebook.com").
    return r"(.*\.)?(" + "|".join(names) + r")(\..*)?"


SEARCH_SITES = _sites(
    "google",
    "bing",
    "yahoo",
    "duckduckgo",
    "baidu",
    "yandex",
    "ecosia",
    "naver",
    "seznam",
    "ask",
    "aol",
    "startpage",
    "qwant",
    "search\\.brave",
    "sogou",
    "daum",
    "so",
    "msn",
    "perplexity",
)
SOCIAL_SITES = _sites(
    "facebook",
    "fb",
    "instagram",
    "ig",
    "linkedin",
    "lnkd",
    "twitter",
    "t\\.co",
    "x",
    "pinterest",
    "reddit",
    "tiktok",
    "snapchat",
    "threads",
    "tumblr",
    "quora",
    "discord",
    "whatsapp",
    "messenger",
    "telegram",
    "vk",
    "xing",
    "weibo",
    "wechat",
    "mastodon",
    "bsky",
)
VIDEO_SITES = _sites("youtube", "youtu\\.be", "vimeo", "twitch", "dailymotion", "wistia", "ted")
SHOPPING_SITES = _sites(
    "amazon",
    "ebay",
    "etsy",
    "shopping\\.google",
    "walmart",
    "alibaba",
    "aliexpress",
    "idealo",
    "pricerunner",
    "prisjakt",
    "shopify",
)
PAID_MEDIUM = r".*cp.*|ppc|retargeting|paid.*"
SHOP_CAMPAIGN = r".*(([^a-df-z]|^)shop|shopping).*"
EMAIL = r"email|e-mail|e_mail|e mail"


@dataclass(frozen=True)
class ChannelRule:
    """One row of the channel table: ``channel`` when any of ``when`` fits, where each entry
    of ``when`` maps fields (``source``, ``medium``, ``campaign``) to regular expressions
    that must all match the whole value, ignoring case."""

    channel: str
    when: tuple[Mapping[str, str], ...]


CHANNEL_RULES: tuple[ChannelRule, ...] = (
    ChannelRule("direct", ({"source": r"\(direct\)", "medium": r"\(not set\)|\(none\)|"},)),
    ChannelRule("cross_network", ({"campaign": r".*cross-network.*"},)),
    ChannelRule(
        "paid_shopping",
        (
            {"source": SHOPPING_SITES, "medium": PAID_MEDIUM},
            {"campaign": SHOP_CAMPAIGN, "medium": PAID_MEDIUM},
        ),
    ),
    ChannelRule("paid_search", ({"source": SEARCH_SITES, "medium": PAID_MEDIUM},)),
    ChannelRule("paid_social", ({"source": SOCIAL_SITES, "medium": PAID_MEDIUM},)),
    ChannelRule("paid_video", ({"source": VIDEO_SITES, "medium": PAID_MEDIUM},)),
    ChannelRule("display", ({"medium": r"display|banner|expandable|interstitial|cpm"},)),
    ChannelRule("paid_other", ({"medium": PAID_MEDIUM},)),
    ChannelRule("organic_shopping", ({"source": SHOPPING_SITES}, {"campaign": SHOP_CAMPAIGN})),
    ChannelRule(
        "organic_social",
        (
            {"source": SOCIAL_SITES},
            {"medium": r"social|social-network|social-media|sm|social network|social media"},
        ),
    ),
    ChannelRule("organic_video", ({"source": VIDEO_SITES}, {"medium": r".*video.*"})),
    ChannelRule("organic_search", ({"source": SEARCH_SITES}, {"medium": r"organic"})),
    ChannelRule("referral", ({"medium": r"referral|app|link"},)),
    ChannelRule("email", ({"source": EMAIL}, {"medium": EMAIL})),
    ChannelRule("affiliates", ({"medium": r"affiliate"},)),
    ChannelRule("audio", ({"medium": r"audio"},)),
    ChannelRule("sms", ({"source": r"sms"}, {"medium": r"sms"})),
    ChannelRule(
        "mobile_push_notifications",
        ({"medium": r".*push"}, {"medium": r".*(mobile|notification).*"}, {"source": "firebase"}),
    ),
)
"""GA4's default channel group, in GA4's order; no rule fitting: ``unassigned``."""

GA4_NAMES: dict[str, str] = {
    "direct": "Direct",
    "cross_network": "Cross-network",
    "paid_shopping": "Paid Shopping",
    "paid_search": "Paid Search",
    "paid_social": "Paid Social",
    "paid_video": "Paid Video",
    "display": "Display",
    "paid_other": "Paid Other",
    "organic_shopping": "Organic Shopping",
    "organic_social": "Organic Social",
    "organic_video": "Organic Video",
    "organic_search": "Organic Search",
    "referral": "Referral",
    "email": "Email",
    "affiliates": "Affiliates",
    "audio": "Audio",
    "sms": "SMS",
    "mobile_push_notifications": "Mobile Push Notifications",
    "unassigned": "Unassigned",
}
"""Channel id → GA4's display name."""

_COMPILED = tuple(
    (
        rule.channel,
        tuple(
            {field: re.compile(rx, re.IGNORECASE) for field, rx in cond.items()}
            for cond in rule.when
        ),
    )
    for rule in CHANNEL_RULES
)


@lru_cache(maxsize=65536)
def default_channel(source: str | None, medium: str | None, campaign: str | None) -> str | None:
    """The default channel group of a visit from ``source``/``medium``/``campaign``.

    Returns a channel id of :data:`CHANNEL_RULES`, ``unassigned`` when none fits, or
    ``None`` when all three are empty (nothing is known about where the visit came from).
    """
    values = {
        "source": (source or "").strip(),
        "medium": (medium or "").strip(),
        "campaign": (campaign or "").strip(),
    }
    if not any(values.values()):
        return None
    for channel, conditions in _COMPILED:
        for cond in conditions:
            if all(rx.fullmatch(values[field]) for field, rx in cond.items()):
                return channel
    return "unassigned"


# Field names (case-insensitive) read from an event, in order of preference.
SOURCE_FIELDS = ("source", "utm_source", "mkt_source", "context_campaign_source")
TRIGGER_SOURCE_FIELDS = SOURCE_FIELDS[1:]
MEDIUM_FIELDS = ("medium", "utm_medium", "mkt_medium", "context_campaign_medium")
CAMPAIGN_FIELDS = (
    "campaign",
    "utm_campaign",
    "mkt_campaign",
    "campaign_name",
    "context_campaign_name",
)
REFERRER_FIELDS = ("referrer", "page_referrer", "context_page_referrer", "referer", "$referrer")
URL_FIELDS = (
    "url",
    "page_location",
    "page_url",
    "context_page_url",
    "landing_page",
    "$current_url",
)
# Click ids of ad platforms' auto-tagging: the source and medium GA4 (or the platform's own
# documented UTM template) gives such a visit. fbclid is added to every outbound Facebook
# link, paid or not, so it says only that the visit came from Facebook.
CLICK_IDS: dict[str, tuple[str, str]] = {
    "gclid": ("google", "cpc"),
    "gbraid": ("google", "cpc"),
    "wbraid": ("google", "cpc"),
    "dclid": ("dfa", "cpm"),
    "msclkid": ("bing", "cpc"),
    "ttclid": ("tiktok", "cpc"),
    "twclid": ("twitter", "cpc"),
    "fbclid": ("facebook", "referral"),
}


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    v = value.strip()
    return v if v and v.lower() not in ("null", "none") else None


def _first(row: Mapping[str, str | None], names: tuple[str, ...]) -> str | None:
    for n in names:
        v = _clean(row.get(n))
        if v is not None:
            return v
    return None


_HOST_END = re.compile(r"[/?#]")
_QUERY_HINT = re.compile(r"[?&](utm_source|utm_medium|utm_campaign|" + "|".join(CLICK_IDS) + ")=")


@lru_cache(maxsize=65536)
def _host(url: str | None) -> str | None:
    """The host name of a URL (``www.`` dropped), or ``None`` when it has none."""
    if not url or "." not in url:
        return None
    rest = url.split("//", 1)[1] if "//" in url else url
    host = _HOST_END.split(rest, 1)[0].rsplit("@", 1)[-1].split(":", 1)[0].lower()
    if "." not in host:
        return None
    return host[4:] if host.startswith("www.") else host


@lru_cache(maxsize=65536)
def _url_origin(url: str) -> tuple[str | None, str | None, str | None, str | None]:
    """utm_source, utm_medium, utm_campaign and the first click id parameter of a URL."""
    if "?" not in url or not _QUERY_HINT.search(url):
        return None, None, None, None
    query = parse_qs(urlsplit(url).query)

    def get(key: str) -> str | None:
        return _clean(next(iter(query.get(key, [])), None))

    click = next((c for c in CLICK_IDS if get(c) is not None), None)
    return get("utm_source"), get("utm_medium"), get("utm_campaign"), click


def _origin(
    source: str | None,
    medium: str | None,
    campaign: str | None,
    url: str | None,
    referrer: str | None,
    click: str | None,
) -> tuple[str | None, str | None, str | None]:
    # The rules of traffic_source on an event's first non-empty value of each field group;
    # ``click`` is the first click id field that is set.
    if source is not None or medium is not None:
        return source, medium, campaign
    url_source, url_medium, url_campaign, url_click = _url_origin(url) if url else (None,) * 4
    if url_source is not None or url_medium is not None:
        return url_source, url_medium, campaign or url_campaign
    click = click or url_click
    if click is not None:
        return *CLICK_IDS[click], campaign
    ref = _host(referrer)
    if ref is not None and ref != _host(url):
        return ref, "referral", campaign
    return None, None, campaign


def traffic_source(row: Mapping[str, str | None]) -> tuple[str | None, str | None, str | None]:
    """Source, medium and campaign of one event, from (in order) its campaign fields
    (``source``/``utm_source``/``mkt_source``…), the ``utm_*`` parameters of its page URL,
    an ad click id (field or URL parameter), else an external referrer (medium
    ``referral``; a referrer on the page's own host is internal and says nothing).

    ``row`` maps lower-case field names to text.
    """
    return _origin(
        _first(row, SOURCE_FIELDS),
        _first(row, MEDIUM_FIELDS),
        _first(row, CAMPAIGN_FIELDS),
        _first(row, URL_FIELDS),
        _first(row, REFERRER_FIELDS),
        next((c for c in CLICK_IDS if _clean(row.get(c)) is not None), None),
    )


def channel_for(row: Mapping[str, str | None]) -> str | None:
    """The default channel of one event (see :func:`traffic_source` and
    :func:`default_channel`); ``None`` when it carries nothing about its origin."""
    return default_channel(*traffic_source(row))


def _relevant(names: list[str]) -> list[str]:
    lower = {n.lower() for n in names}
    trigger = (
        set(MEDIUM_FIELDS)
        | set(TRIGGER_SOURCE_FIELDS)
        | set(REFERRER_FIELDS)
        | set(URL_FIELDS)
        | set(CLICK_IDS)
    )
    if not lower & trigger:
        return []
    wanted = trigger | set(SOURCE_FIELDS) | set(CAMPAIGN_FIELDS)
    return [n for n in names if n.lower() in wanted]


def assign_channels(batch: RawBatch) -> RawBatch:
    """Fill the empty ``channel`` of a batch's events from their campaign fields, click ids
    and referrers (:func:`channel_for`); batches without such fields are returned as they
    are. A channel already given is kept."""
    names = list(batch.columns)
    fields = _relevant(names)
    n = len(batch.lines)
    if not fields or n == 0:
        return batch
    channel_col = next((c for c in names if c.lower() == "channel"), "channel")
    given = batch.columns.get(channel_col)
    current = given.to_pylist() if given is not None else [None] * n
    by_lower = {c.lower(): c for c in reversed(fields)}

    def group(wanted: tuple[str, ...]) -> list[list[str | None]]:
        return [batch.columns[by_lower[w]].to_pylist() for w in wanted if w in by_lower]

    def firsts(cols: list[list[str | None]]) -> list[str | None]:
        if not cols:
            return [None] * n
        if len(cols) == 1:
            return [_clean(v) for v in cols[0]]
        return [
            next((c for v in vs if (c := _clean(v)) is not None), None)
            for vs in zip(*cols, strict=True)
        ]

    sources, mediums = firsts(group(SOURCE_FIELDS)), firsts(group(MEDIUM_FIELDS))
    campaigns, urls = firsts(group(CAMPAIGN_FIELDS)), firsts(group(URL_FIELDS))
    referrers = firsts(group(REFERRER_FIELDS))
    click_names = [c for c in CLICK_IDS if c in by_lower]
    click_cols = group(tuple(click_names))
    out: list[str | None] = []
    for i, ch in enumerate(current):
        if ch is not None and ch.strip():
            out.append(ch)
            continue
        click = next(
            (c for c, col in zip(click_names, click_cols, strict=True) if _clean(col[i])), None
        )
        origin = _origin(sources[i], mediums[i], campaigns[i], urls[i], referrers[i], click)
        out.append(default_channel(*origin))
    cols = dict(batch.columns)
    cols[channel_col] = pa.array(out, pa.string())
    return RawBatch(cols, batch.lines, batch.rejected, batch.numbers, batch.number_rows)
