"""Model loads and saves without the libraries' own progress bars and notes, so the terminal shows ours."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

# peft reads `model.is_gradient_checkpointing` itself when it wraps a model (PeftModel.__init__), which
# transformers 5 has deprecated in favour of `is_activation_checkpointing`; the package never calls it.
PEFT_DEPRECATED_READ = r"`is_gradient_checkpointing` is deprecated"


@contextmanager
def quiet_hf() -> Iterator[None]:
    """Within the block: no "Loading weights"/"Writing model shards" bars, no note of peft's deprecated read.

    Scoped: the bars' setting is put back afterwards, so a caller that wants them keeps them elsewhere.
    """
    from transformers.utils import logging as hf_logging

    bars_were_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=PEFT_DEPRECATED_READ, category=FutureWarning)
            yield
    finally:
        if bars_were_on:
            hf_logging.enable_progress_bar()
