import datetime as dt
import json

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sleepmoves.ingest.logs import BadInputError, parse_log
from sleepmoves.schema import KINDS, LIMBS, SleepmovesError

HEADER = "time,duration_s,limb,kind,intensity\n"
GOOD = "2026-03-02T20:00:00+00:00,0.3,left_leg,twitch,0.2\n"


def errors_of(text: str | bytes, tz=None, path="night.csv") -> list[str]:
    data = text.encode() if isinstance(text, str) else text
    try:
        return [str(e) for e in parse_log(data, path, tz=tz).errors]
    except BadInputError as exc:
        return [str(e) for e in exc.errors]


def test_bad_timestamp_names_line_and_column():
    errs = errors_of(HEADER + GOOD + "yesterday at 9,0.3,left_leg,twitch,0.2\n")
    assert errs == [
        "night.csv:3: column start: not an ISO 8601 timestamp: 'yesterday at 9' (expected e.g. 2026-03-01T21:15:03+00:00)"
    ]


def test_missing_column_lists_accepted_names():
    errs = errors_of("time,duration_s,limb\n" + "2026-03-02T20:00:00+00:00,0.3,left_leg\n")
    assert errs == ["night.csv:1: column kind: missing required column (accepted names: kind, type)"]


def test_unknown_limb_lists_the_vocabulary():
    (err,) = errors_of(HEADER + "2026-03-02T20:00:00+00:00,0.3,left_foot,twitch,0.2\n")
    assert err.startswith(
        "night.csv:2: column limb: unknown limb 'left_foot'; use one of left_leg, right_leg"
    )


def test_empty_file():
    assert errors_of("") == ["night.csv:1: the file is empty (no header, no events)"]
    assert errors_of("\n\n  \n") == ["night.csv:1: the file is empty (no header, no events)"]
    assert errors_of(HEADER) == ["night.csv:2: no events: the file has a header but no rows"]


def test_non_utf8_bytes_name_the_line():
    data = (HEADER + GOOD).encode() + b"2026-03-02T20:01:00+00:00,0.3,left_leg,twitch,0.2 caf\xe9\n"
    (err,) = errors_of(data)
    assert err.startswith("night.csv:3: not UTF-8 text (byte 0xe9")
    assert "save the file as UTF-8" in err


def test_naive_time_needs_tz_and_says_so():
    (err,) = errors_of(HEADER + "2026-03-02 20:00:00,0.3,left_leg,twitch,0.2\n")
    assert "has no UTC offset" in err and "pass --tz ZONE" in err
    events = parse_log(
        (HEADER + "2026-07-02 20:00:00,0.3,left_leg,twitch,0.2\n").encode(), "x.csv", tz="Europe/London"
    ).events
    assert events["start"].iloc[0] == pd.Timestamp("2026-07-02T19:00:00Z")  # BST is UTC+1


def test_written_offset_and_tz_must_agree():
    events = parse_log((HEADER + GOOD).encode(), "x.csv", tz="Europe/London").events  # GMT: +00:00
    assert events["start"].iloc[0] == pd.Timestamp("2026-03-02T20:00:00Z")
    (err,) = errors_of(HEADER + GOOD, tz="Asia/Tokyo")
    assert err == (
        "night.csv:2: column start: the file writes times at +00:00 but --tz Asia/Tokyo is +09:00 there; "
        "drop --tz or fix it"
    )
    summer = "2026-07-02T20:00:00+01:00,0.3,left_leg,twitch,0.2\n"
    assert not errors_of(HEADER + summer, tz="Europe/London")  # BST: +01:00 in July
    assert "--tz America/New_York is -04:00" in errors_of(HEADER + summer, tz="America/New_York")[0]


def test_dst_gap_and_repeat_are_refused_with_a_hint():
    errs = errors_of(
        HEADER + "2026-03-29 01:30:00,0.3,left_leg,twitch,\n2026-10-25 01:30:00,0.3,left_leg,twitch,\n",
        tz="Europe/London",
    )
    assert errs == [
        "night.csv:2: column start: '2026-03-29 01:30:00' does not exist in Europe/London (clocks went forward); add the UTC offset",
        "night.csv:3: column start: '2026-10-25 01:30:00' happens twice in Europe/London (clocks went back); add the UTC offset",
    ]


