"""`make bench`: figures for this machine, each a median over repeats beside a baseline from the same run.

So far: ingest + process time per log night (baseline: pandas reading the same CSV), and the lake
queries behind the night page (baseline: plain pyarrow reading the same Parquet files).
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the project root
from benchmarks import scale  # noqa: E402
from sleepmoves.detect import detect_events, epoch_coverage, movement_magnitude
from sleepmoves.ingest import ingest_file
from sleepmoves.lake import Lake
from sleepmoves.model import load_model
from sleepmoves.process import process
from sleepmoves.simulate import make_babies, raw_night, write_simulation


def median_time(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def naive_magnitude(acc, fs: float) -> list[float]:
    """Baseline: a per-sample Python loop doing the same gravity removal (one-pole high-pass) and magnitude."""
    alpha = 1 / (1 + 2 * 3.14159 * 0.5 / fs)
    prev, prev_out, out = acc[0], [0.0, 0.0, 0.0], []
    for sample in acc:
        hp = [alpha * (prev_out[k] + sample[k] - prev[k]) for k in range(3)]
        out.append((hp[0] ** 2 + hp[1] ** 2 + hp[2] ** 2) ** 0.5)
        prev, prev_out = sample, hp
    return out


def detection_throughput() -> None:
    baby = make_babies(3, seed=1)[1]
    import datetime as dt

    t0, acc, _, _ = raw_night(baby, dt.date(2026, 3, 10))
    samples = sum(len(a) for a in acc.values())

    def run():
        for limb, signal in acc.items():
            mag = movement_magnitude(signal, 50)
            detect_events(signal, 50, t0, limb=limb, magnitude=mag)
            epoch_coverage(signal, 50, t0, magnitude=mag)

    seconds = median_time(run, 3)
    part = acc["left_leg"][: 50 * 60]  # one minute through the per-sample loop, scaled up
    naive = median_time(lambda: naive_magnitude(part.tolist(), 50), 3) * samples / len(part)
    print(
        f"raw detection, 12-h two-ankle 50-Hz night ({samples / 1e6:.1f} M samples): {seconds:6.2f} s = {samples / seconds / 1e6:6.1f} M samples/s"
    )
    print(
        f"  baseline per-sample Python loop (magnitude only): {naive:8.1f} s  ratio {naive / seconds:6.0f}x faster"
    )


def rpx_read() -> None:
    """Reading an Actiware export of 20,160 epochs (a week of 30-s epochs): ours beside a plain pandas.read_csv of
    the same epoch table (no dates parsed, no checks) as the baseline; pyActigraphy's reader when installed."""
    import csv
    import io

    from sleepmoves.ingest.counts import read_counts

    shared = Path(__file__).resolve().parents[2] / "shared" / "data"
    sample = shared / "actigraphy" / "test_sample_rpx_eng.csv"
    if not sample.exists():
        print("RPX read: skipped (../shared/data/actigraphy/test_sample_rpx_eng.csv is absent)")
        return
    text = sample.read_bytes().decode("utf-8-sig")
    header_at = text.index('"Line","Date","Time","Activity"')
    header, *rows = [r for r in text[header_at:].split("\r\n") if r]
    # the sample's epochs, repeated to 20,160 with their line numbers and times running on
    start = pd.Timestamp("2015-07-04 09:45:00")
    lines = []
    for k in range(20160):
        cells = next(csv.reader([rows[k % len(rows)]]))
        t = start + pd.Timedelta(seconds=30 * k)
        cells[:3] = [str(k + 1), f"{t:%d/%m/%Y}", f"{t:%H:%M:%S}"]
        lines.append(",".join(f'"{c}"' for c in cells))
    data = (text[:header_at] + header + "\r\n\r\n" + "\r\n".join(lines) + "\r\n").encode("utf-8")
    epochs = len(read_counts(data, "week.csv", "rpx").count)
    ours = median_time(lambda: read_counts(data, "week.csv", "rpx"), 11)
    skip = text[:header_at].count("\n") + 1
    baseline = median_time(lambda: pd.read_csv(io.BytesIO(data), skiprows=skip, header=None), 11)
    before = "the previous reader: 215 ms where the issue measured it"
    print(f"RPX read, {epochs} epochs: {ours * 1000:6.1f} ms   (target <= 85 ms; {before})")
    print(
        f"  baseline pandas.read_csv of the same table: {baseline * 1000:6.1f} ms  ratio {ours / baseline:4.1f}x"
    )
    try:
        from pyActigraphy.io import read_raw_rpx
    except ImportError:
        return
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "week.csv"
        path.write_bytes(data)
        theirs = median_time(lambda: read_raw_rpx(str(path), language="ENG_UK"), 5)
    print(f"  pyActigraphy read_raw_rpx: {theirs * 1000:6.1f} ms  ratio {ours / theirs:4.1f}x")


