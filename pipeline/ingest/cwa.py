"""Axivity CWA files (AX3, AX6), decoded from Open Movement's published block format.

Why our own decoder rather than scikit-digital-health's (which this project used before): its Fortran reader
ends the whole process on a file cut inside its first data block ("Fortran runtime error: End of file"),
writes past its arrays when a block's sequence number lies beyond the file's end (a segmentation fault, seen
in CI on a fuzzed file), writes one sample past them at every file's last block, and fills a damaged block
with 0 g samples, which read as movement. A damaged upload must never take the server down nor become motion.

Here every 512-byte block is checked (``AX`` header, length 508, 16-bit word sum zero, a real date, the
file's own packing and rate) before any of its bytes are used. A block that fails is a gap: its samples are
no data, and the count is told to the user. Samples are timed as Open Movement's tools do: each block's
whole-second timestamp (plus its fraction, when the block carries one) anchors one sample index, and sample
times are interpolated between anchors. The anchors are joined only while they agree with the configured rate
(within ``RATE_TOLERANCE``); where the device stopped and resumed, a new run starts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SECTOR = 512
HEADER_MD = b"MD"
BLOCK_AX = 0x5841  # "AX", little-endian
RATE_TOLERANCE = 0.1  # anchors further off the configured rate than this are a break in the recording
BLOCK = np.dtype(
    {
        "names": [
            "header",
            "length",
            "fraction",
            "session",
            "sequence",
            "stamp",
            "light",
            "rate",
            "packing",
            "offset",
            "count",
        ],
        "formats": ["<u2", "<u2", "<u2", "<u4", "<u4", "<u4", "<u2", "u1", "u1", "<i2", "<u2"],
        "offsets": [0, 2, 4, 6, 10, 14, 18, 24, 25, 26, 28],
        "itemsize": SECTOR,
    }
)
SAMPLES_AT = 30  # first sample byte of a block
SAMPLE_BYTES = 480


class CwaError(ValueError):
    """A CWA file that cannot be read at all (the caller names the file)."""


@dataclass
class CwaRecording:
    """Acceleration of one CWA file, on the device's own clock."""

    local_seconds: np.ndarray  # float64, device clock as Unix seconds
    accel: np.ndarray  # (n, 3) float32, g
    fs: float  # configured sampling rate, Hz
    blocks: int  # data blocks in the file
    damaged: int  # of them: unreadable, stored as no data
    damaged_seconds: float  # recording time those blocks held

    def note(self) -> str | None:
        """What the user should hear about damaged blocks, or None."""
        if not self.damaged:
            return None
        return (
            f"{self.damaged} of {self.blocks} data blocks are damaged: "
            f"about {self.damaged_seconds:.0f} s there are stored as no data"
        )