def test_aliases_and_word_normalisation():
    text = "Timestamp,Duration_ms,Side,Type\n2026-03-02T20:00:00Z,1500,Right Leg,Kick\n2026-03-02T20:00:09Z,,,startle\n"
    events = parse_log(text.encode(), "x.csv").events
    assert list(events["kind"]) == ["kick", "startle"]
    assert list(events["limb"]) == ["right_leg", "unknown"]
    assert events["duration_s"].iloc[0] == 1.5 and pd.isna(events["duration_s"].iloc[1])


def test_two_columns_meaning_the_same_thing_is_refused():
    assert errors_of("time,timestamp,kind\n2026-03-02T20:00:00Z,2026-03-02T20:00:00Z,kick\n") == [
        "night.csv:1: column timestamp: two columns mean start; keep one"
    ]


def test_every_bad_row_is_reported_not_just_the_first():
    rows = (
        HEADER
        + GOOD
        + "2026-03-02T20:00:01+00:00,-1,left_leg,twitch,0.2\n"
        + GOOD
        + "2026-03-02T20:00:03+00:00,0.3,left_leg,twitch,1.5\n"
    )
    assert errors_of(rows) == [
        "night.csv:3: column duration_s: -1 s is outside 0 to 3600 s",
        "night.csv:5: column intensity: 1.5 is outside 0 to 1",
    ]


def test_nan_and_inf_are_not_numbers():
    errs = errors_of(HEADER + "2026-03-02T20:00:00Z,nan,left_leg,twitch,inf\n")
    assert errs == [
        "night.csv:2: column duration_s: not a finite number: 'nan'",
        "night.csv:2: column intensity: not a finite number: 'inf'",
    ]


def test_json_lines_with_line_numbers():
    lines = [
        json.dumps({"time": "2026-03-02T20:00:00Z", "kind": "twitch", "limb": "left_leg", "duration_s": 0.2}),
        "",
        json.dumps({"timestamp": "2026-03-02T20:00:05Z", "type": "hiccup"}),
        "{broken",
    ]
    parsed = parse_log("\n".join(lines).encode(), "night.jsonl")
    assert len(parsed.events) == 1 and parsed.format == "jsonl"
    assert [str(e) for e in parsed.errors] == [
        "night.jsonl:3: column kind: unknown kind 'hiccup'; use one of twitch, kick, startle, shake, stretch, other, "
        "recording_start, recording_stop",
        "night.jsonl:4: invalid JSON (Expecting property name enclosed in double quotes at character 2)",
    ]


def test_unknown_zone_is_refused():
    with pytest.raises(SleepmovesError, match="unknown time zone 'Europe/Lndon'"):
        parse_log((HEADER + GOOD).encode(), "x.csv", tz="Europe/Lndon")


# ---------------------------------------------------------------------- properties
events_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "start": st.datetimes(
                min_value=dt.datetime(1990, 1, 1),
                max_value=dt.datetime(2100, 1, 1),
                timezones=st.just(dt.UTC),
            ),
            "offset_min": st.integers(-12 * 60, 14 * 60).map(lambda m: m - m % 15),
            "duration_s": st.one_of(st.none(), st.floats(0, 3600, allow_nan=False)),
            "limb": st.sampled_from(LIMBS),
            "kind": st.sampled_from(KINDS),
            "intensity": st.one_of(st.none(), st.floats(0, 1, allow_nan=False)),
        }
    ),
    min_size=1,
    max_size=30,
)


def _cell(value) -> str:
    return "" if value is None else repr(float(value))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events_strategy, st.sampled_from(["csv", "jsonl"]))
def test_valid_logs_round_trip(rows, fmt):
    """Whatever valid events a parent writes (any offset, either format) come back exactly, sorted by time."""
    written = []
    for r in rows:
        local = r["start"].astimezone(dt.timezone(dt.timedelta(minutes=r["offset_min"])))
        written.append({**r, "time": local.isoformat()})
    if fmt == "csv":
        text = HEADER + "".join(
            f"{w['time']},{_cell(w['duration_s'])},{w['limb']},{w['kind']},{_cell(w['intensity'])}\n"
            for w in written
        )
    else:
        text = "\n".join(
            json.dumps({k: w[k] for k in ("time", "duration_s", "limb", "kind", "intensity")})
            for w in written
        )
    parsed = parse_log(text.encode(), f"x.{fmt}")
    assert parsed.errors == []
    got = parsed.events
    want = sorted(written, key=lambda w: w["start"])
    assert list(got["start"]) == [pd.Timestamp(w["start"]).floor("us") for w in want]
    assert list(got["kind"]) == [w["kind"] for w in want]
    assert list(got["limb"]) == [w["limb"] for w in want]
    for value, w in zip(got["duration_s"], want, strict=True):
        assert (pd.isna(value) and w["duration_s"] is None) or value == w["duration_s"]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000), st.sampled_from(["x.csv", "x.jsonl", "x.dat"]))
