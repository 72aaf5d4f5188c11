"""Attribution against ChannelAttribution, on the same 100k distinct paths in the same run.

ChannelAttribution (GPL-3, the `bench` extra only: imported by this script and nowhere else)
is the reference implementation of the paths-file format and of Markov attribution by
simulation. This script:

1. generates ``--paths`` distinct paths over ``--channels`` channels (seeded), with integer
   conversions, values and nulls;
2. times ChannelAttribution's ``heuristic_models`` against our first/last/linear models and
   requires equal credits (conversions and value, to 1e-6 of the totals);
3. for each Markov order, times ChannelAttribution's ``markov_model`` (simulation, seed 0,
   its defaults) against our exact ``markov``; it runs ChannelAttribution twice more, untimed
   in the check, with its cap on the length of a simulated walk lifted (seeds 0 and 100: its
   own simulation noise), and requires our removal effects (conversions and value) to lie
   within three times that noise of its (``max |ours - CA| <= 3 * max |CA(0) - CA(100)|``);
4. times our Shapley model (exact for 12 channels; sampled with 2000 permutations), which
   ChannelAttribution does not have: its Markov time of the same order-1 data is the
   reference;
5. prints the table and saves the measurements to ``bench/results_attribution.json``;
   ``bench/run_all.py`` renders them as the section ``## Attribution vs ChannelAttribution``
   of ``bench/RESULTS.md``, which this script then regenerates (``run_all.py --render-only``
   keeps the section, since it comes from the JSON).

Every time is the median of ``--reps`` runs (default 3) after a warm-up. Ours starts from the
same frame ChannelAttribution gets (path strings joined by ``>``, ``sep=">"``) and includes
splitting the strings, checking and encoding the paths.

Target: ours >= 5x faster than ChannelAttribution for Markov and Shapley.

Usage::

    bench/.venv/bin/python bench/attribution_vs_channelattribution.py
    bench/.venv/bin/python bench/attribution_vs_channelattribution.py --paths 20000 --no-write
    bench/.venv/bin/python bench/run_all.py --render-only   # RESULTS.md from the saved JSON

Exit status 1 when a check fails.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import statistics
import sys
import time
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "RESULTS.md"
SAVED = BENCH / "results_attribution.json"
HEADING = "## Attribution vs ChannelAttribution"
CHANNELS = (
    "search",
    "social",
    "email",
    "direct",
    "display",
    "affiliate",
    "referral",
    "video",
    "push",
    "sms",
    "print",
    "podcast",
    "partner",
    "retargeting",
    "tv",
    "radio",
)
TARGET = 5.0
UNCAPPED = 1000  # max_step for ChannelAttribution with the cap on walk length lifted


def generate(n_paths: int, n_channels: int, seed: int) -> pd.DataFrame:
    """Distinct paths (lengths 1-12, popular channels more often) with integer counts: each
    channel lifts the conversion chance, so the models have something to find."""
    if n_channels > len(CHANNELS):
        raise SystemExit(f"--channels at most {len(CHANNELS)}")
    rng = np.random.default_rng(seed)
    popularity = rng.dirichlet(np.full(n_channels, 2.0))
    lift = rng.uniform(0.02, 0.3, n_channels)
    seen: dict[tuple[int, ...], None] = {}
    while len(seen) < n_paths:
        k = (n_paths - len(seen)) * 2 + 100
        lengths = np.minimum(rng.geometric(0.3, size=k), 12)
        codes = rng.choice(n_channels, size=int(lengths.sum()), p=popularity).tolist()
        at = 0
        for n in lengths.tolist():
            seen.setdefault(tuple(codes[at : at + n]))
            at += n
            if len(seen) == n_paths:
                break
    paths = list(seen)
    rate = np.array([1 - np.prod(1 - lift[list(set(p))]) for p in paths])
    journeys = rng.poisson(3, size=n_paths) + 1
    conversions = rng.binomial(journeys, rate)
    value = np.round(conversions * rng.gamma(2.0, 40.0, size=n_paths), 2)
    return pd.DataFrame(
        {
            "path": [tuple(CHANNELS[c] for c in p) for p in paths],
            "conversions": conversions.astype("int64"),
            "value": value,
            "nulls": (journeys - conversions).astype("int64"),
        }
    )


def as_paths_file(paths: pd.DataFrame) -> pd.DataFrame:
    """The same paths in the paths-file layout that ChannelAttribution reads."""
    return pd.DataFrame(
        {
            "path": [" > ".join(p) for p in paths["path"]],
            "total_conversions": paths["conversions"],
            "total_conversion_value": paths["value"],
            "total_null": paths["nulls"],
        }
    )


def timed(fn, reps: int = 1):  # type: ignore[no-untyped-def]
    """Run ``fn`` ``reps`` times: the times and the last result."""
    times = []
    out = None
    for _ in range(reps):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return times, out


def quiet(fn):  # type: ignore[no-untyped-def]
    """Run ``fn`` with ChannelAttribution's banners (printed through Python) swallowed."""
    with contextlib.redirect_stdout(io.StringIO()):
        return fn()