def night_of_cwa_blocks(blocks: list[bytes], header: bytes, hours: float = 10.0) -> bytes:
    """A CWA file of ``hours`` of 100-Hz AX3 blocks: the sample's blocks over and over, each given its own
    sequence number, a whole-second time 1.2 s after the last and a checksum that sums its words to zero."""
    import numpy as np

    n = int(hours * 3600 / 1.2)
    raw = (
        np.frombuffer(b"".join(blocks[k % len(blocks)] for k in range(n)), dtype=np.uint8)
        .reshape(n, 512)
        .copy()
    )
    start = pd.Timestamp("2026-03-02 19:00:00")
    seconds = (np.arange(n) * 1.2).astype(np.int64)
    stamps = [start + pd.Timedelta(seconds=int(s)) for s in seconds]
    packed = np.array(
        [
            ((t.year - 2000) << 26)
            | (t.month << 22)
            | (t.day << 17)
            | (t.hour << 12)
            | (t.minute << 6)
            | t.second
            for t in stamps
        ],
        dtype="<u4",
    )
    raw[:, 4:6] = 0  # no fraction of a second: the whole second is the time
    raw[:, 10:14] = np.arange(n, dtype="<u4").view(np.uint8).reshape(n, 4)
    raw[:, 14:18] = packed.view(np.uint8).reshape(n, 4)
    raw[:, 26:28] = np.round((np.arange(n) * 1.2 - seconds) * -100).astype("<i2").view(np.uint8).reshape(n, 2)
    words = raw.view("<u2")
    words[:, 255] = 0
    words[:, 255] = (-words.sum(axis=1, dtype=np.uint16)).astype(np.uint16)
    return header + raw.tobytes()


def cwa_decode() -> None:
    """Decoding a 10-hour AX3 night (100 Hz): ours beside the least any reader does, NumPy viewing the same
    bytes as blocks of 16-bit words, as the baseline."""
    import numpy as np

    from sleepmoves.ingest.cwa import decode_cwa

    sample = Path(__file__).resolve().parents[2] / "shared" / "data" / "raw" / "ax3_testfile.cwa"
    if not sample.exists():
        print("CWA decode: skipped (../shared/data/raw/ax3_testfile.cwa is absent)")
        return
    data = sample.read_bytes()
    night = night_of_cwa_blocks([data[i : i + 512] for i in range(1024, len(data), 512)], data[:1024])
    samples = len(decode_cwa(night).accel)
    ours = median_time(lambda: decode_cwa(night), 5)
    baseline = median_time(
        lambda: np.frombuffer(night, dtype="<i2", offset=1024).reshape(-1, 256).sum(axis=1), 5
    )
    print(
        f"CWA decode, 10 h at 100 Hz ({samples:,} samples, {len(night) / 1e6:.0f} MB): {ours * 1000:6.0f} ms"
    )
    print(f"  baseline NumPy view of the blocks: {baseline * 1000:6.1f} ms  ratio {ours / baseline:4.0f}x")


