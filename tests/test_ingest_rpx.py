"""Actiware (RPX) exports in every language Actiware writes, with their own date forms, read to the same epochs.

The only real export here is English (test_sample_rpx_eng.csv); the others are made from it by translating what
Actiware translates. French and German words and forms are those of the sample exports pyActigraphy tests with
(test_sample_rpx_fr.csv, test_sample_rpx_ger_*.csv), Dutch those of ../shared/data/raw/Actiwatch.csv. No Spanish
export is public: its words below are our own translation, so that file checks the mechanism, not Actiware.
"""

import csv
import datetime as dt
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sleepmoves.ingest import detect_format
from sleepmoves.ingest.counts import BadInputError, counts_table, read_counts
from tests.conftest import SHARED_DATA

ENGLISH = SHARED_DATA / "actigraphy/test_sample_rpx_eng.csv"
needs_data = pytest.mark.skipif(
    not ENGLISH.exists(), reason="../shared/data is absent (not a project checkout)"
)

LANGUAGES = {
    "french": {
        "words": {
            "Line": "Ligne",
            "Date": "Date",
            "Time": "Heure",
            "Activity": "Activité",
            "Marker": "Marqueur",
            "White Light": "Lumière blanche",
            "Sleep/Wake": "Sommeil/Éveil",
            "Interval Status": "Statut de l’intervalle",
            "Actiware Export File  (Version 05.00 )": "Fichier d'exportation Actiware (Version 05.00)",
            "Epoch Length:": "Longueur de la période :",
            "Wake Threshold Value:": "Valeur du seuil d'éveil :",
            "seconds": "secondes",
            "activity counts": "nombre d'activités",
            "-------------------- Epoch-by-Epoch Data -------------------": (
                "-------------------- Données période par période -------------------"
            ),
        },
        "values": {"NaN": "NAN", "ACTIVE": "ACTIVITÉ", "REST": "REPOS", "REST-S": "S-REPOS"},
        "date": "{d}/{m:02d}/{y}",  # 4/02/2015
        "decimal": ".",
        "quoted": True,
        "sep": ",",
    },
    "german": {
        "words": {
            "Line": "Zeile",
            "Date": "Datum",
            "Time": "Zeit",
            "Activity": "Aktivität",
            "Marker": "Markierung",
            "White Light": "Weißes Licht",
            "Sleep/Wake": "Schlaf/Wach",
            "Interval Status": "Intervallstatus",
            "Actiware Export File  (Version 05.00 )": "Actiware-Exportdatei (Version 05.00 )",
            "Epoch Length:": "Epochenlänge:",
            "Wake Threshold Value:": "Grenzwert für Wachphasen:",
            "seconds": "Sekunden",
            "activity counts": "Aktivitätszählungen",
            "-------------------- Epoch-by-Epoch Data -------------------": (
                "-------------------- Daten nach Epochen -------------------"
            ),
        },
        "values": {"NaN": "kZ", "ACTIVE": "AKTIV", "REST": "RUHE", "REST-S": "RUHE-S"},
        "date": "{d:02d}.{m:02d}.{y}",  # 19.09.2019
        "decimal": ",",
        "quoted": True,
        "sep": ",",
    },
    "dutch": {
        "words": {
            "Line": "Lijn",
            "Date": "Datum",
            "Time": "Tijd",
            "Activity": "Activiteit",
            "Marker": "Markering",
            "White Light": "Wit licht",  # not in the Dutch export (no light sensor): our word
            "Sleep/Wake": "Slapen/waken",
            "Interval Status": "Intervalstatus",
            "Actiware Export File  (Version 05.00 )": "Actiware-exportbestand (versie 05.00)",
            "Epoch Length:": "Periodelengte:",
            "Wake Threshold Value:": "Waakdrempelwaarde:",
            "seconds": "seconden",
            "activity counts": "aantal activiteiten",
            "-------------------- Epoch-by-Epoch Data -------------------": (
                "-------------------- Gegevens per-periode -------------------"
            ),
        },
        "values": {"ACTIVE": "ACTIEF", "REST": "RUST", "REST-S": "RUST-S"},
        "date": "{d:02d}/{m:02d}/{y}",
        "decimal": ",",
        "quoted": False,  # as the Dutch export: no quotes but around cells with a comma
        "sep": ",",
    },
    "spanish": {
        "words": {
            "Line": "Línea",
            "Date": "Fecha",
            "Time": "Hora",
            "Activity": "Actividad",
            "Marker": "Marcador",
            "White Light": "Luz blanca",
            "Sleep/Wake": "Sueño/Vigilia",
            "Interval Status": "Estado del intervalo",
            "Actiware Export File  (Version 05.00 )": "Archivo de exportación de Actiware (Versión 05.00)",
            "Epoch Length:": "Duración del período:",
            "Wake Threshold Value:": "Valor del umbral de vigilia:",
            "seconds": "segundos",
            "activity counts": "recuentos de actividad",
            "-------------------- Epoch-by-Epoch Data -------------------": (
                "-------------------- Datos por período -------------------"
            ),
        },
        "values": {"ACTIVE": "ACTIVO", "REST": "DESCANSO", "REST-S": "DESCANSO-S"},
        "date": "{d:02d}/{m:02d}/{y}",
        "decimal": ",",
        "quoted": False,
        "sep": ";",  # a spreadsheet's save in a decimal-comma locale: the delimiter path
    },
}
# re-saved by a spreadsheet, as test_sample_rpx_ger_with_light.csv: quotes only around decimal commas
LANGUAGES["german, re-saved"] = {**LANGUAGES["german"], "quoted": False}
ENGLISH_DATE = re.compile(r"(\d\d)/(\d\d)/(\d{4})")
DECIMAL = re.compile(r"-?\d+\.\d+")