def our_frame(data: pd.DataFrame) -> pd.DataFrame:
    """The same frame under our column names; the paths stay strings, split by our encoder
    (``sep=">"``) inside each timed call."""
    return pd.DataFrame(
        {
            "path": data["path"],
            "conversions": data["total_conversions"],
            "value": data["total_conversion_value"],
            "nulls": data["total_null"],
        }
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--paths", type=int, default=100_000)
    ap.add_argument("--channels", type=int, default=12)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--orders", default="1,2,3,4")
    ap.add_argument("--reps", type=int, default=3, help="timed runs of each (median)")
    ap.add_argument(
        "--no-write", action="store_true", help="do not save the JSON nor touch RESULTS.md"
    )
    args = ap.parse_args(argv)
    orders = [int(o) for o in args.orders.split(",")]
    reps = args.reps

    try:
        ca = quiet(lambda: __import__("ChannelAttribution"))
    except ImportError as exc:
        raise SystemExit(
            f"ChannelAttribution is not installed ({exc}): install the bench extra "
            "(UV_PROJECT_ENVIRONMENT=bench/.venv uv sync --locked --extra bench)"
        ) from None
    from kundresa.attribution import models as am

    load_before = os.getloadavg()
    paths = generate(args.paths, args.channels, args.seed)
    data = as_paths_file(paths)
    total_conv = float(paths["conversions"].sum())
    total_value = float(paths["value"].sum())
    journeys = int(paths["conversions"].sum() + paths["nulls"].sum())
    print(
        f"{len(paths):,} distinct paths, {args.channels} channels, {journeys:,} journeys, "
        f"{total_conv:,.0f} conversions"
    )

    # Warm up both (imports, first-call costs) on a small slice.
    small_data = data.head(500)
    am.markov(our_frame(small_data), sep=">")
    am.shapley(our_frame(small_data), sep=">")
    quiet(
        lambda: ca.markov_model(
            small_data,
            "path",
            "total_conversions",
            var_null="total_null",
            verbose=False,
            flg_pro=False,
        )
    )

    rows: list[dict[str, object]] = []
    ok = True

    # Heuristics: equal credits.
    t_ca, h_ca = timed(
        lambda: quiet(
            lambda: ca.heuristic_models(
                data, "path", "total_conversions", var_value="total_conversion_value", flg_pro=False
            )
        ),
        reps,
    )
    t_ours, h_ours = timed(
        lambda: am.compare_models(our_frame(data), ["first", "last", "linear"], sep=">"), reps
    )
    h_ca = h_ca.set_index("channel_name")
    h_ours = h_ours.set_index("channel")
    worst = 0.0
    for ours, theirs in (
        ("first", "first_touch"),
        ("last", "last_touch"),
        ("linear", "linear_touch"),
    ):
        for kind, total in (("conversions", total_conv), ("value", total_value)):
            a = h_ours[f"{ours}_{kind}"]
            b = h_ca[f"{theirs}_{kind}"].reindex(a.index)
            worst = max(worst, float((a - b).abs().max()) / total)
    equal = worst <= 1e-6
    ok &= equal
    rows.append(
        {
            "model": "heuristics (first, last, linear)",
            "ours_s": t_ours,
            "ca_s": t_ca,
            "check": f"{'equal' if equal else '**NOT equal**'} (max diff {worst:.1e} of total)",
            "target": False,
        }
    )

    # Where our time goes: turning the path strings into codes, then the model itself.
    from kundresa.attribution._markov import markov_encoded
    from kundresa.attribution._paths import encode
    from kundresa.attribution._shapley import shapley_encoded

    t_encode, encoded = timed(lambda: encode(our_frame(data), ">"), reps)

    # Markov: exact vs simulation, per order.
    markov_1: list[float] | None = None
    for order in orders:

        def run_ca(seed: int, max_step: int | None, order: int = order):  # type: ignore[no-untyped-def]
            return quiet(
                lambda: ca.markov_model(
                    data,
                    "path",
                    "total_conversions",
                    var_value="total_conversion_value",
                    var_null="total_null",
                    order=order,
                    max_step=max_step,
                    out_more=True,
                    seed=seed,
                    verbose=False,
                    flg_pro=False,
                )
            )

        def effects(result, kind: str = "conversion") -> pd.Series:  # type: ignore[no-untyped-def]
            df = result["removal_effects"].set_index("channel_name")
            return df[f"removal_effects_{kind}"]

        t_ca, m_ca = timed(lambda: run_ca(0, None), reps)
        t_free, m_free = timed(lambda: run_ca(0, UNCAPPED))
        # Seeds 0 and 1 share nine of their ten random streams; 100 shares none.
        m_free2 = run_ca(100, UNCAPPED)
        t_ours, m_ours = timed(lambda o=order: am.markov(our_frame(data), order=o, sep=">"), reps)
        t_chain, _ = timed(lambda o=order: markov_encoded(encoded, order=o), reps)
        if order == 1:
            markov_1 = t_ca
        removal = m_ours.removal_effects.set_index("channel")
        diffs = {}
        for kind, column in (
            ("conversion", "removal_effect"),
            ("conversion_value", "value_removal_effect"),
        ):
            ours = removal[column]
            diffs[kind] = (
                float((ours - effects(m_free, kind).reindex(ours.index)).abs().max()),
                float((effects(m_free2, kind) - effects(m_free, kind)).abs().max()),
            )
        ours = removal["removal_effect"]
        diff_capped = float((ours - effects(m_ca).reindex(ours.index)).abs().max())
        diff, noise = diffs["conversion"]
        vdiff, vnoise = diffs["conversion_value"]
        share_free = m_free["result"].set_index("channel_name")["total_conversions"] / total_conv
        share_ours = m_ours.attribution.set_index("channel")["share"]
        share_diff = float((share_ours - share_free.reindex(share_ours.index)).abs().max())
        within = diff <= 3 * noise and vdiff <= 3 * vnoise
        ok &= within
        n_states = len({*m_ours.transitions["from_state"]}) - 1
        rows.append(
            {
                "model": f"markov order {order} ({n_states:,} states)",
                "ours_s": t_ours,
                "ours_encode_s": t_encode,
                "ours_model_s": t_chain,
                "ca_s": t_ca,
                "ca_free_s": t_free,
                "check": (
                    f"{'within noise' if within else '**outside noise**'}: removal effects"
                    f" max abs diff {diff:.4f} (CA's own seed-to-seed spread {noise:.4f}),"
                    f" value removal effects {vdiff:.4f} (spread {vnoise:.4f}), against CA"
                    f" uncapped; {diff_capped:.4f} against CA's default cap; shares"
                    f" {share_diff:.4f}"
                ),
            }
        )

    # Shapley: ChannelAttribution has none; its order-1 Markov time is the reference.
    assert markov_1 is not None, "--orders must include 1 (the Shapley reference)"
    t_exact, s_exact = timed(lambda: am.shapley(our_frame(data), sep=">"), reps)
    t_game, _ = timed(lambda: shapley_encoded(encoded), reps)
    t_sampled, s_sampled = timed(
        lambda: am.shapley(our_frame(data), exact_limit=0, samples=2000, sep=">"), reps
    )
    joined = s_exact.set_index("channel").join(
        s_sampled.set_index("channel")[["ci_low", "ci_high"]].add_suffix("_sampled")
    )
    covered = int(
        (
            (joined["ci_low_sampled"] <= joined["conversions"])
            & (joined["conversions"] <= joined["ci_high_sampled"])
        ).sum()
    )
    sums = abs(s_exact["conversions"].sum() - total_conv) / total_conv < 1e-9
    ok &= sums
    rows.append(
        {
            "model": "shapley exact (rate game)",
            "ours_s": t_exact,
            "ours_encode_s": t_encode,
            "ours_model_s": t_game,
            "ca_s": markov_1,
            "ref": True,
            "check": f"credits sum to total: {'yes' if sums else 'NO'}",
        }
    )
    rows.append(
        {
            "model": "shapley sampled (2000 permutations)",
            "ours_s": t_sampled,
            "ca_s": markov_1,
            "ref": True,
            # What more than 15 channels get; the 12 channels here are computed exactly.
            "target": False,
            "check": f"exact value inside the 95% CI for {covered} of {len(joined)} channels",
        }
    )

    doc = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "versions": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "pandas": pd.__version__,
            "scipy": metadata.version("scipy"),
            "ChannelAttribution": ca_version(),
        },
        "paths": len(paths),
        "channels": args.channels,
        "seed": args.seed,
        "journeys": journeys,
        "conversions": total_conv,
        "reps": reps,
        "load_before": list(load_before),
        "load_after": list(os.getloadavg()),
        "rows": rows,
        "ok": bool(ok),
    }
    print(render_table(rows))
    met = target_met(rows)
    print(f"target >= {TARGET:g}x for Markov and Shapley: {'met' if met else 'NOT met'}")
    if not args.no_write:
        SAVED.write_text(json.dumps(doc, indent=2) + "\n")
        import run_all

        RESULTS.write_text(run_all.render())
        print(f"saved {SAVED.name} and regenerated {RESULTS.name}")
    return 0 if ok else 1