def png_export(lake: Lake) -> None:
    from sleepmoves.dashboard.downloads import png_bytes
    from sleepmoves.dashboard.export import PAGE, night_summary_figure

    subject = lake.subjects()["subject"].iloc[0]
    night = lake.nights(subject)[-1]
    fig = night_summary_figure(lake, subject, night)
    t = time.perf_counter()
    png_bytes(fig, *PAGE, persistent=True)
    cold = time.perf_counter() - t
    warm = median_time(
        lambda: png_bytes(night_summary_figure(lake, subject, night), *PAGE, persistent=True), 5
    )
    one_shot = median_time(lambda: png_bytes(fig, *PAGE, persistent=False), 2)
    print(f"PNG night summary: cold {cold:.2f} s (browser start), warm {warm:.2f} s   (target warm <= 1.5 s)")
    print(f"  baseline one-shot fig.to_image (a browser per image): {one_shot:.2f} s")


def incremental(lake: Lake) -> None:
    t = time.perf_counter()
    done = process(lake)
    print(
        f"process on an unchanged lake ({sum(len(lake.nights(s)) for s in lake.subjects()['subject'])} nights): {(time.perf_counter() - t) * 1000:.0f} ms, {len(done)} nights redone"
    )


def peak_memory() -> None:
    """Peak resident memory of ingesting one raw night, in a fresh process, against the night's array size.

    Measured twice: as the process's first ingest (it also pays for modules imported on first use) and after a
    one-minute warm-up file (the memory the night itself costs).
    """
    import datetime as dt
    import subprocess
    import sys

    from sleepmoves.simulate import write_raw_csv

    baby = make_babies(3, seed=1)[1]
    t0, acc, _, _ = raw_night(baby, dt.date(2026, 3, 10))
    arrays = sum(a.nbytes for a in acc.values())
    with_times = arrays + 8 * len(next(iter(acc.values())))
    with tempfile.TemporaryDirectory() as folder:
        write_raw_csv(Path(folder) / "night.csv.gz", t0, acc)
        write_raw_csv(Path(folder) / "minute.csv.gz", t0, {k: v[: 50 * 60] for k, v in acc.items()})
        del acc
        for warm in (False, True):
            code = f"""
from sleepmoves.lake import Lake
from sleepmoves.ingest import ingest_file
import sleepmoves.ingest.raw, sleepmoves.detect, pyarrow.csv  # imported before the baseline
def status(key):
    return int(next(l for l in open("/proc/self/status") if l.startswith(key)).split()[1]) * 1024
lake = Lake({folder!r} + "/lake{int(warm)}"); lake.add_subject("b", "Europe/London"); lake.add_subject("w", "Europe/London")
if {warm}:
    ingest_file(lake, {folder!r} + "/minute.csv.gz", "w")
open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM) to the current size
before = status("VmRSS:")
ingest_file(lake, {folder!r} + "/night.csv.gz", "b")
print(before, status("VmHWM:"))
"""
            out = subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            ).stdout.split()
            extra = int(out[-1]) - int(out[-2])
            print(
                f"peak memory, ingest of one 12-h two-ankle 50-Hz raw night (gzip CSV), "
                f"{'after a warm-up file' if warm else 'first in a fresh process'}: +{extra / 1e6:.0f} MB = "
                f"{extra / arrays:.1f}x the night's float32 arrays ({arrays / 1e6:.0f} MB), "
                f"{extra / with_times:.1f}x with its int64 times   (target <= 3x)"
            )