def _cell(value: str, lang: dict) -> str:
    words, values = lang["words"], lang["values"]
    if value in words or value in values:
        return words.get(value, values.get(value))
    if value.endswith(":") and value[:-1] in words:  # the notes block: "Activity:","Activity (counts)"
        return words[value[:-1]] + ":"
    m = ENGLISH_DATE.fullmatch(value)
    if m:
        return lang["date"].format(d=int(m.group(1)), m=int(m.group(2)), y=m.group(3))
    if lang["decimal"] == "," and DECIMAL.fullmatch(value):
        return value.replace(".", ",")
    return value


def _row(cells: list[str], lang: dict) -> str:
    sep = lang["sep"]
    if lang["quoted"]:  # every cell quoted, a trailing empty one aside (as Actiware writes)
        last = len(cells) - 1
        return sep.join("" if k == last and not c and k else f'"{c}"' for k, c in enumerate(cells))
    return sep.join(f'"{c}"' if sep in c or '"' in c else c for c in cells)


def translate(text: str, lang: dict) -> str:
    """The English export as Actiware writes it in ``lang``: words, dates, NaN, decimals, quoting, delimiter."""
    out = []
    for line in text.split("\r\n"):
        cells = next(csv.reader([line])) if line else []
        out.append(_row([_cell(c, lang) for c in cells], lang) if cells else "")
    return "\ufeff" + "\r\n".join(out)


@pytest.fixture(scope="module")
def english():
    text = ENGLISH.read_bytes().decode("utf-8-sig")  # its CRLF line ends kept
    return text, read_counts(ENGLISH.read_bytes(), "eng.csv", "rpx")


@needs_data
def test_english_export_reads_with_its_header_fields(english):
    _, read = english
    assert read.epoch_s == 30 and read.wake_threshold == 40.0 and len(read.count) == 20160
    assert read.times.iloc[0] == pd.Timestamp("2015-07-04 09:45:00")  # dd/mm: 04/07 is 4 July
    assert read.lines[0] == 149 and read.lines[-1] == 20308  # the file's own lines
    table = counts_table(read, "Europe/London", "eng.csv")
    assert (table["wake_threshold"] == 40.0).all()


@needs_data
@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_every_language_reads_to_the_same_epochs(english, language):
    text, want = english
    data = translate(text, LANGUAGES[language]).encode("utf-8")
    assert detect_format(data, "x.csv") == "rpx"
    got = read_counts(data, "x.csv", "rpx")
    assert got.times.equals(want.times)
    assert np.array_equal(got.count, want.count, equal_nan=True)
    assert np.array_equal(got.valid, want.valid)
    assert np.array_equal(got.device_sleep, want.device_sleep, equal_nan=True)
    assert got.epoch_s == 30 and got.wake_threshold == 40.0
    assert np.array_equal(got.lines, want.lines)


