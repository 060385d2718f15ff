"""Lets the CUDA-built torchvision wheel import beside CPU torch in the vLLM CPU test environment.

PyPI's torchvision wheels are CUDA builds: beside `torch==2.13.0+cpu` their compiled ops library does not
load, and `import torchvision` then fails while registering fake kernels for the two ops `torchvision::nms`
and `torchvision::qnms` ("operator torchvision::nms does not exist"). Declaring those two op schemas first
lets the pure-Python parts import (transforms, which transformers' Qwen2-VL image and video processors
use); the compiled detection ops stay unavailable, and nothing here calls them. Installed by
`.ci/vllm-env.sh` through a `.pth` file; it imports torch only when something imports torchvision.
"""

import contextlib
import importlib.abc
import sys


class _DeclareTorchvisionOps(importlib.abc.MetaPathFinder):
    """On the first `import torchvision`, declare the op schemas its import registers fake kernels for."""

    def find_spec(self, name, path=None, target=None):
        """Declare the ops when torchvision is first looked up; let the normal finders find it."""
        if name != "torchvision":
            return None
        sys.meta_path.remove(self)
        import torch

        for op in ("nms", "qnms"):
            # RuntimeError: already declared (the compiled library did load after all).
            with contextlib.suppress(RuntimeError):
                torch.library.define(
                    f"torchvision::{op}", "(Tensor dets, Tensor scores, float iou_threshold) -> Tensor"
                )
        return None


sys.meta_path.insert(0, _DeclareTorchvisionOps())
