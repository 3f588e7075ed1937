"""Benchmark: GATT codec decode rate against a plain ``struct.unpack`` of the same frames.

The baseline unpacks the same fixed-layout bytes with one precompiled struct and no validation,
flags, specials or objects: the floor of any Python decoder. Target: at least 200,000 BPM frames/s.

    .venv/bin/python -m bench.ble_codec_rate [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import struct
import time
import timeit

from shared.ble.blood_pressure import BloodPressureMeasurement
from shared.ble.glucose import GlucoseMeasurement
from shared.ble.registry import decode

# Blood Pressure Measurement with every field: flags 0x1E (timestamp, pulse, user id, status), kPa.
BPM_FULL = bytes.fromhex("1E 8A 00 58 00 78 00 00 00 04 11 14 29 3B 3C 00 01 27 00")
BPM_LAYOUT = struct.Struct("<BHHH7sHBH")  # flags, 3 sfloats, date-time, pulse, user, status
GLUCOSE = bytes.fromhex("03 01 00 E4 07 05 0F 0C 1E 00 00 00 78 B0 11")
FRAMES = 200_000


def rate(fn, frame: bytes) -> float:
    best = min(timeit.repeat(lambda: fn(frame), number=FRAMES, repeat=5))
    return FRAMES / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    assert BPM_LAYOUT.size == len(BPM_FULL)
    bpm = rate(BloodPressureMeasurement.from_bytes, BPM_FULL)
    bpm_registry = rate(lambda f: decode(0x2A35, f), BPM_FULL)
    glucose = rate(GlucoseMeasurement.from_bytes, GLUCOSE)
    baseline = rate(BPM_LAYOUT.unpack, BPM_FULL)
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}",
        "python": platform.python_version(),
        "bpm_frames_per_s": round(bpm),
        "bpm_via_registry_frames_per_s": round(bpm_registry),
        "glucose_frames_per_s": round(glucose),
        "struct_unpack_baseline_per_s": round(baseline),
        "bpm_over_baseline": round(bpm / baseline, 3),
    }
    print(json.dumps(result, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
