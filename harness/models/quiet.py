"""Library noise off at its source: transformers' and the Hub's progress bars (one "Loading weights" bar per
model load, a conversion bar per GGUF file), their info/warning chatter, and the deprecation warnings libraries
raise about each other (peft asks transformers for ``is_gradient_checkpointing``; alpaca_eval imports
``pkg_resources``).

``--verbose`` (environment ``HARNESS_VERBOSE=1``, inherited by worker processes) leaves everything on.
"""

from __future__ import annotations

import functools
import os
import warnings

import huggingface_hub.utils
import transformers.modeling_gguf_pytorch_utils as gguf_loading
from tqdm.auto import tqdm
from transformers.utils import logging as transformers_logging

VERBOSE_ENV = "HARNESS_VERBOSE"


def quiet_libraries() -> None:
    """Silence the libraries for this process, unless ``HARNESS_VERBOSE`` is set."""
    if os.environ.get(VERBOSE_ENV):
        return
    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    huggingface_hub.utils.disable_progress_bars()
    gguf_loading.tqdm = functools.partial(tqdm, disable=True)  # its GGUF conversion bar ignores the switch above
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    warnings.filterwarnings("ignore", message=r".*is_gradient_checkpointing.* is deprecated", category=FutureWarning)
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