@needs_data
def test_a_bad_date_names_its_data_line_and_quotes_it(english):
    text, _ = english
    german = translate(text, LANGUAGES["german"]).split("\r\n")
    first = german.index('"1","04.07.2015","09:45:00","0","0","0,01","kZ","AKTIV",')  # line 149
    german[first + 11] = german[first + 11].replace("04.07.2015", "31.02.2015")
    with pytest.raises(BadInputError) as refused:
        read_counts("\r\n".join(german).encode(), "de.csv", "rpx")
    assert str(refused.value.errors[0]) == "de.csv:160: column Datum: '31.02.2015' is not a date"


@needs_data
def test_off_wrist_and_excluded_epochs_are_no_data(english):
    """German off-wrist column (Status „Nicht am Handgelenk“ = 1) and an excluded interval (AUSGESCHLOSSEN)."""
    text, want = english
    german = translate(text, LANGUAGES["german"]).split("\r\n")
    at = next(i for i, line in enumerate(german) if line.startswith('"Zeile","Datum","Zeit","Aktivität"'))
    german[at] = german[at].replace('"Datum","Zeit",', '"Datum","Zeit","Status „Nicht am Handgelenk“",')
    for k in range(at + 2, len(german)):
        epoch = k - at - 2
        off = "1" if 100 <= epoch < 110 else "0"
        german[k] = re.sub(r'^("\d+","[^"]*","[^"]*",)', rf'\1"{off}",', german[k])
        if 200 <= epoch < 205:
            german[k] = german[k].replace('"AKTIV"', '"AUSGESCHLOSSEN"')
    got = read_counts("\r\n".join(german).encode(), "de.csv", "rpx")
    assert np.array_equal(got.count, want.count)
    assert not got.valid[100:110].any() and not got.valid[200:205].any()
    assert np.flatnonzero(~got.worn).tolist() == list(range(100, 110))  # excluded: no data, not "not worn"
    assert got.valid.sum() == want.valid.sum() - 15


# ---------------------------------------------------------------------- properties
FORMS = {  # language, how Actiware's locale writes a date
    "en-us": ("Line", lambda d: f"{d.month:02d}/{d.day:02d}/{d.year}"),
    "en-uk": ("Line", lambda d: f"{d.day:02d}/{d.month:02d}/{d.year}"),
    "en-us-short": ("Line", lambda d: f"{d.month}/{d.day}/{d.year % 100:02d}"),
    "fr": ("Ligne", lambda d: f"{d.day}/{d.month:02d}/{d.year}"),
    "de": ("Zeile", lambda d: f"{d.day:02d}.{d.month:02d}.{d.year}"),
    "de-short": ("Zeile", lambda d: f"{d.day:02d}.{d.month:02d}.{d.year % 100:02d}"),
    "nl": ("Lijn", lambda d: f"{d.day:02d}-{d.month:02d}-{d.year}"),
    "es": ("Línea", lambda d: f"{d.day:02d}/{d.month:02d}/{d.year}"),
    "iso": ("Line", lambda d: d.isoformat()),
}
HEADER = {"Line": "Date,Time,Activity", "Ligne": "Date,Heure,Activité", "Zeile": "Datum,Zeit,Aktivität"}
HEADER |= {"Lijn": "Datum,Tijd,Activiteit", "Línea": "Fecha,Hora,Actividad"}
HEAD_LINES = 4  # the lines before the first epoch in small_rpx


def small_rpx(form: str, start: dt.datetime, epoch_s: int, n: int) -> tuple[list[str], list[dt.datetime]]:
    """A minimal export: the title, the epoch length, the table header, a blank line, then ``n`` epochs."""
    line_word, write_date = FORMS[form]
    times = [start + dt.timedelta(seconds=epoch_s * k) for k in range(n)]
    lines = [
        "Actiware Export File",
        f"Epoch Length:,{epoch_s},seconds",
        f"{line_word},{HEADER[line_word]}",
        "",
    ]
    lines += [f"{k + 1},{write_date(t.date())},{t:%H:%M:%S},{k % 7}" for k, t in enumerate(times)]
    return lines, times