def ca_version() -> str:
    try:
        return metadata.version("ChannelAttribution")
    except metadata.PackageNotFoundError:  # pragma: no cover
        return "?"


def _median(xs: object) -> float:
    return statistics.median(xs if isinstance(xs, list) else [xs])  # type: ignore[arg-type]


def target_met(rows: list[dict[str, object]]) -> bool:
    return all(
        _median(r["ca_s"]) / _median(r["ours_s"]) >= TARGET for r in rows if r.get("target", True)
    )


def render_breakdown(rows: list[dict[str, object]]) -> list[str]:
    """Where our time goes, per model with a target, and which targets were missed."""
    out = [
        "Where our time goes (medians, measured in the same run): encoding = splitting the"
        " 100k path strings, checking them and coding every touch as an integer (the same for"
        " every model); model = building the chain and solving it (Markov) or the coalition"
        " sums (Shapley) on the encoded paths.",
        "",
    ]
    for r in rows:
        if "ours_model_s" not in r:
            continue
        ratio = _median(r["ca_s"]) / _median(r["ours_s"])
        missed = "" if ratio >= TARGET else f" — **{ratio:.1f}x: target missed**"
        out.append(
            f"- {r['model']}: encoding {_median(r['ours_encode_s']):.3f} s, model"
            f" {_median(r['ours_model_s']):.3f} s (total {_median(r['ours_s']):.3f} s){missed}"
        )
    out += [
        "",
        "Encoding (Arrow's `split_pattern`, `utf8_trim_whitespace` and `dictionary_encode`,"
        " in C, plus the checks) is the same for every model; above it, the Markov chain's"
        " cost grows with its number of states. ChannelAttribution's time depends on how many"
        " walks its convergence test asks for, not on the order (its order-2 run is the"
        " fastest of its four), so the order-2 ratio is the tightest.",
        "",
    ]
    return out


