"""Column names, dtypes and vocabularies: the single source of truth for the lake.

Every table that goes into the lake is built against the Arrow schemas here, so a
typo in a column name fails loudly at write time instead of producing a second,
silently different column.
"""

from __future__ import annotations

import re

import pyarrow as pa

EPOCH_S = 30  # AASM infant scoring epoch (science.md)

PHASES = ("awake", "active", "quiet", "transition")
SLEEP_PHASES = ("active", "quiet", "transition")
# Sleep/wake-only scoring (activity counts): a sleep epoch whose phase the data cannot tell. Phase tables of
# counts-only nights hold "awake" or "asleep", never an active/quiet claim.
ASLEEP = "asleep"
SCORED_PHASES = (*PHASES, ASLEEP)
ASLEEP_PHASES = (*SLEEP_PHASES, ASLEEP)  # every phase word that is sleep

# Coverage state of each 30-s epoch of a night's grid (design.md "One time grid").
RECORDED, NO_DATA, NOT_WORN = "recorded", "no_data", "not_worn"
COVERAGE_STATES = (RECORDED, NO_DATA, NOT_WORN)
PHASE_LETTERS = {"awake": "W", "active": "R", "quiet": "N", "transition": "T"}
LETTER_PHASES = {v: k for k, v in PHASE_LETTERS.items()}

LIMBS = ("left_leg", "right_leg", "left_arm", "right_arm", "head", "trunk", "whole_body", "unknown")
KINDS = ("twitch", "kick", "startle", "shake", "stretch", "other")

# Subject ids become folder names: nothing that could climb out of the lake.
SUBJECT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
NIGHT_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

UTC_TS = pa.timestamp("us", tz="UTC")

SUBJECTS = pa.schema(
    [
        ("subject", pa.string()),
        ("born", pa.date32()),
        ("tz", pa.string()),
        ("label", pa.string()),
        ("sleepwake", pa.string()),  # the baby's sleep/wake algorithm for counts (None = by device)
    ]
)

MANIFEST = pa.schema(
    [
        ("sha256", pa.string()),
        ("path", pa.string()),
        ("format", pa.string()),
        ("subject", pa.string()),
        ("rows", pa.int64()),
        ("nights", pa.int64()),
        ("ingested_at", UTC_TS),
    ]
)

# Partition columns (subject, night) live in the folder names, not in the files:
# readers get them back from the hive partitioning below.
PARTITIONING = pa.schema([("subject", pa.string()), ("night", pa.string())])

EVENTS = pa.schema(
    [
        ("start", UTC_TS),
        ("duration_s", pa.float64()),
        ("limb", pa.string()),
        ("kind", pa.string()),
        ("intensity", pa.float64()),
        ("source", pa.string()),
        ("source_sha", pa.string()),
    ]
)

# Epoch activity per limb: counts read from actigraphy files, or movement derived from raw acceleration.
# valid = False marks no data (gap, flat signal, sensor not worn): shown as no data, never as quiet sleep;
# worn = False says why (the device's off-wrist column, Choi non-wear for counts, van Hees for raw).
# wake_threshold: the threshold the device software states in the file (Actiware); sleepwake: an algorithm
# chosen for this recording at ingest (``--sleepwake``); both null when not given.
COUNTS = pa.schema(
    [
        ("start", UTC_TS),
        ("epoch_s", pa.int32()),
        ("count", pa.float64()),
        ("limb", pa.string()),
        ("valid", pa.bool_()),
        ("worn", pa.bool_()),
        ("wake_threshold", pa.float64()),
        ("sleepwake", pa.string()),
        ("source_sha", pa.string()),
    ]
)

# When an event log was recording (a monitor on): explicit recording start/stop rows, else the span of the
# file's events. Outside these spans, and in silences no infant sleep cycle could hold, there is no data.
RECORDING = pa.schema(
    [
        ("start", UTC_TS),
        ("end", UTC_TS),
        ("source_sha", pa.string()),
    ]
)

