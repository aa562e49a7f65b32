"""Times written with UTC offsets against --tz: agree, or refused naming both; ActiLife's local 'Z' times."""

import numpy as np
import pandas as pd
import pytest

from sleepmoves.ingest import parse_file
from sleepmoves.ingest.logs import BadInputError
from sleepmoves.ingest.offsets import conflict_reason, written_offsets, zone_offsets
from sleepmoves.ingest.raw import maybe_gunzip, read_raw_csv
from sleepmoves.nights import utc_ns
from tests.conftest import SHARED_DATA

needs_data = pytest.mark.skipif(
    not SHARED_DATA.exists(), reason="../shared/data is absent (not a project checkout)"
)
ANKLE = SHARED_DATA / "ankle"


def test_zone_offsets_follow_every_clock_change():
    utc = pd.date_range("2024-01-01", "2026-12-31", freq="7min", tz="UTC")
    for tz in ("Europe/London", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu"):
        want = (utc.tz_convert(tz).tz_localize(None).as_unit("ns").asi8 - utc.as_unit("ns").asi8) // 10**9
        assert np.array_equal(zone_offsets(utc.as_unit("ns").asi8, tz), want), tz
    texts = ["2026-03-02T21:00:00+01:00", "2026-03-02T21:00:00.000Z", "2026-03-02 21:00:00-0500  ", "x+05:45"]
    assert written_offsets(pd.Series(texts)).tolist() == [3600, 0, -18000, 20700]
    assert written_offsets(pd.Series(["2026-03-02T21:00:00"])) is None
    assert conflict_reason(3600, "America/New_York", -18000) == (
        "the file writes times at +01:00 but --tz America/New_York is -05:00 there; drop --tz or fix it"
    )


def _raw(first: str, zone: str, n: int = 600) -> bytes:
    times = pd.Timestamp(first) + pd.to_timedelta(np.arange(n) * 20, unit="ms")
    text = times.tz_convert(zone).strftime("%Y-%m-%dT%H:%M:%S.%f%z")  # +0100 / -0500
    return ("timestamp,x,y,z\n" + "\n".join(f"{t},0.0,0.0,1.0" for t in text) + "\n").encode()


def test_raw_csv_offsets_must_agree_with_tz():
    summer, first = _raw("2026-07-02T21:00:00Z", "Europe/London"), pd.Timestamp("2026-07-02T21:00:00Z").value
    assert read_raw_csv(summer, "x.csv", tz="Europe/London")[0][0] == first
    assert read_raw_csv(summer, "x.csv")[0][0] == first  # no --tz: the offsets alone
    with pytest.raises(BadInputError) as refused:
        read_raw_csv(summer, "x.csv", tz="America/New_York")
    assert str(refused.value.errors[0]) == (
        "x.csv:2: column timestamp: the file writes times at +01:00 but --tz America/New_York is -04:00 there; "
        "drop --tz or fix it"
    )
    # across the October clock change the file's offsets follow London's: every row is checked, all agree
    change = _raw("2026-10-25T00:59:00Z", "Europe/London", n=6000)
    assert len(read_raw_csv(change, "x.csv", tz="Europe/London")[0]) == 6000
    lagos = r"x.csv:3002: .* at \+00:00 but --tz Africa/Lagos is \+01:00 there"  # +01:00 all year
    with pytest.raises(BadInputError, match=lagos):
        read_raw_csv(change, "x.csv", tz="Africa/Lagos")


@needs_data
def test_biobank_offsets_must_agree_with_tz():
    data = maybe_gunzip((SHARED_DATA / "actigraphy/sample-timeSeries.csv.gz").read_bytes(), "b.csv")
    parsed = parse_file(data, "b.csv", "Europe/London", tz="Europe/London")
    assert parsed.tables["counts"]["start"].iloc[0] == pd.Timestamp("2014-05-07T12:29:50.439Z")
    with pytest.raises(BadInputError) as refused:
        parse_file(data, "b.csv", "Europe/London", tz="America/New_York")
    assert str(refused.value.errors[0]) == (
        "b.csv:2: the file writes times at +01:00 but --tz America/New_York is -04:00 there; drop --tz or fix it"
    )


def test_diary_offsets_must_agree_with_tz():
    diary = (
        b"start,end,activity,note\n"
        b"2026-03-02T19:30:00+00:00,2026-03-02T23:10:00+00:00,sleep,cot\n"
        b"2026-07-02T19:30:00+00:00,,feed,\n"
    )
    assert len(parse_file(diary, "d.csv", "Europe/London", tz="UTC").tables["diary"]) == 2
    with pytest.raises(BadInputError) as refused:
        parse_file(diary, "d.csv", "Europe/London", tz="Europe/London")  # July: +01:00
    assert str(refused.value.errors[0]) == (
        "d.csv:3: the file writes times at +00:00 but --tz Europe/London is +01:00 there; drop --tz or fix it"
    )


@needs_data
def test_actilife_z_times_are_local_and_land_with_their_agd():
    """ActiLife's CSV of an AGD writes the AGD's local times with a 'Z': with --tz both give the same instants."""
    read = {
        name: parse_file((ANKLE / name).read_bytes(), name, "Europe/Berlin", tz="Europe/Berlin")
        for name in (
            "GT3XPlus-RawData-Day01.agd",
            "GT3XPlus-RawData-Day01.csv",
            "GT3XPlus-RawData-Day01-10sec60sec.csv",
        )
    }
    agd, csv10, csv60 = (read[k].tables["counts"] for k in read)
    assert agd["start"].iloc[0] == pd.Timestamp("2012-06-27T08:54:00Z")  # 10:54 in Berlin (CEST, +02:00)
    assert np.array_equal(utc_ns(agd["start"]), utc_ns(csv10["start"]))
    assert np.array_equal(agd["count"], csv10["count"]) and (agd["night"] == csv10["night"]).all()
    minutes = agd.assign(start=pd.to_datetime(agd["start"]).dt.floor("60s")).groupby("start")["count"].sum()
    sixty = csv60.assign(start=pd.to_datetime(csv60["start"])).set_index("start")["count"]
    both = minutes.index.intersection(sixty.index)
    # every minute, value by value (the last minute is partial in both)
    assert len(both) == len(sixty) == 1500
    assert np.array_equal(minutes[both].to_numpy(), sixty[both].to_numpy())
    note = (
        "the times are marked 'Z' (UTC), but ActiLife writes the device's local time that way: "
        "read as local times in Europe/Berlin (--tz)"
    )
    assert read["GT3XPlus-RawData-Day01.csv"].notes == [note] and not read["GT3XPlus-RawData-Day01.agd"].notes
    with pytest.raises(BadInputError, match=r"marked 'Z' \(UTC\), but ActiLife writes .*: pass --tz ZONE"):
        parse_file((ANKLE / "GT3XPlus-RawData-Day01.csv").read_bytes(), "c.csv", "Europe/Berlin")


def test_ingest_prints_each_note(monkeypatch, capsys):
    import sleepmoves.ingest
    from sleepmoves.cli import ingest_paths
    from sleepmoves.ingest import IngestReport
    from sleepmoves.lake import IngestResult

    def fake_ingest(lake, path, subject, **kwargs):
        result = IngestResult("0" * 64, subject, 10, nights=["2012-06-26"])
        return IngestReport(
            result, str(path), "actigraph-iso-csv", notes=["read as local times in Europe/Berlin"]
        )

    monkeypatch.setattr(sleepmoves.ingest, "ingest_file", fake_ingest)
    ingest_paths(None, ["c.csv"], "kim", tz="Europe/Berlin")
    assert "c.csv: note: read as local times in Europe/Berlin" in capsys.readouterr().out