def log_memory(megabytes: int = 60) -> None:
    """Peak resident memory of `sleepmoves ingest --no-process` of a large event log and of one a tenth its size
    (each in a child process): a log is read a batch of rows at a time, so the peak must not grow with the file.
    Beside them, pandas.read_csv of the large file in another child (the baseline)."""
    import subprocess
    import sys

    import pyarrow as pa

    from sleepmoves.ingest.logs import LogReader

    def write_log(path: Path, size: int) -> None:
        line = "{t},0.3,left_leg,twitch,0.25\n"
        with open(path, "w") as fh:
            fh.write("start,duration_s,limb,kind,intensity\n")
            start = pd.Timestamp("2024-01-01T20:00:00Z")
            block = pd.date_range(start, periods=20000, freq="1s").strftime("%Y-%m-%dT%H:%M:%S+00:00")
            day = 0
            while fh.tell() < size:
                shift = pd.Timedelta(days=day)
                fh.write("".join(line.format(t=(start + shift).strftime("%Y-%m-%d") + t[10:]) for t in block))
                day += 1

    peak = "int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM:')).split()[1]) * 1024"

    def ours(log: Path, lake: Path) -> str:
        return f"""
from sleepmoves.cli import main
code = main(["subject", "add", "big", "--tz", "UTC", "--lake", {str(lake)!r}])
code = main(["ingest", {str(log)!r}, "--subject", "big", "--no-process", "--lake", {str(lake)!r}])
assert code == 0
print({peak})
"""

    def child(code: str) -> int:
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        return int(run.stdout.split()[-1])

    with tempfile.TemporaryDirectory() as folder:
        big, small, one = (Path(folder) / name for name in ("big.csv", "small.csv", "one.csv"))
        write_log(big, megabytes * 1_000_000)
        write_log(small, megabytes * 100_000)
        one.write_text(
            "start,duration_s,limb,kind,intensity\n2024-01-01T20:00:00+00:00,0.3,left_leg,twitch,0.25\n"
        )
        batch = next(LogReader(big, "big.csv").batches())
        batch_bytes = pa.RecordBatch.from_pandas(batch, preserve_index=False).nbytes
        peaks = {log: child(ours(log, Path(folder) / f"lake-{log.stem}")) for log in (one, small, big)}
        base = child(f"import pandas as pd\nframe = pd.read_csv({str(big)!r})\nprint({peak})")
        sizes = {log: log.stat().st_size for log in (small, big)}
    print(
        f"peak memory, `sleepmoves ingest` of an event log, over that of a one-event log "
        f"({peaks[one] / 1e6:.0f} MB): {sizes[small] / 1e6:.0f} MB log +{(peaks[small] - peaks[one]) / 1e6:.0f} MB, "
        f"{sizes[big] / 1e6:.0f} MB log +{(peaks[big] - peaks[one]) / 1e6:.0f} MB   "
        f"(target: bounded, <= 32 MB whatever the size; was 18x the file)"
    )
    print(
        f"  read {len(batch):,} rows a batch ({batch_bytes / 1e6:.1f} MB as columns); the baseline "
        f"pandas.read_csv of the {sizes[big] / 1e6:.0f} MB log peaks at {base / 1e6:.0f} MB ({base / sizes[big]:.1f}x)"
    )


