"""Plain words for parents: a night in one sentence, the baby's age, the usual night, and what is typical.

Pure functions of a night's metrics (and the baby's earlier nights), so pages, exports and tests say the same.
The age-typical figures come from ``science.md``; :data:`TYPICAL` keeps each with its source, and the About page
shows them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sleepmoves.epochs import age_in_weeks
from sleepmoves.wording import counted

USUAL_NIGHTS = 14  # "usual" = the median of the baby's previous 14 nights
USUAL_AT_LEAST = 3  # fewer earlier nights than this: no "usual" yet
ABOUT_AS_USUAL_MIN = 15  # a difference under this many minutes is "about as usual"

# What is typical by age, with sources (science.md). Ages in months; each figure is interpolated between them.
TYPICAL = {
    "active_share": {
        "what": "active sleep, % of sleep",
        # term newborn 50-60 % (Dereymaeker 2017); by 8 months quiet sleep about twice active (Stern 1969),
        # i.e. about a third of sleep; 3 months between (Dittrichova 1966: quiet sleep grows through 6 months)
        "low": {0: 50, 3: 40, 8: 25},
        "high": {0: 60, 3: 50, 8: 35},
        "source": "Dereymaeker 2017 (newborn 50-60 %); Stern 1969 (quiet about twice active by 8 months)",
    },
    "sleep_24h_h": {
        "what": "sleep per 24 hours (h)",
        "low": {0: 14.6, 3: 13.6, 6: 12.9, 12: 12.9},
        "high": {0: 14.6, 3: 13.6, 6: 12.9, 12: 12.9},
        "source": "Galland 2012, parent report: 14.6 h at 0-2 months, 13.6 h at 3, 12.9 h at 6-12",
    },
    "night_wakings": {
        "what": "night wakings",
        "low": {1: 1.7, 4.5: 0.8, 9: 1.1},
        "high": {1: 1.7, 4.5: 0.8, 9: 1.1},
        "source": "Galland 2012, parent report: 1.7 at 0-2 months, 0.8 at 3-6, 1.1 at 7-11",
    },
}


def age_months(born, night) -> float:
    """Age in months on a night (as processing counts it); NaN when the birth date is unknown."""
    return age_in_weeks(born, night) * 7 / 30.44


def age_words(born, night) -> str:
    """ "6 weeks old", "4 months old", "1 year 2 months old"; "" when the birth date is unknown."""
    months = age_months(born, night)
    if not np.isfinite(months) or months < 0:
        return ""
    days = (pd.Timestamp(str(night)) - pd.Timestamp(str(born))).days
    if days < 7:
        return f"{counted(days, 'day')} old"
    if months < 3:
        weeks = days // 7
        return f"{counted(weeks, 'week')} old"
    born_day, day = pd.Timestamp(str(born)), pd.Timestamp(str(night))
    whole = (
        (day.year - born_day.year) * 12 + day.month - born_day.month - (day.day < born_day.day)
    )  # calendar
    if whole < 12:
        return f"{whole} months old"
    years, rest = divmod(whole, 12)
    return counted(years, "year") + (" " + counted(rest, "month") if rest else "") + " old"


def age_short(born, day) -> str:
    """``3 wk``, ``5 mo``, ``1 y 2 mo`` for a date axis; "" when the birth date is unknown or later."""
    long = age_words(born, day)
    if not long:
        return ""
    for word, short in ((" years", " y"), (" year", " y"), (" months", " mo"), (" month", " mo"),
                        (" weeks", " wk"), (" week", " wk"), (" days", " d"), (" day", " d")):  # fmt: skip
        long = long.replace(word, short)
    return long.removesuffix(" old")


def typical(what: str, months: float) -> tuple[float, float] | None:
    """The typical range of one of :data:`TYPICAL` at an age, or None when the age is unknown."""
    if not np.isfinite(months):
        return None
    entry = TYPICAL[what]
    return tuple(float(np.interp(months, list(entry[k]), list(entry[k].values()))) for k in ("low", "high"))


def usual_sleep(earlier: pd.DataFrame) -> float | None:
    """The baby's usual total sleep: the median of its previous :data:`USUAL_NIGHTS` nights (None if too few)."""
    if earlier is None or "total_sleep_min" not in earlier:
        return None
    values = pd.to_numeric(earlier["total_sleep_min"], errors="coerce").dropna().tail(USUAL_NIGHTS)
    values = values[values > 0]
    return float(values.median()) if len(values) >= USUAL_AT_LEAST else None


def _span(minutes: float) -> str:
    total = int(round(abs(float(minutes))))
    hours, rest = divmod(total, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h {rest:02d} min" if rest else f"{hours} h"


def _clock(value, tz: str) -> str:
    return pd.Timestamp(value).tz_convert(tz).strftime("%H:%M")


def night_sentence(metrics: dict | None, tz: str, born=None, night=None, usual: float | None = None) -> str:
    """The night in one sentence: how long and when the baby slept, its wakings, against its usual night and, when
    the phases are known, the active-sleep share against what is typical at its age."""
    if not metrics:
        return "This night has no data yet."
    onset, offset = metrics.get("sleep_onset"), metrics.get("sleep_offset")
    if onset is None or pd.isna(onset):
        return "No night's sleep was found in this night's data."
    total = float(metrics.get("total_sleep_min") or 0)
    parts = [f"Slept {_span(total)} between {_clock(onset, tz)} and {_clock(offset, tz)}"]
    bouts, awake = int(metrics.get("wake_bouts") or 0), float(metrics.get("waso_min") or 0)
    if bouts == 0:
        parts.append("without waking")
    elif bouts == 1:
        parts.append(f"woke once for {_span(awake)}")
    else:
        parts.append(f"woke {bouts} times, {_span(awake)} in all")
    sentence = ", ".join(parts) + "."
    if usual is not None:
        difference = total - usual
        if abs(difference) < ABOUT_AS_USUAL_MIN:
            sentence += " About as long as usual."
        else:
            sentence += f" {_span(difference)} {'more' if difference > 0 else 'less'} than usual."
    share = metrics.get("pct_active")
    if share is not None and pd.notna(share) and night is not None:
        months = age_months(born, night)
        sentence += f" Active sleep {float(share):.0f} %"
        span = typical("active_share", months)
        if span is not None:
            low, high = span
            where = "within" if low <= share <= high else ("above" if share > high else "below")
            sentence += f", {where} the {low:.0f}–{high:.0f} % typical at {age_words(born, night).removesuffix(' old')}"
        sentence += "."
    return sentence


DISAGREEMENTS_TOLD = 2  # stretches named in the sentence; the rest are counted


def disagreement_sentence(spans: pd.DataFrame, tz: str) -> str:
    """Where the parent's diary and the movement disagree, in words (empty when they agree)."""
    if spans is None or not len(spans):
        return ""
    minutes = ((spans["end"] - spans["start"]).dt.total_seconds() / 60).sum()
    told = [
        f"{_clock(row.start, tz)}–{_clock(row.end, tz)} the diary says {row.diary_says}, "
        f"the movement {row.movement_says}"
        for row in spans.head(DISAGREEMENTS_TOLD).itertuples()
    ]
    more = len(spans) - len(told)
    rest = f"; and {counted(more, 'more stretch', 'more stretches')}" if more else ""
    return f"Your diary and the movement disagree for {_span(minutes)}: {'; '.join(told)}{rest}."
