"""The CPU a benchmark ran on, printed beside every figure: the same code runs 3-4x slower on a CPU without
AVX-512, and bf16/VNNI change which precision wins, so a number without its CPU means little."""

from __future__ import annotations

import os
import platform
from pathlib import Path

INTERESTING = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_bf16", "amx_int8")


def cpu_summary() -> dict[str, object]:
    model, flags = platform.processor() or "?", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return {"model": model, "cores": os.cpu_count(), "flags": [f for f in INTERESTING if f in flags]}


def cpu_line() -> str:
    c = cpu_summary()
    flags = " ".join(c["flags"]) or "none of " + ",".join(INTERESTING)  # type: ignore[arg-type]
    return f"CPU: {c['model']}, {c['cores']} cores, flags: {flags}"


if __name__ == "__main__":
    print(cpu_line())
