"""Binary raw-acceleration files: Axivity CWA (AX3, AX6), ActiGraph GT3X (NEO and current), GENEActiv BIN.

* CWA is decoded by ``cwa.py`` from Open Movement's published block format (why not a library: see there);
  its values are checked value by value against scikit-digital-health's reference arrays of
  ``ax3_sample.cwa`` and the AX6 CSV export. Damaged blocks are gaps (no data), counted in a note.
* GT3X is read from ActiGraph's published file format (github.com/actigraph/GT3X-File-Format): the
  older NHANES-style ``activity.bin`` (NEO, CLE: a continuous stream of 12-bit samples) and the current
  ``log.bin`` (records; ACTIVITY packed 12-bit and ACTIVITY2 16-bit payloads). Seconds the device spent
  in idle-sleep mode have no record: they are gaps, stored as no data. Checked value by value against
  ActiLife's own CSV export of ``neo.gt3x``.
* GENEActiv BIN is read from the published text/hex page format with the file's own calibration
  (gain and offset per axis).

All three devices write local times; ``--tz`` places them (GT3X also records its UTC offset, used when
``--tz`` is not given).
"""

from __future__ import annotations

import io
import re
import zipfile
from typing import NamedTuple

import numpy as np
import pandas as pd

from ..nights import utc_ns
from ..schema import SleepmovesError
from .counts import check_years, localise, no_zone_error
from .cwa import CwaError, decode_cwa
from .errors import BadInputError, RowError

BINARY_FORMATS = ("cwa", "gt3x", "geneactiv-bin")
DOTNET_EPOCH_TICKS = 621355968000000000


def sniff_binary_format(data: bytes) -> str | None:
    """``cwa``, ``gt3x`` or ``geneactiv-bin`` from the file's first bytes, else None."""
    if data[:2] == b"MD":  # CWA metadata block
        return "cwa"
    if data[:4] == b"PK\x03\x04":
        try:
            names = zipfile.ZipFile(io.BytesIO(data)).namelist()
        except zipfile.BadZipFile:
            return "gt3x"  # a damaged archive: the GT3X reader says so
        if "info.txt" in names and ("log.bin" in names or "activity.bin" in names):
            return "gt3x"
        return None
    if data[:15] == b"Device Identity":
        return "geneactiv-bin"
    return None


class RawRecording(NamedTuple):
    """A binary raw file read: UTC nanoseconds, (n, 3) float32 g, sampling rate, notes for the user."""

    times: np.ndarray
    accel: np.ndarray
    fs: float
    notes: list[str]


def read_binary(data: bytes, path: str, fmt: str, tz: str | None) -> RawRecording:
    """The samples of a binary raw file, or a ``BadInputError`` saying plainly why not."""
    reader = {"cwa": _cwa, "gt3x": _gt3x, "geneactiv-bin": _geneactiv}[fmt]
    try:
        local_ns, acc, fs, offset, notes = reader(data, path)
        if len(acc) == 0:
            raise BadInputError(path, [RowError(path, 1, "", f"no samples in this {fmt} file")])
        utc = _to_utc(local_ns, tz, offset, path)
    except (BadInputError, SleepmovesError):
        raise
    except Exception as exc:  # a damaged file: say so plainly, never a traceback
        raise BadInputError(
            path, [RowError(path, 1, "", f"cannot read as {fmt}: {type(exc).__name__}: {str(exc)[:200]}")]
        ) from None
    return RawRecording(utc, acc.astype("float32"), fs, notes)


def _to_utc(local_ns: np.ndarray, tz: str | None, offset: pd.Timedelta | None, path: str) -> np.ndarray:
    if tz is not None:
        # localise per second (fast), then add the sub-second part back
        seconds = local_ns // 1_000_000_000
        unique, inverse = np.unique(seconds, return_inverse=True)
        utc = utc_ns(localise(pd.Series(pd.to_datetime(unique, unit="s")), tz, path))
        return utc[inverse] + (local_ns - seconds * 1_000_000_000)
    if offset is not None:
        utc = local_ns - offset.value
        check_years(pd.Series(pd.to_datetime(utc[[0, -1]], unit="ns")), path, "sample")
        return utc
    raise no_zone_error(path)


# ---------------------------------------------------------------------- Axivity CWA
def _cwa(data: bytes, path: str):
    try:
        recording = decode_cwa(data)
    except CwaError as exc:
        raise BadInputError(path, [RowError(path, 1, "", f"damaged CWA file: {exc}")]) from None
    local_ns = np.round(recording.local_seconds * 1e9).astype("int64")
    return local_ns, recording.accel, recording.fs, None, [n for n in [recording.note()] if n]


