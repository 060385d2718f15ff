"""`vz-spy data`: write image pairs (scenes, charts, photo edits) to a folder, or check a folder of pairs."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any, NoReturn

from vz_spy.cli import CliError
from vz_spy.options import parse_size
from vz_spy.paths import output_folder

KINDS = ("clevr", "charts", "photos")
SHOWN_FINDINGS = 20  # problem lines `data check` prints before summing up the rest
REFRESH_SECONDS = 0.1  # the progress bar redraws at most this often


class _OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (no usage block), like every other vz-spy error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")

    def parse_known_args(
        self, args: Any = None, namespace: Any = None
    ) -> tuple[argparse.Namespace, list[str]]:
        """Reject unknown flags here, so their error is one line too (the top parser would add usage)."""
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras


def register(subparsers: Any) -> None:
    """Add `data KIND` (clevr, charts, photos) and `data check DIR`."""
    parser = subparsers.add_parser(
        "data",
        help="write image pairs to a folder, or check a folder of pairs",
        description="Write image pairs (PNG) and a manifest.jsonl for the spy game, or check a folder.",
    )
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", parser_class=_OneLineParser)
    helps = {
        "clevr": "CLEVR-like scenes; two objects change shape and/or colour",
        "charts": "bar, line and pie charts; two values or attributes change",
        "photos": "photos from --from DIR with one region recoloured, removed, pasted over or mirrored",
    }
    for kind in KINDS:
        sub = kinds.add_parser(kind, help=helps[kind], description=f"Write {helps[kind]}.")
        _add_write_options(sub)
        if kind == "photos":
            sub.add_argument(
                "--from", dest="photos_from", required=True, metavar="DIR", help="a folder of photos"
            )
    check = kinds.add_parser(
        "check",
        help="report blank, identical, unreadable and size-mismatched pairs (exit 1 if any)",
        description="Read every pair of DIR (written by `vz-spy data` or NAME_original/NAME_modified files) "
        "and report blank, identical, unreadable, size-mismatched and unpaired ones; exit 1 if any is found.",
    )
    check.add_argument("dir", metavar="DIR", type=Path, help="folder of pairs")
    check.add_argument("--workers", type=int, default=_default_workers(), metavar="K", help="reading threads")
    parser.set_defaults(func=run, kind=None)


def run(args: argparse.Namespace) -> int:
    """Write pairs or check a folder, per the KIND given."""
    if args.kind is None:
        raise CliError(f"say what to do: {', '.join(KINDS)} or check (see vz-spy data --help)")
    if args.workers < 1:
        raise CliError(f"--workers must be at least 1, got {args.workers}")
    if args.kind == "check":
        return _check(args)
    return _write(args)


def _add_write_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--num-pairs", type=int, required=True, metavar="N", help="pairs to write")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder (created)")
    parser.add_argument("--seed", type=int, default=0, help="run seed; pair seeds derive from it (default 0)")
    parser.add_argument("--size", type=parse_size, default=(320, 240), metavar="WxH", help="default 320x240")
    parser.add_argument(
        "--workers",
        type=int,
        default=_default_workers(),
        metavar="K",
        help="worker processes (default %(default)s)",
    )


def _default_workers() -> int:
    return min(4, os.cpu_count() or 1)


def _source(args: argparse.Namespace) -> Any:
    """The image source for a KIND, with bad input turned into one-line errors."""
    from vz_env.config import SpyConfig

    try:
        SpyConfig(image_size=args.size)
        if args.kind == "photos":
            from vz_env.data.photos import PhotoEditSource

            return PhotoEditSource(args.photos_from)
        from vz_env.data import resolve_source

        return resolve_source(args.kind)
    except ValueError as err:
        raise CliError(str(err)) from None


def _write(args: argparse.Namespace) -> int:
    from vz_env.data.writer import write_pairs

    if args.num_pairs < 1:
        raise CliError(f"--num-pairs must be at least 1, got {args.num_pairs}")
    output_folder("--out", args.out)
    source = _source(args)
    try:
        with _Progress(f"{args.kind} pairs", args.num_pairs) as progress:
            summary = write_pairs(
                source,
                args.out,
                args.num_pairs,
                seed=args.seed,
                size=args.size,
                workers=args.workers,
                on_pair=progress.advance,
            )
    except (ValueError, OSError) as err:
        raise CliError(f"{args.kind} pairs: {err}") from None
    line = (
        f"wrote {summary.num_pairs} {args.kind} pairs to {summary.out_dir} in {summary.seconds:.1f} s "
        f"({summary.pairs_per_second:.0f} pairs/s)"
    )
    if summary.problems:
        found = ", ".join(f"{count} {problem}" for problem, count in sorted(summary.problems.items()))
        line += f"; broken: {found} (see 'problems' in manifest.jsonl)"
    print(line)
    return 0


def _check(args: argparse.Namespace) -> int:
    from vz_env.data.check import check_folder
    from vz_env.data.folder import list_pairs

    try:
        total = len(list_pairs(args.dir).pairs)
    except ValueError as err:
        raise CliError(str(err)) from None
    if total == 0:
        raise CliError(f"no image pairs in {args.dir} (expected NAME_original.png and NAME_modified.png)")
    with _Progress("checking pairs", total) as progress:
        report = check_folder(args.dir, workers=args.workers, on_pair=progress.advance)
    for finding in report.findings[:SHOWN_FINDINGS]:
        print(f"{finding.problem:<14} {finding.name}" + (f": {finding.detail}" if finding.detail else ""))
    if len(report.findings) > SHOWN_FINDINGS:
        print(f"... and {len(report.findings) - SHOWN_FINDINGS} more")
    counts = ", ".join(f"{count} {problem}" for problem, count in report.counts.items())
    verdict = "ok" if report.ok else "PROBLEMS FOUND"
    print(f"{report.directory}: {report.pairs} pairs checked; {counts}: {verdict}")
    return 0 if report.ok else 1


class _Progress:
    """A rich progress bar on stderr, redrawn from the caller's thread only (no thread to fork with)."""

    def __init__(self, description: str, total: int) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        console = Console(stderr=True)
        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
            auto_refresh=False,
            transient=True,
            disable=not console.is_terminal,
        )
        self._task = self._bar.add_task(description, total=total)
        self._drawn = 0.0

    def __enter__(self) -> _Progress:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()

    def advance(self) -> None:
        self._bar.advance(self._task)
        now = time.monotonic()
        if now - self._drawn >= REFRESH_SECONDS:
            self._drawn = now
            self._bar.refresh()
