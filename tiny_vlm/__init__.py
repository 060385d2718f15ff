"""tiny_vlm: the default tiny VLM: its three-phase recipe, its build, its shipped weights.

The weights ship inside this package (`tiny_vlm/weights`, stamped with the recipe and every file's digest);
`shipped_model_path()` checks them before any use. The names below load on first use, so importing the
package costs nothing; the recipe's names bring torch and transformers in.
"""

from __future__ import annotations

from vz_env.lazy import lazy_exports

_HOMES = {
    "WORLD": "tiny_vlm.world",
    "resolve_model": "tiny_vlm.world",
    "ShippedModelError": "tiny_vlm.shipped",
    "shipped_model_path": "tiny_vlm.shipped",
    "Recipe": "tiny_vlm.build",
    "build": "tiny_vlm.build",
    "PretrainConfig": "tiny_vlm.pretrain",
    "DeductionConfig": "tiny_vlm.deduction",
    "format_report": "tiny_vlm.evaluation",
}

__all__ = sorted(_HOMES)


__getattr__, __dir__ = lazy_exports("tiny_vlm", _HOMES, globals())