# ---------------------------------------------------------------------- ActiGraph GT3X
def unpack_12bit(payload: np.ndarray) -> np.ndarray:
    """Packed big-endian 12-bit two's-complement values (3 bytes -> 2 values)."""
    b = payload[: len(payload) // 3 * 3].astype(np.int32).reshape(-1, 3)
    values = np.empty((len(b), 2), dtype=np.int32)
    values[:, 0] = (b[:, 0] << 4) | (b[:, 1] >> 4)
    values[:, 1] = ((b[:, 1] & 0x0F) << 8) | b[:, 2]
    values = values.ravel()
    return np.where(values > 2047, values - 4096, values)


def _yxz_to_xyz(values: np.ndarray, n: int, scale: float) -> np.ndarray:
    yxz = values[: n * 3].reshape(n, 3) / scale
    return yxz[:, [1, 0, 2]]


def _gt3x(data: bytes, path: str):
    archive = zipfile.ZipFile(io.BytesIO(data))
    info = dict(
        line.split(":", 1)
        for line in archive.read("info.txt").decode("utf-8", "replace").splitlines()
        if ":" in line
    )
    info = {k.strip(): v.strip() for k, v in info.items()}
    fs = float(info["Sample Rate"])
    serial = info.get("Serial Number", "")
    scale = float(info.get("Acceleration Scale", "0").replace(",", ".") or 0) or (
        256.0 if serial.startswith("MOS") else 341.0
    )
    offset = None
    if re.fullmatch(r"-?\d{2}:\d{2}:\d{2}", info.get("TimeZone", "")):
        sign = -1 if info["TimeZone"].startswith("-") else 1
        h, m, s = (int(x) for x in info["TimeZone"].lstrip("-").split(":"))
        offset = sign * pd.Timedelta(hours=h, minutes=m, seconds=s)
    if "log.bin" in archive.namelist():
        local_ns, acc = _gt3x_log(archive.read("log.bin"), fs, scale)
    else:
        start_ticks = int(info["Start Date"])
        values = unpack_12bit(np.frombuffer(archive.read("activity.bin"), dtype=np.uint8))
        n = len(values) // 3
        acc = _yxz_to_xyz(values, n, scale)
        start_ns = (start_ticks - DOTNET_EPOCH_TICKS) * 100
        local_ns = start_ns + np.round(np.arange(n) / fs * 1e9).astype("int64")
    return local_ns, acc, fs, offset, []


def _gt3x_log(log: bytes, fs: float, scale: float):
    """Records: 0x1E, type, uint32 time (local Unix s), uint16 size, payload, checksum."""
    buf = np.frombuffer(log, dtype=np.uint8)
    times, chunks = [], []
    i, n_per_s = 0, int(round(fs))
    while i + 8 <= len(buf):
        if buf[i] != 0x1E:
            i += 1  # resynchronise on the next separator
            continue
        kind = int(buf[i + 1])
        stamp = int.from_bytes(log[i + 2 : i + 6], "little")
        size = int.from_bytes(log[i + 6 : i + 8], "little")
        payload = buf[i + 8 : i + 8 + size]
        i += 8 + size + 1
        if len(payload) < size:
            break  # truncated last record
        if kind == 0x00 and size * 8 >= n_per_s * 36:  # ACTIVITY, packed 12-bit Y X Z
            chunks.append(_yxz_to_xyz(unpack_12bit(payload), n_per_s, scale))
            times.append(stamp)
        elif kind == 0x1A and size >= n_per_s * 6:  # ACTIVITY2, int16 X Y Z
            chunks.append(
                np.frombuffer(payload[: n_per_s * 6].tobytes(), dtype="<i2").reshape(n_per_s, 3) / scale
            )
            times.append(stamp)
    if not chunks:
        return np.array([], dtype="int64"), np.zeros((0, 3))
    acc = np.concatenate(chunks)
    within = np.round(np.arange(n_per_s) / fs * 1e9).astype("int64")
    local_ns = np.repeat(np.asarray(times, dtype="int64") * 1_000_000_000, n_per_s) + np.tile(
        within, len(times)
    )
    return local_ns, acc


# ---------------------------------------------------------------------- GENEActiv BIN
def _geneactiv(data: bytes, path: str):
    text = data.decode("latin-1")
    lines = text.splitlines()

    def number(name):
        m = re.search(rf"^{re.escape(name)}:\s*(-?[\d.]+)", text, re.M)
        if not m:
            raise BadInputError(path, [RowError(path, 1, "", f"GENEActiv header lacks '{name}'")])
        return float(m.group(1))

    gain = np.array([number("x gain"), number("y gain"), number("z gain")])
    offset = np.array([number("x offset"), number("y offset"), number("z offset")])
    samples, page_times, rates = [], [], []
    for k, line in enumerate(lines):
        if line.startswith("Page Time:"):
            stamp = line.split(":", 1)[1].strip()
            page_times.append(pd.Timestamp(stamp[:19]) + pd.Timedelta(milliseconds=int(stamp[20:] or 0)))
            rate_line = next(x for x in lines[k : k + 8] if x.startswith("Measurement Frequency:"))
            rates.append(float(rate_line.split(":")[1].split()[0]))
            hexdata = lines[k + 6].strip() if k + 6 < len(lines) else ""
            raw = np.frombuffer(bytes.fromhex(hexdata[: len(hexdata) // 12 * 12]), dtype=np.uint8).reshape(
                -1, 6
            )
            words = (raw.astype(np.int64) << np.array([40, 32, 24, 16, 8, 0])).sum(axis=1)
            xyz = np.stack([(words >> 36) & 0xFFF, (words >> 24) & 0xFFF, (words >> 12) & 0xFFF], axis=1)
            xyz = np.where(xyz > 2047, xyz - 4096, xyz)
            samples.append((xyz * 100 - offset) / gain)
    if not samples:
        raise BadInputError(path, [RowError(path, 1, "", "no data pages in this GENEActiv file")])
    fs = rates[0]
    local_ns = np.concatenate(
        [
            pd.Timestamp(t).value + np.round(np.arange(len(s)) / fs * 1e9).astype("int64")
            for t, s in zip(page_times, samples, strict=True)
        ]
    )
    return local_ns, np.concatenate(samples), fs, None, []
