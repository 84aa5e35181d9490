"""Parsing and formatting of memory sizes, CPU amounts and durations.

Each parser raises ValueError with a message that says what to write instead;
the manifest validator turns it into a located problem.
"""
from __future__ import annotations

import math
import re

_MEMORY_UNITS = {
    "": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
}
_MEMORY_RE = re.compile(r"([0-9]+(?:\.[0-9]+)?)(|k|M|G|T|Ki|Mi|Gi|Ti)")
MIN_MEMORY = 6 * 2**20  # the engine refuses limits below 6 MiB

_DURATION_RE = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
MIN_CPUS, MAX_CPUS = 0.01, 1024.0   # the engine's smallest limit; the engine's own CPU count is checked at sync
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_memory(value: object) -> int:
    """'128Mi' -> 134217728; an integer is a number of bytes."""
    if isinstance(value, bool):
        raise ValueError(f"memory {value!r} is not a size; write for example 128Mi")
    if isinstance(value, int):
        size = value
    else:
        match = _MEMORY_RE.fullmatch(str(value).strip())
        if not match:
            raise ValueError(
                f"memory {value!r} is not a size; write a number with a unit "
                "Ki, Mi, Gi (powers of 1024) or k, M, G (powers of 1000), for example 128Mi"
            )
        size = int(float(match.group(1)) * _MEMORY_UNITS[match.group(2)])
    if size < MIN_MEMORY:
        raise ValueError(f"memory {value!r} is below the engine's minimum of 6Mi")
    return size


def format_memory(size: int) -> str:
    """The shortest exact form: 134217728 -> '128Mi', 1000000 -> '1M'."""
    for unit in ("Ti", "Gi", "Mi", "Ki", "T", "G", "M", "k"):
        factor = _MEMORY_UNITS[unit]
        if size % factor == 0:
            return f"{size // factor}{unit}"
    return str(size)


def parse_cpus(value: object) -> float:
    """0.5, '0.5' or '500m' (millicores) -> 0.5."""
    text = str(value).strip()
    try:
        cpus = float(text[:-1]) / 1000 if text.endswith("m") else float(text)
    except ValueError:
        raise ValueError(
            f"cpus {value!r} is not a CPU amount; write a number of CPUs such as 0.5 or 2, or millicores such as 500m"
        ) from None
    if isinstance(value, bool) or not math.isfinite(cpus) or not MIN_CPUS <= cpus <= MAX_CPUS:
        raise ValueError(f"cpus {value!r} must be between {MIN_CPUS:g} and {MAX_CPUS:g}, for example 0.5")
    return round(cpus, 9)


def parse_duration(value: object) -> float:
    """'500ms', '5s', '2m', '1h' -> seconds."""
    match = _DURATION_RE.fullmatch(str(value).strip())
    if isinstance(value, bool) or not match:
        raise ValueError(f"duration {value!r} is not a duration; write for example 500ms, 5s or 2m")
    return float(match.group(1)) * _DURATION_UNITS[match.group(2)]


def format_duration(seconds: float) -> str:
    if seconds and seconds < 1:
        return f"{round(seconds * 1000)}ms"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    return f"{seconds:g}s"