def render_table(rows: list[dict[str, object]]) -> str:
    out = [
        "| model | ours (s) | ChannelAttribution (s) | CA/ours | CA uncapped (s) | check |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        ours, ca = _median(r["ours_s"]), _median(r["ca_s"])
        ca_s = f"{ca:.2f}" + (" (its Markov order 1)" if r.get("ref") else "")
        free = f"{_median(r['ca_free_s']):.2f}" if "ca_free_s" in r else "-"
        ratio = f"{ca / ours:.1f}x" + ("" if r.get("target", True) else " (no target)")
        out.append(f"| {r['model']} | {ours:.2f} | {ca_s} | {ratio} | {free} | {r['check']} |")
    return "\n".join(out)


def render_section(doc: dict) -> str:
    """The ``## Attribution vs ChannelAttribution`` section of RESULTS.md, from the JSON."""
    load = lambda x: "/".join(f"{v:.1f}" for v in x)  # noqa: E731
    v = doc["versions"]
    met = target_met(doc["rows"])
    lines = [
        HEADING,
        "",
        "Measured by `bench/attribution_vs_channelattribution.py` (saved in"
        " `bench/results_attribution.json`).",
        "",
        f"- Date: {doc['date']}; Python {v['python']}, numpy {v['numpy']}, pandas"
        f" {v['pandas']}, scipy {v['scipy']}, ChannelAttribution {v['ChannelAttribution']}"
        " (built from its PyPI source by uv; its defaults: `ncore=1`, `nsim_start=1e5`).",
        f"- Data: {doc['paths']:,} distinct paths over {doc['channels']} channels (seed"
        f" {doc['seed']}), lengths 1-12, {doc['journeys']:,} journeys,"
        f" {doc['conversions']:,.0f} conversions; both get the same frame of path strings.",
        f"- Load average before/after: {load(doc['load_before'])} → {load(doc['load_after'])}"
        " (shared 2-core machine: times are noisy). Times are medians of"
        f" {doc['reps']} runs after a warm-up on 500 paths; ours includes splitting the path"
        " strings, checking and encoding the paths.",
        "- Markov: ChannelAttribution simulates walks (1e5 and more until its convergence"
        " test passes); ours solves the absorbing chain exactly (LU for small chains, BiCGSTAB"
        " to a relative residual of 1e-13 above 300 states). Both define the removal effect"
        " as P(a converting walk passes the channel), but by default ChannelAttribution stops"
        " a simulated walk after as many steps as the longest path and counts it as not"
        ' converting, which lowers every removal effect; "CA uncapped" is its run with'
        f" `max_step={UNCAPPED}`, the same model as ours, and the one the check compares with"
        " (its seed-to-seed spread, seeds 0 and 100, is its simulation noise). CA/ours uses"
        " its default (capped) run.",
        "- Shapley: ChannelAttribution (free edition) has no Shapley model; the reference time"
        " is its order-1 Markov run on the same data.",
        "",
        render_table(doc["rows"]),
        "",
        *render_breakdown(doc["rows"]),
        f"Target ours >= {TARGET:g}x faster for Markov and Shapley: "
        + ("met." if met else "**not met**.")
        + " Checks: "
        + ("all passed." if doc["ok"] else "**some failed**."),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