@st.composite
def recordings(draw):
    form = draw(st.sampled_from(sorted(FORMS)))
    years = (2000, 2068) if form.endswith("short") else (1990, 2100)
    day = draw(st.dates(dt.date(years[0], 1, 1), dt.date(years[1], 12, 31)))
    epoch_s = draw(st.sampled_from([15, 30, 60, 120]))
    n = draw(st.integers(10, 80))
    if form.startswith("en") and form != "en-us":
        # day/month in English are only told apart by the data: let the recording cross midnight
        start = dt.datetime.combine(day, dt.time(23, 59))
    else:
        start = dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=draw(st.integers(0, 86399)))
    return form, start, epoch_s, n


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(recordings())
def test_dates_in_every_form_round_trip(recording):
    form, start, epoch_s, n = recording
    lines, times = small_rpx(form, start, epoch_s, n)
    read = read_counts("\r\n".join(lines).encode(), "x.csv", "rpx")
    assert read.times.tolist() == [pd.Timestamp(t) for t in times]
    assert read.epoch_s == epoch_s and read.lines.tolist() == list(range(HEAD_LINES + 1, HEAD_LINES + n + 1))


BAD_VALUES = {
    "date": ["31.02.2019", "2019-13-01", "45/45/2015", "yesterday", ""],
    "time": ["25:00:00", "12:61:00", "noon", ""],
    "activity": ["abc", "1.2.3", "--"],
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(recordings(), st.data())
def test_shuffled_or_damaged_lines_are_refused_naming_a_data_line(recording, data):
    form, start, epoch_s, n = recording
    lines, _ = small_rpx(form, start, epoch_s, n)
    first, last = HEAD_LINES, len(lines) - 1  # 0-based indices of the first and last epoch
    damage = data.draw(st.sampled_from(["swap", "repeat", "delete", "date", "time", "activity"]))
    if damage == "swap":
        i, j = data.draw(st.lists(st.integers(first, last), min_size=2, max_size=2, unique=True))
        lines[i], lines[j] = lines[j], lines[i]
    elif damage == "repeat":
        i = data.draw(st.integers(first, last))
        lines.insert(data.draw(st.integers(first, last + 1)), lines[i])
    elif damage == "delete":
        # a gap: the epochs are no longer evenly spaced
        del lines[data.draw(st.integers(first + 1, last - 1))]
    else:
        i = data.draw(st.integers(first, last))
        cells = lines[i].split(",")
        cells[{"date": 1, "time": 2, "activity": 3}[damage]] = data.draw(st.sampled_from(BAD_VALUES[damage]))
        lines[i] = ",".join(cells)
    with pytest.raises(BadInputError) as refused:
        read_counts("\r\n".join(lines).encode(), "x.csv", "rpx")
    (error,) = refused.value.errors
    assert HEAD_LINES + 1 <= error.line <= len(lines), (damage, str(error))
    assert str(error).startswith(f"x.csv:{error.line}: ")


def test_the_header_row_is_found_without_splitting_every_line():
    """The Marker list's Line/Date/Time header has no Activity column: the epoch table's header is the one read."""
    text = "\r\n".join(
        [
            '"Actiware Export File"',
            '"Line:","Line Number"',
            '"Line","Date","Time","Marker","Interval Status",',
            '"1","04/07/2015","21:00:00","Marker!","ACTIVE",',
            "",
            '"Line","Date","Time","Activity","Interval Status",',
            "",
            '"1","04/07/2015","21:00:00","5","ACTIVE",',
            '"2","04/07/2015","21:00:30","0","EXCLUDED",',
        ]
    )
    read = read_counts(text.encode(), "x.csv", "rpx")
    assert (
        read.count.tolist() == [5, 0]
        and read.valid.tolist() == [True, False]
        and read.lines.tolist() == [8, 9]
    )
    assert read.wake_threshold is None  # the file does not say
    with pytest.raises(BadInputError, match="no epoch-by-epoch table"):
        read_counts(b'"Actiware Export File"\r\n"Line","Date","Time","Marker",\r\n', "x.csv", "rpx")


@needs_data
def test_header_epoch_length_must_match_the_times(english):
    text, _ = english
    sixty = text.replace('"Epoch Length:","30"', '"Epoch Length:","60"').encode()
    with pytest.raises(
        BadInputError, match=r"x.csv:30: the header says 60 s epochs but the times are 30 s apart"
    ):
        read_counts(sixty, "x.csv", "rpx")
