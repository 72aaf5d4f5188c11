"""A realistic, deterministic demo company: Nordljus Hem, a home-goods shop with stores.

The events are generated phase by phase over arrays of customers (numpy), not event by
event, so a million events take seconds. Journeys are not linear on purpose: some customers
only ever see ads, some buy without considering, some go back to the pricing page after
buying, pauses last weeks or months, repeat purchases start new cycles with new ad clicks,
promoters answer NPS surveys and refer friends, who arrive with a ``referrer`` property.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import yaml

from kundresa.store.schema import EVENT_SCHEMA

__all__ = ["DEFAULT_CUSTOMERS", "EVENTS_PER_CUSTOMER", "demo_journey_yaml", "generate_events"]

DEFAULT_CUSTOMERS = 20_000
EVENTS_PER_CUSTOMER = 5.3
"""Roughly how many events a demo customer has (so ~190k customers make a million)."""

_SEGMENTS = np.array(["private", "business", "student"])
_SEGMENT_P = [0.6, 0.25, 0.15]
# How much more (or less) likely each segment is to move on at every stage.
_LIFT = np.array([1.0, 1.35, 0.7])
_DEVICES = np.array(["mobile", "desktop", "tablet"])
_CAMPAIGNS = np.array(["spring_sale", "brand", "retargeting", "summer_home"])

DAY = 86_400
HOUR = 3_600


class _Events:
    """Column arrays of generated events, appended phase by phase."""

    def __init__(self) -> None:
        self.parts: list[dict[str, np.ndarray]] = []

    def add(self, cust: np.ndarray, t: np.ndarray, event: str, channel: Any, **props: Any) -> None:
        n = len(cust)
        if n == 0:
            return
        part = {
            "cust": cust.astype(np.int64),
            "t": t.astype(np.int64),
            "event": np.full(n, event, dtype=object),
            "channel": (
                channel.astype(object)
                if isinstance(channel, np.ndarray)
                else np.full(n, channel, dtype=object)
            ),
        }
        for key in ("path", "score", "campaign", "referrer", "value"):
            v = props.get(key)
            if v is None:
                part[key] = np.full(n, None, dtype=object)
            elif isinstance(v, np.ndarray):
                part[key] = v.astype(object)
            else:
                part[key] = np.full(n, v, dtype=object)
        self.parts.append(part)

    def concat(self) -> dict[str, np.ndarray]:
        return {k: np.concatenate([p[k] for p in self.parts]) for k in self.parts[0]}


def _friend(mask: np.ndarray) -> np.ndarray:
    out = np.full(len(mask), None, dtype=object)
    out[mask] = "friend"
    return out


def _days(rng: np.random.Generator, n: int, mean_days: float) -> np.ndarray:
    """Gaps with a long tail: most are short, some last months."""
    return (rng.exponential(mean_days, n) * DAY).astype(np.int64) + rng.integers(60, HOUR, n)


def generate_events(
    customers: int = DEFAULT_CUSTOMERS,
    *,
    seed: int = 0,
    start: date = date(2025, 1, 1),
    days: int = 365,
) -> pa.Table:
    """The demo company's events, in the canonical event schema.

    Parameters
    ----------
    customers
        How many people meet the company (about 5.3 events each).
    seed
        The same seed gives the same table.
    start, days
        The period the events fall in (UTC).

    Returns
    -------
    pyarrow.Table
        Sorted by customer and time, with ``segment``, ``device``, ``variant`` (a checkout
        A/B test: B converts considering customers better) and, where they apply,
        ``path``, ``campaign``, ``score`` and ``referrer`` properties.

    Examples
    --------
    >>> t = generate_events(200, seed=1)
    >>> t.schema.names[:3], t.num_rows > 600
    (['customer_id', 'timestamp', 'event'], True)
    """
    if customers < 1:
        raise ValueError("customers must be at least 1")
    rng = np.random.default_rng(seed)
    n = customers
    ids = np.arange(n)
    segment = rng.choice(3, n, p=_SEGMENT_P)
    lift = _LIFT[segment]
    device = rng.choice(3, n, p=[0.6, 0.3, 0.1])
    end = days * DAY
    first = rng.integers(0, int(end * 0.85), n)
    ev = _Events()
    search_or_social = np.array(["search", "social", "display"])

    # A checkout A/B test: half the customers see the new checkout (variant B), which turns
    # more considering customers into buyers. Drawn from a generator of its own so the rest
    # of the demo stays as it was for a seed.
    variant_b = np.random.default_rng([seed, 1]).random(n) < 0.5

    # Referred customers (about 8%) arrive through a friend's link.
    referred = rng.random(n) < 0.08

    # Awareness: one to a few ad clicks or blog visits, over days.
    t = first.copy()
    k_aware = 1 + rng.poisson(1.0, n)
    for i in range(int(k_aware.max())):
        who = ids[k_aware > i]
        kind = rng.random(len(who))
        ads = who[kind < 0.65]
        ev.add(
            ads,
            t[ads],
            "ad_click",
            search_or_social[rng.choice(3, len(ads), p=[0.5, 0.35, 0.15])],
            campaign=_CAMPAIGNS[rng.integers(0, 4, len(ads))],
            referrer=_friend(referred[ads] & (i == 0)),
        )
        blog = who[kind >= 0.65]
        ev.add(
            blog,
            t[blog],
            "page_view",
            "web",
            path=np.array(["/blog/cosy-autumn", "/guide/lighting"])[rng.integers(0, 2, len(blog))],
            referrer=_friend(referred[blog] & (i == 0)),
        )
        t[who] += _days(rng, len(who), 3)
    # Everyone also has unassigned noise: session starts.
    ev.add(ids, first - rng.integers(1, 60, n), "session_start", "web")

    # Consideration: pricing and product pages, newsletter, store visits, demo requests.
    considers = ids[rng.random(n) < np.clip(0.52 * lift, 0, 0.95)]
    tc = t[considers] + _days(rng, len(considers), 5)
    ev.add(considers, tc, "page_view", "web", path="/pricing")
    more = considers[rng.random(len(considers)) < 0.6]
    ev.add(
        more,
        tc[np.isin(considers, more)] + rng.integers(HOUR, 3 * DAY, len(more)),
        "page_view",
        "web",
        path=np.array(["/products/lamps", "/products/sofas"])[rng.integers(0, 2, len(more))],
    )
    news = considers[rng.random(len(considers)) < 0.25]
    ev.add(
        news,
        tc[np.isin(considers, news)] + rng.integers(60, DAY, len(news)),
        "newsletter_signup",
        "email",
    )
    store = considers[rng.random(len(considers)) < 0.15]
    ev.add(
        store,
        tc[np.isin(considers, store)] + rng.integers(DAY, 10 * DAY, len(store)),
        "store_visit",
        "store",
    )
    biz = considers[segment[considers] == 1]
    calls = biz[rng.random(len(biz)) < 0.5]
    ev.add(
        calls,
        tc[np.isin(considers, calls)] + rng.integers(DAY, 7 * DAY, len(calls)),
        "demo_request",
        "sales_call",
    )
    t[considers] = tc + 2 * DAY

    # Decision: checkout and the first purchase. Some buy without considering (skips).
    buy_p = np.zeros(n)
    buy_p[considers] = np.clip(
        0.38 * lift[considers] * np.where(variant_b[considers], 1.2, 1.0), 0, 0.9
    )
    not_cons = np.setdiff1d(ids, considers)
    buy_p[not_cons] = 0.04
    buyers = ids[rng.random(n) < buy_p]
    tb = t[buyers] + _days(rng, len(buyers), 6)
    carts = buyers[rng.random(len(buyers)) < 0.7]
    ev.add(
        carts,
        tb[np.isin(buyers, carts)] - rng.integers(120, 2 * HOUR, len(carts)),
        "checkout_start",
        "web",
    )
    # Back and forth: a third look at the pricing page again between cart and purchase.
    back = carts[rng.random(len(carts)) < 0.33]
    ev.add(
        back,
        tb[np.isin(buyers, back)] - rng.integers(30, 110, len(back)),
        "page_view",
        "web",
        path="/pricing",
    )
    in_store = rng.random(len(buyers)) < 0.2
    ev.add(
        buyers,
        tb,
        "purchase",
        np.where(in_store, "store", "web"),
        value=np.round(
            rng.lognormal(7.0, 0.6, len(buyers)) * np.where(segment[buyers] == 1, 3, 1), 2
        ),
    )
    # Some also abandon the cart without buying.
    abandon = np.setdiff1d(considers, buyers)
    abandon = abandon[rng.random(len(abandon)) < 0.25]
    ev.add(abandon, t[abandon] + _days(rng, len(abandon), 4), "checkout_start", "web")

    # After the purchase: NPS answers, support, newsletters; promoters refer friends.
    nps = buyers[rng.random(len(buyers)) < 0.55]
    tn = tb[np.isin(buyers, nps)] + rng.integers(3 * DAY, 20 * DAY, len(nps))
    score = np.clip(np.round(rng.normal(7.6, 2.0, len(nps)) + (segment[nps] == 1)), 0, 10).astype(
        int
    )
    ev.add(nps, tn, "nps_answer", "email", score=score.astype(str))
    promoters = nps[score >= 9]
    refs = promoters[rng.random(len(promoters)) < 0.45]
    ev.add(
        refs,
        tn[np.isin(nps, refs)] + rng.integers(HOUR, 15 * DAY, len(refs)),
        "referral_sent",
        "referral",
    )
    support = buyers[rng.random(len(buyers)) < 0.15]
    ev.add(
        support,
        tb[np.isin(buyers, support)] + rng.integers(DAY, 30 * DAY, len(support)),
        "support_contact",
        "email",
    )
    opens = buyers[rng.random(len(buyers)) < 0.4]
    ev.add(opens, tb[np.isin(buyers, opens)] + _days(rng, len(opens), 20), "email_open", "email")

    # Repeat purchases after long pauses start new cycles: a new ad click, sometimes the
    # pricing page, then another purchase.
    tr = tb.copy()
    active = buyers.copy()
    for _cycle in range(3):
        again = rng.random(len(active)) < np.clip(0.33 * lift[active], 0, 0.8)
        active, tr = active[again], tr[again]
        tr = tr + _days(rng, len(active), 45) + 20 * DAY
        ev.add(
            active,
            tr - rng.integers(HOUR, 2 * DAY, len(active)),
            "ad_click",
            search_or_social[rng.integers(0, 3, len(active))],
            campaign="retargeting",
        )
        look = active[rng.random(len(active)) < 0.4]
        ev.add(
            look,
            tr[np.isin(active, look)] - rng.integers(60, HOUR, len(look)),
            "page_view",
            "web",
            path="/pricing",
        )
        ev.add(
            active, tr, "purchase", "web", value=np.round(rng.lognormal(6.6, 0.5, len(active)), 2)
        )

    cols = ev.concat()
    keep = (cols["t"] >= 0) & (cols["t"] < end)
    cols = {k: v[keep] for k, v in cols.items()}
    order = np.lexsort((cols["event"].astype(str), cols["t"], cols["cust"]))
    cols = {k: v[order] for k, v in cols.items()}
    m = len(cols["t"])
    cust = cols["cust"]

    # Sessions: a new one after 30 minutes without events.
    gap = np.diff(cols["t"], prepend=-(10**12))
    new_session = (gap > 1800) | (np.diff(cust, prepend=-1) != 0)
    session = np.cumsum(new_session)

    props = {
        "segment": _SEGMENTS[segment[cust]].astype(object),
        "device": _DEVICES[device[cust]].astype(object),
        "variant": np.where(variant_b[cust], "B", "A").astype(object),
        "path": cols["path"],
        "campaign": cols["campaign"],
        "score": cols["score"],
        "referrer": cols["referrer"],
    }
    names = np.array(list(props), dtype=object)
    grid = np.stack([props[k] for k in props], axis=1)
    present = np.vectorize(lambda v: v is not None, otypes=[bool])(grid)
    offsets = np.concatenate([[0], np.cumsum(present.sum(axis=1))]).astype(np.int32)
    keys = np.broadcast_to(names, grid.shape)[present]
    items = grid[present]
    properties = pa.MapArray.from_arrays(
        pa.array(offsets),
        pa.array(keys.tolist(), pa.string()),
        pa.array(items.tolist(), pa.string()),
    )
    base = int(
        (datetime(start.year, start.month, start.day) - datetime(1970, 1, 1)).total_seconds()
    )
    ts = (cols["t"] + base) * 1_000_000
    value = cols["value"]
    table = pa.table(
        {
            "customer_id": pa.array(np.char.add("c", np.char.zfill(cust.astype(str), 6)).tolist()),
            "timestamp": pa.array(ts, pa.timestamp("us")),
            "event": pa.array(cols["event"].tolist(), pa.string()),
            "channel": pa.array(cols["channel"].tolist(), pa.string()),
            "value": pa.array([None if v is None else float(v) for v in value], pa.float64()),
            "event_id": pa.array(np.char.add("e", np.arange(1, m + 1).astype(str)).tolist()),
            "session_id": pa.array(np.char.add("s", session.astype(str)).tolist()),
            "properties": properties,
        }
    )
    return table.cast(EVENT_SCHEMA.to_pyarrow())


# -- the demo journey ----------------------------------------------------------------------------

_NAMES = {
    "private": {
        "sv": "Sara, 31, privatkund",
        "da": "Sara, 31, privatkunde",
        "en": "Sara, 31, private customer",
    },
    "business": {
        "sv": "Johan, 48, inköpare",
        "da": "Johan, 48, indkøber",
        "en": "Johan, 48, business buyer",
    },
    "student": {"sv": "Elin, 21, student", "da": "Elin, 21, studerende", "en": "Elin, 21, student"},
}
_NEEDS = {
    "private": {
        "sv": ["Snygg belysning till hemmet"],
        "da": ["Flot belysning til hjemmet"],
        "en": ["Beautiful lighting for the home"],
    },
    "business": {
        "sv": ["Inredning till kontoret, faktura"],
        "da": ["Indretning til kontoret, faktura"],
        "en": ["Office furnishing, invoices"],
    },
    "student": {
        "sv": ["Billigt och snabbt"],
        "da": ["Billigt og hurtigt"],
        "en": ["Cheap and quick"],
    },
}
_CHANNEL_LABELS = {
    "search": ("Sökannonser", "Søgeannoncer", "Search ads", True, "paid"),
    "social": ("Sociala medier", "Sociale medier", "Social media", True, "earned"),
    "display": ("Bannerannonser", "Bannerannoncer", "Display ads", True, "paid"),
    "web": ("Webbutik", "Webshop", "Web shop", True, "owned"),
    "email": ("E-post", "E-mail", "Email", True, "owned"),
    "store": ("Butik", "Butik", "Store", False, "owned"),
    "sales_call": ("Säljsamtal", "Salgsopkald", "Sales call", False, "owned"),
    "referral": ("Tips från vän", "Anbefaling fra ven", "Friend referral", True, "earned"),
}
_TOUCHPOINTS: list[tuple[str, str, str, dict[str, Any]]] = [
    ("repeat_purchase", "retention", "web", {"event": "purchase", "nth": 2}),
    ("first_purchase", "decision", "web", {"event": "purchase"}),
    ("checkout", "decision", "web", {"event": "checkout_start"}),
    ("nps_promoter", "advocacy", "email", {"event": "nps_answer", "where": {"score": {"gte": 9}}}),
    ("referral_sent", "advocacy", "referral", {"event": "referral_sent"}),
    ("nps_answer", "retention", "email", {"event": "nps_answer"}),
    ("support_contact", "retention", "email", {"event": "support_contact"}),
    ("newsletter_open", "retention", "email", {"event": "email_open"}),
    (
        "pricing_page",
        "consideration",
        "web",
        {"event": "page_view", "where": {"path": {"regex": "^/pricing"}}},
    ),
    (
        "product_page",
        "consideration",
        "web",
        {"event": "page_view", "where": {"path": {"regex": "^/products"}}},
    ),
    ("newsletter_signup", "consideration", "email", {"event": "newsletter_signup"}),
    ("store_visit", "consideration", "store", {"event": "store_visit"}),
    ("demo_request", "consideration", "sales_call", {"event": "demo_request"}),
    ("ad_click", "awareness", "search", {"event": "ad_click"}),
    (
        "blog_visit",
        "awareness",
        "web",
        {"event": "page_view", "where": {"path": {"regex": "^/(blog|guide)"}}},
    ),
]


def demo_journey_yaml(lang: str = "en") -> str:
    """The demo company's ``journey.yaml`` (stages of ``kundresa-5``), in ``lang``.

    Examples
    --------
    >>> from kundresa.model import parse_journey
    >>> journey, problems = parse_journey(demo_journey_yaml("sv"), today=date(2026, 1, 1))
    >>> problems, journey.stage_label("awareness")
    ([], 'Medvetenhet')
    """
    from kundresa.model.render import _EMOTION, _TEXT, TOUCHPOINT_LABELS
    from kundresa.model.templates import LANGUAGES, get_template

    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; use one of {', '.join(LANGUAGES)}")
    kinds = {
        "awareness": "aware",
        "consideration": "consider",
        "decision": "buy",
        "retention": "again",
        "advocacy": "advocate",
    }
    targets = {
        "awareness": ("reached", 15000),
        "consideration": ("conversion_from_previous", 0.6),
        "decision": ("conversion_from_previous", 0.45),
        "retention": ("conversion_from_previous", 0.35),
        "advocacy": ("conversion_from_previous", 0.3),
    }
    stages = []
    for s in get_template("kundresa-5").stages:
        metric, target = targets[s.id]
        stage: dict[str, Any] = {"id": s.id, "label": dict(s.label)}
        if s.funnel:
            stage["funnel"] = s.funnel
        stage["goal"] = _TEXT["goal"][kinds[s.id]][lang]
        stage["kpis"] = [{"metric": metric, "target": target}]
        stages.append(stage)
    doc: dict[str, Any] = {
        "kundresa": 1,
        "name": "Nordljus Hem",
        "language": lang,
        "circular": True,
        "review_by": date(2027, 5, 1),
        "stages": stages,
        "personas": [
            {
                "id": seg,
                "name": _NAMES[seg][lang],
                "needs": _NEEDS[seg][lang],
                "match": {"property": "segment", "equals": seg},
            }
            for seg in ("private", "business", "student")
        ],
        "channels": [
            {
                "id": cid,
                "label": {"sv": labels[0], "da": labels[1], "en": labels[2]},
                "online": labels[3],
                "ownership": labels[4],
            }
            for cid, labels in _CHANNEL_LABELS.items()
        ],
        "touchpoints": [
            {
                "id": tid,
                "stage": stage_id,
                "label": TOUCHPOINT_LABELS[tid],
                "channel": ch,
                "match": match,
            }
            for tid, stage_id, ch, match in _TOUCHPOINTS
        ],
        "lanes": {
            lane: {sid: [_TEXT[key][k][lang]] for sid, k in kinds.items()}
            for lane, key in (
                ("activities", "activity"),
                ("thoughts", "thought"),
                ("pain_points", "pain"),
                ("opportunities", "opportunity"),
                ("backstage", "backstage"),
                ("content", "content"),
            )
        },
    }
    # The NPS answers (asked after a purchase) measure the emotion lane at retention.
    doc["surveys"] = [
        {
            "event": "nps_answer",
            "metric": "nps",
            "score": "score",
            "stage": "retention",
            "label": "NPS",
        }
    ]
    doc["lanes"]["emotions"] = {
        seg: {sid: _EMOTION[k][min(i, 1)] for sid, k in kinds.items()}
        for i, seg in enumerate(("private", "business", "student"))
    }
    header = (
        "# Nordljus Hem: the Kundresa demo company (home goods, web shop and stores).\n"
        "# Edit this file and run `kundresa stages` to see the numbers change.\n"
    )
    return header + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)
