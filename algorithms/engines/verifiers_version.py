"""The one gate in front of verifiers: a missing or incompatible install is one line, not a traceback."""

from __future__ import annotations

import importlib
from importlib import metadata
from types import ModuleType

SUPPORTED = "0.4"  # the verifiers release line whose v1 API the adapter follows
INSTALL = "pip install 'vz-spy[verifiers]'"


def load_verifiers() -> ModuleType:
    """`verifiers.v1`, after checking that verifiers is installed in a version the adapter supports."""
    try:
        version = metadata.version("verifiers")
    except metadata.PackageNotFoundError:
        raise ImportError(f"the spy game's verifiers environment needs verifiers: {INSTALL}") from None
    if version.split(".")[:2] != SUPPORTED.split("."):
        raise ImportError(
            f"the spy game's verifiers environment needs verifiers {SUPPORTED}.x, found {version}: {INSTALL}"
        )
    return importlib.import_module("verifiers.v1")
