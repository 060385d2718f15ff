"""Pairs per second for each image kind: generation alone, and `vz-spy data`'s full write (PNGs + manifest).

CPU ms/pair (all processes) over the worker count is the wall time per pair on an otherwise idle machine.

    python benchmarks/data_throughput.py                      # clevr 2000, charts 500, photos 500; 2 workers
    python benchmarks/data_throughput.py --kinds charts --num-pairs 200 --workers 1
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time

from vz_env.data import resolve_source
from vz_env.data.base import ImageSource
from vz_env.data.writer import write_pairs
from vz_spy.options import parse_size

DEFAULT_PAIRS = {"clevr": 2000, "charts": 500, "photos": 500}
GENERATE_PAIRS = 100  # pairs timed in memory, one process, to separate drawing from writing


def make_source(kind: str, photos_dir: str | None) -> ImageSource:
    """The source of a kind; photos come from --photos DIR or scikit-image's sample photos."""
    if kind != "photos":
        return resolve_source(kind)
    from vz_env.data.photos import PhotoEditSource, sample_photos

    return PhotoEditSource(photos_dir if photos_dir else sample_photos())


def cpu_seconds() -> float:
    """CPU seconds of this process and its finished workers: less skewed by a busy machine than wall time."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def generate_rate(source: ImageSource, size: tuple[int, int]) -> float:
    """Pairs per second of `source.pair` alone, in this process."""
    source.pair(0, size)
    start = time.perf_counter()
    for seed in range(1, GENERATE_PAIRS + 1):
        source.pair(seed, size)
    return GENERATE_PAIRS / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", default="clevr,charts,photos", help="comma-separated kinds")
    parser.add_argument(
        "--num-pairs", type=int, help="pairs written per kind (default: 2000 clevr, 500 others)"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--size", type=parse_size, default=(320, 240))
    parser.add_argument(
        "--photos", metavar="DIR", help="photo folder (default: scikit-image's sample photos)"
    )
    args = parser.parse_args()
    width, height = args.size
    print(f"size {width}x{height}, {args.workers} workers")
    print(f"load average {os.getloadavg()[0]:.1f} (other work on the machine slows the wall-clock figures)")
    header = ("kind", "pairs", "write s", "write pairs/s", "cpu ms/pair", "generate pairs/s")
    print(f"{header[0]:<8} {header[1]:>6} {header[2]:>8} {header[3]:>14} {header[4]:>12} {header[5]:>17}")
    for kind in args.kinds.split(","):
        try:
            source = make_source(kind, args.photos)
        except ImportError as err:
            print(f"{kind:<8} skipped: {err}")
            continue
        num_pairs = args.num_pairs or DEFAULT_PAIRS[kind]
        cpu = cpu_seconds()
        with tempfile.TemporaryDirectory() as out:
            summary = write_pairs(source, out, num_pairs, size=args.size, workers=args.workers)
        cpu_ms = (cpu_seconds() - cpu) / num_pairs * 1000
        rate = generate_rate(source, args.size)
        print(
            f"{kind:<8} {num_pairs:>6} {summary.seconds:>8.1f} {summary.pairs_per_second:>14.0f} "
            f"{cpu_ms:>12.1f} {rate:>17.0f}"
        )


if __name__ == "__main__":
    main()