def upload_memory(megabytes: int = 190) -> None:
    """Peak memory growth of the real server (``sleepmoves serve``) receiving one large upload."""
    import http.client
    import json
    import socket
    import subprocess
    import sys
    import urllib.request

    def peak(pid: int) -> int:
        with open(f"/proc/{pid}/status") as fh:
            return int(next(line for line in fh if line.startswith("VmHWM:")).split()[1]) * 1024

    with tempfile.TemporaryDirectory() as folder:
        big = Path(folder) / "big.bin"
        with open(big, "wb") as fh:
            for _ in range(megabytes):
                fh.write(os.urandom(1 << 20))
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = subprocess.Popen(
            [sys.executable, "-m", "sleepmoves.cli", "serve", "--lake", f"{folder}/lake", "--port", str(port),
             "--max-upload-mb", str(megabytes + 10)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            for _ in range(120):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
                    break
                except OSError:
                    time.sleep(0.5)
            before = peak(server.pid)
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
            t = time.perf_counter()
            with open(big, "rb") as body:
                connection.request(
                    "POST", "/upload?name=big.bin", body=body,
                    headers={"Content-Type": "application/octet-stream", "Content-Length": str(big.stat().st_size)},
                )  # fmt: skip
            answer = connection.getresponse()
            json.loads(answer.read())
            seconds = time.perf_counter() - t
            grown = peak(server.pid) - before
        finally:
            server.terminate()
            server.wait(timeout=10)
    print(
        f"upload of a {megabytes} MB file to the real server: peak memory +{grown / 1e6:.0f} MB "
        f"(from {before / 1e6:.0f} MB), {seconds:.1f} s   (was +1,090 MB: a base64 JSON callback)"
    )


def cohort_memory() -> None:
    """Peak resident memory of simulating, ingesting and processing a 100-night cohort (a child process)."""
    import subprocess
    import sys

    code = """
import tempfile, pathlib
import pandas as pd
from sleepmoves.simulate import write_simulation
from sleepmoves.lake import Lake
from sleepmoves.ingest import ingest_file
from sleepmoves.process import process
folder = pathlib.Path(tempfile.mkdtemp())
write_simulation(folder / "sim", babies=4, weeks=4, seed=5)  # 112 nights
def status(key):
    return int(next(l for l in open("/proc/self/status") if l.startswith(key)).split()[1]) * 1024
open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM) to the current size
before = status("VmRSS:")
lake = Lake(folder / "lake")
for row in pd.read_csv(folder / "sim" / "subjects.csv", dtype=str).itertuples():
    lake.add_subject(row.subject, row.tz, born=row.born)
    ingest_file(lake, folder / "sim" / "logs" / f"{row.subject}.csv", row.subject)
import time; t = time.perf_counter(); done = process(lake); seconds = time.perf_counter() - t
print(len(done), before, status("VmHWM:"), seconds)
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    nights, before, after, seconds = int(out[-4]), int(out[-3]), int(out[-2]), float(out[-1])
    print(
        f"cohort of {nights} log nights: processed in {seconds:.1f} s ({seconds / nights * 1000:.0f} ms a night), "
        f"peak memory {after / 1e6:.0f} MB (+{(after - before) / 1e6:.0f} MB over the process before ingest)"
    )


def main() -> None:
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    rpx_read()
    cwa_decode()
    detection_throughput()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_simulation(tmp / "sim", babies=1, weeks=1, seed=1)
        subjects = pd.read_csv(tmp / "sim" / "subjects.csv", dtype=str)
        row = next(subjects.itertuples())
        log = tmp / "sim" / "logs" / f"{row.subject}.csv"
        load_model()  # warm the import and file cache: we time the pipeline, not the first import

        def ingest_and_process(i=[0]):  # noqa: B006 - a counter: every repeat gets a fresh lake
            i[0] += 1
            lake = Lake(tmp / f"lake{i[0]}")
            lake.add_subject(row.subject, row.tz, born=row.born)
            result = ingest_file(lake, log, row.subject).result
            process(lake, [row.subject], {row.subject: result.nights})

        per_week = median_time(ingest_and_process, 3)
        baseline = median_time(lambda: pd.read_csv(log), 5)
        print(f"ingest + process, one log night: {per_week / 7 * 1000:8.1f} ms   (target <= 200 ms)")
        print(
            f"  baseline pandas.read_csv of the same log: {baseline / 7 * 1000:8.1f} ms per night  ratio {per_week / baseline:5.1f}x"
        )

        lake = Lake(tmp / "lake1")
        night = lake.nights(row.subject)[3]

        def night_page():
            lake.subject(row.subject)
            lake.nights(row.subject)
            lake.events(row.subject, night)
            lake.phases(row.subject, night)
            lake.night_summary(row.subject, night)

        files = [
            p
            for t in ("events", "phases", "nights")
            for p in (lake.root / t / f"subject={row.subject}" / f"night={night}").glob("*.parquet")
        ]
        page = median_time(night_page, 20)
        raw = median_time(lambda: [pq.read_table(f) for f in files], 20)
        print(f"night-page queries: {page * 1000:8.1f} ms   (target <= 150 ms)")
        print(
            f"  baseline plain pyarrow read of the same files: {raw * 1000:8.1f} ms  ratio {page / raw:5.1f}x"
        )
        incremental(lake)
        scale.report(lake)
        png_export(lake)
    peak_memory()
    log_memory()
    upload_memory()
    cohort_memory()


if __name__ == "__main__":
    main()