def test_random_bytes_never_crash(data, name):
    """Any bytes give events or a clear error naming the file, never another exception."""
    try:
        parsed = parse_log(data, name, tz="Europe/London")
    except BadInputError as exc:
        assert exc.errors and all(str(e).startswith(name + ":") for e in exc.errors)
        return
    except SleepmovesError as exc:  # a file-level problem (a damaged gzip stream)
        assert str(exc).startswith(name + ":")
        return
    for e in parsed.errors:
        assert str(e).startswith(name + ":")


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=40), min_size=5, max_size=5
    )
)
def test_random_cells_give_row_errors_not_crashes(cells):
    text = HEADER + ",".join(c.replace("\n", " ").replace("\r", " ").replace('"', "") for c in cells) + "\n"
    try:
        parsed = parse_log(text.encode(), "x.csv", tz="UTC")
    except BadInputError as exc:
        assert all(str(e).startswith("x.csv:") for e in exc.errors)
        return
    assert len(parsed.events) + len({e.line for e in parsed.errors}) == 1


# ---------------------------------------------------------------------- read a block at a time
@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.text(alphabet="ab,é\t€ 1", max_size=12), st.sampled_from(["\n", "\r\n", "\r"])),
        max_size=30,
    ),
    st.integers(min_value=1, max_value=17),
    st.booleans(),
    st.booleans(),
)
def test_lines_read_in_blocks_are_the_lines_of_the_whole_text(lines, block, bom, gzipped):
    """However the blocks fall (inside a character, between "\\r" and "\\n"), the lines are those of the text."""
    import gzip

    from sleepmoves.ingest.text import split_lines, text_lines

    text = "".join(a + b for a, b in lines)
    data = (b"\xef\xbb\xbf" if bom else b"") + text.encode()
    stored = gzip.compress(data) if gzipped else data
    assert list(text_lines(stored, "x.csv", block=block)) == list(split_lines(text))


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=400), st.integers(min_value=1, max_value=64), st.booleans())
def test_a_bad_byte_read_in_blocks_names_the_same_line_and_offset_as_the_whole_file(at, block, bom):
    from sleepmoves.ingest.errors import decode
    from sleepmoves.ingest.text import text_lines

    body = (HEADER + GOOD * 12).encode()
    at = min(at, len(body))
    data = (b"\xef\xbb\xbf" if bom else b"") + body[:at] + b"\xff" + body[at:]
    with pytest.raises(BadInputError) as whole:
        decode(data, "x.csv")
    with pytest.raises(BadInputError) as streamed:
        list(text_lines(data, "x.csv", block=block))
    assert str(streamed.value) == str(whole.value)
    bad = data.index(b"\xff")
    assert f"offset {bad})" in str(streamed.value)


def test_a_log_read_in_batches_gives_the_rows_of_the_log_read_whole():
    from sleepmoves.ingest.logs import LogReader

    rows = [
        f"2026-03-0{2 + i % 3}T2{i % 4}:00:{i % 60:02d}+00:00,0.{i % 9},left_leg,twitch,0.2\n"
        for i in range(250)
    ]
    data = (HEADER + "".join(rows)).encode()
    whole = parse_log(data, "x.csv").events
    reader = LogReader(data, "x.csv", batch_rows=16)
    batches = list(reader.batches())
    assert [len(b) for b in batches] == [16] * 15 + [10]
    together = pd.concat(batches, ignore_index=True).sort_values("start", kind="stable", ignore_index=True)
    pd.testing.assert_frame_equal(together, whole)
    assert reader.rows == 250 and reader.first == whole["start"].min() and reader.last == whole["start"].max()


def test_many_bad_rows_are_counted_in_the_refusal(tmp_path):
    from sleepmoves.ingest import parse_file
    from sleepmoves.ingest.errors import MAX_ERRORS_KEPT

    data = (HEADER + GOOD + "yesterday,0.3,left_leg,twitch,0.2\n" * 2500).encode()
    with pytest.raises(BadInputError) as refused:
        parse_file(data, "x.csv", "UTC")
    assert refused.value.count == 2500 and len(refused.value.errors) == MAX_ERRORS_KEPT
    assert str(refused.value).startswith("x.csv: 2500 problems; nothing was written")
    assert str(refused.value).splitlines()[-1] == "  ... and 2480 more"
    assert refused.value.errors[-1].line == MAX_ERRORS_KEPT + 2