def decode_cwa(data: bytes) -> CwaRecording:
    """Decode a CWA file's accelerometer samples; raises ``CwaError`` when nothing in it can be read."""
    if data[:2] != HEADER_MD:
        raise CwaError("this is not a CWA file (no 'MD' header)")
    header_length = int.from_bytes(data[2:4], "little")
    if not 508 <= header_length <= 8188:
        raise CwaError(f"the CWA header is damaged (its length reads {header_length} bytes)")
    start = -(-header_length // SECTOR) * SECTOR
    n_blocks = max(len(data) - start, 0) // SECTOR
    partial = (len(data) - start) % SECTOR if len(data) > start else 0
    if n_blocks == 0:
        raise CwaError("the file ends before its first data block")
    raw = np.frombuffer(data, dtype=np.uint8, count=n_blocks * SECTOR, offset=start).reshape(n_blocks, SECTOR)
    blocks = raw.view(BLOCK).reshape(n_blocks)
    checksum_ok = raw.view("<u2").sum(axis=1, dtype=np.uint16) == 0
    shaped = (blocks["header"] == BLOCK_AX) & (blocks["length"] == 508) & checksum_ok
    if not shaped.any():
        raise CwaError(f"none of its {n_blocks} data blocks can be read (all damaged)")

    first = int(np.flatnonzero(shaped)[0])
    packing, rate = int(blocks["packing"][first]), int(blocks["rate"][first])
    channels, per_axis = packing >> 4, packing & 0x0F
    if rate == 0:
        raise CwaError("its blocks carry no sampling rate (very old firmware); convert it with OmGui first")
    if per_axis == 0 and channels == 3:
        per_sector, accel_at = 120, 0
    elif per_axis == 2 and channels in (3, 6, 9):
        per_sector, accel_at = SAMPLE_BYTES // (2 * channels), 0 if channels == 3 else 3
    else:
        raise CwaError(f"unknown sample packing 0x{packing:02x}")
    fs = 3200.0 / (1 << (15 - (rate & 0x0F)))

    seconds, date_ok = _block_seconds(blocks["stamp"])
    counts = blocks["count"].astype(np.int64)
    good = (
        shaped
        & date_ok
        & (blocks["packing"] == packing)
        & (blocks["rate"] == rate)
        & (counts >= 1)
        & (counts <= per_sector)
    )
    kept = np.flatnonzero(good)
    if len(kept) == 0:
        raise CwaError(f"none of its {n_blocks} data blocks can be read (all damaged)")
    accel = _accel(raw[kept], blocks[kept], channels, per_axis, per_sector, accel_at)
    times = _sample_times(blocks[kept], kept, seconds[kept], per_sector, fs)
    in_block = np.arange(per_sector)[None, :] < counts[kept][:, None]  # samples a block really holds
    times, accel = times[in_block], accel[in_block]
    back = np.flatnonzero(np.diff(times) <= 0)
    if len(back):
        block = int(kept[np.searchsorted(np.cumsum(counts[kept]), back[0] + 1, side="right")])
        raise CwaError(
            f"the device clock goes back at data block {block + 1}: its samples cannot be placed in time"
        )
    damaged = n_blocks - len(kept) + (1 if partial else 0)
    return CwaRecording(
        times,
        accel.astype("float32"),
        fs,
        n_blocks + (1 if partial else 0),
        damaged,
        damaged * per_sector / fs,
    )


def _block_seconds(stamps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unix seconds of packed ``YYYYYYMM MMDDDDDh hhhhmmmm mmssssss`` timestamps, and which are real dates."""
    stamps = stamps.astype(np.int64)
    year = ((stamps >> 26) & 0x3F) + 2000
    month = (stamps >> 22) & 0x0F
    day = (stamps >> 17) & 0x1F
    hour, minute, second = (stamps >> 12) & 0x1F, (stamps >> 6) & 0x3F, stamps & 0x3F
    ok = (month >= 1) & (month <= 12) & (day >= 1) & (hour < 24) & (minute < 60) & (second < 60)
    month_start = ((year - 1970) * 12 + np.clip(month, 1, 12) - 1).astype("datetime64[M]")
    date = month_start.astype("datetime64[D]") + (day - 1)
    ok &= date.astype("datetime64[M]") == month_start  # no 31 February
    days = date.astype(np.int64)
    return days * 86400.0 + hour * 3600 + minute * 60 + second, ok


def _accel(raw, blocks, channels, per_axis, per_sector, accel_at) -> np.ndarray:
    """(blocks, per_sector, 3) acceleration in g."""
    body = np.ascontiguousarray(raw[:, SAMPLES_AT : SAMPLES_AT + SAMPLE_BYTES])
    if (
        per_axis == 0
    ):  # 3 x 10-bit signed + 2-bit exponent in one 32-bit word: eezzzzzz zzzzyyyy yyyyyyxx xxxxxxxx
        words = body.view("<u4").astype(np.int64)
        exponent = words >> 30
        axes = [(((words >> shift) & 0x3FF) ^ 0x200) - 0x200 for shift in (0, 10, 20)]
        values = np.stack([a << exponent for a in axes], axis=-1)
    else:
        used = per_sector * channels * 2
        values = body[:, :used].copy().view("<i2").reshape(len(raw), per_sector, channels)
        values = values[:, :, accel_at : accel_at + 3].astype(np.int64)
    unit = 1 << (8 + ((blocks["light"].astype(np.int64) >> 13) & 0x07))  # 1 g = 2^(8 + n)
    return values / unit[:, None, None]


def _sample_times(blocks, sector, seconds, per_sector, fs) -> np.ndarray:
    """(blocks, per_sector) device-clock seconds of every sample slot."""
    fraction = blocks["fraction"].astype(np.int64)
    has_fraction = (fraction & 0x8000) != 0
    sixteenth = (fraction & 0x7FFF) << 1  # 16-bit fraction of a second
    offset = blocks["offset"].astype(np.int64)
    # the device shifted timestampOffset by the fraction's whole samples for old readers: undo it
    offset = np.where(has_fraction, offset + ((sixteenth * int(fs)) >> 16), offset)
    anchor_time = seconds + np.where(has_fraction, sixteenth / 65536.0, 0.0)
    anchor_index = sector.astype(np.int64) * per_sector + offset
    slot = sector.astype(np.int64)[:, None] * per_sector + np.arange(per_sector)[None, :]

    # consecutive anchors are joined where they agree with the configured rate, the sequence numbers and
    # the session; sample times are linear between joined anchors (Open Movement interpolates the same way)
    step_index = np.diff(anchor_index)
    with np.errstate(divide="ignore", invalid="ignore"):
        period = np.diff(anchor_time) / step_index
    joined = (
        (step_index > 0)
        & (np.abs(period * fs - 1) <= RATE_TOLERANCE)
        & (np.diff(blocks["sequence"].astype(np.int64)) == np.diff(sector))
        & (np.diff(blocks["session"].astype(np.int64)) == 0)
    )
    nominal = 1.0 / fs
    toward_next = np.append(np.where(joined, period, np.nan), np.nan)
    from_previous = np.insert(np.where(joined, period, np.nan), 0, np.nan)
    after_anchor = np.where(np.isnan(toward_next), from_previous, toward_next)
    before_anchor = np.where(np.isnan(from_previous), toward_next, from_previous)
    after_anchor = np.where(np.isnan(after_anchor), nominal, after_anchor)
    before_anchor = np.where(np.isnan(before_anchor), nominal, before_anchor)
    delta = slot - anchor_index[:, None]
    rate = np.where(delta >= 0, after_anchor[:, None], before_anchor[:, None])
    return anchor_time[:, None] + delta * rate
