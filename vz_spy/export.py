"""`vz-spy export`: a run's checkpoint as a merged Hugging Face folder for lmms-eval and VLMEvalKit."""

from __future__ import annotations

import argparse
from pathlib import Path

from vz_spy.cli import CliError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="write a run's model as a plain Hugging Face folder (LoRA adapters merged)",
        description="Merge a run's LoRA adapters (or load its fully fine-tuned weights) into the base model "
        "and write it, with the processor and chat template, as a folder that evaluation harnesses load "
        "(see docs/evaluation.md). The folder appears complete or not at all.",
    )
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run folder written by `vz-spy train`")
    parser.add_argument("--out", required=True, metavar="DIR", help="new folder to write (must not exist)")
    parser.add_argument(
        "--checkpoint", type=int, default=None, metavar="N", help="export checkpoint-N (default: the latest)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from algorithms.export import export_run, pixel_settings

    try:
        out = export_run(Path(args.run_dir), Path(args.out), args.checkpoint)
    except (ValueError, FileExistsError) as err:
        raise CliError(str(err)) from None
    print(f"exported {args.run_dir} to {out}")
    pixels = pixel_settings(out)
    if pixels:
        settings = ", ".join(f"{k}={v}" for k, v in pixels.items())
        print(f"image processor: {settings} (evaluate with the same values, see docs/evaluation.md)")
    return 0