DIARY_ACTIVITIES = ("sleep", "feed", "diaper", "visit", "other")
DIARY = pa.schema(
    [
        ("start", UTC_TS),
        ("end", UTC_TS),
        ("activity", pa.string()),
        ("note", pa.string()),
        ("source_sha", pa.string()),
    ]
)

PHASE_TABLE = pa.schema(
    [
        ("epoch_start", UTC_TS),
        ("phase", pa.string()),
        ("p_awake", pa.float64()),
        ("p_active", pa.float64()),
        ("p_quiet", pa.float64()),
        ("p_transition", pa.float64()),
        ("model_version", pa.string()),
    ]
)

# A scorer's labels of one night (the Score page, :mod:`sleepmoves.labels`): one row per epoch scored.
LABELS = pa.schema(
    [
        ("epoch_start", UTC_TS),
        ("phase", pa.string()),
        ("scorer", pa.string()),
        ("scored_at", UTC_TS),  # when this epoch was last scored
        ("model_version", pa.string()),  # the model whose phases the night had when the scorer saw it
    ]
)
# who scores: a dashboard user name (also a file-name prefix in the labels table)
SCORER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")

PROBA_COLUMNS = tuple(f"p_{p}" for p in PHASES)
# An epoch whose (calibrated) most probable phase has less than this probability is "unsure": drawn pale. At 0.6
# the model is right about 60 % of the time in the shipped model's held-out reliability bins (data/models).
UNSURE_BELOW = 0.6

# Lake tables that are partitioned by subject and night.
PARTITIONED_TABLES = ("events", "counts", "recording", "diary", "epochs", "phases", "nights", "labels")


class SleepmovesError(Exception):
    """An error caused by the user's input: shown as a message, never a traceback (exit code 1).

    Every message names what was wrong (the file, and its line and column when it has them) and, where there is
    one, what to do; :class:`sleepmoves.ingest.BadInputError` lists every bad row of a file.
    """


def read_only_lake(root, exc: OSError) -> SleepmovesError:
    """The error for a write into a lake folder this user may not write."""
    return SleepmovesError(
        f"the lake folder {root} is read-only for this user ({exc.strerror}): nothing was written. Run "
        "sleepmoves as the user who owns it, or copy the lake somewhere writable"
    )


# Times outside these years are refused: a typo or an unset clock, never an infant's night. Device files allow
# earlier years because anonymised research recordings are often shifted to the 1910s.
YEARS = (1970, 2200)
DEVICE_YEARS = (1900, 2200)


def check_subject_id(subject: str) -> str:
    """Return ``subject`` if it is a valid subject id, else raise :class:`SleepmovesError`."""
    if not isinstance(subject, str) or not SUBJECT_ID_RE.fullmatch(subject):
        raise SleepmovesError(
            f"invalid subject id {subject!r}: use 1-64 letters, digits, '_' or '-', starting with a letter or digit"
        )
    return subject


def check_scorer(name: str) -> str:
    """Return ``name`` if it can name a scorer (a user name: letters, digits and . _ @ -), else raise."""
    if not isinstance(name, str) or not SCORER_RE.fullmatch(name):
        raise SleepmovesError(
            f"invalid scorer name {name!r}: use 1-64 letters, digits, '.', '_', '@' or '-', starting with a "
            "letter or digit"
        )
    return name


def check_night(night: str) -> str:
    """Return ``night`` if it looks like YYYY-MM-DD, else raise :class:`SleepmovesError`."""
    if not isinstance(night, str) or not NIGHT_RE.fullmatch(night):
        raise SleepmovesError(f"invalid night {night!r}: expected YYYY-MM-DD")
    return night


def normalise_word(value: str) -> str:
    """Lower-case a vocabulary word and turn spaces and hyphens into underscores ("Left Leg" -> "left_leg")."""
    return re.sub(r"[\s\-]+", "_", str(value).strip().lower())


def phase_from_label(value: str) -> str | None:
    """Map a phase word or AASM letter (W/R/N/T) to the sleepmoves phase word; None when unknown."""
    word = normalise_word(value)
    if word in PHASES:
        return word
    return LETTER_PHASES.get(word.upper())
