"""Is the Hugging Face Hub reachable? Asked once per process with a short timeout, so that offline a hub
dataset or model named in a config fails in one line before any work, instead of after the hub libraries'
minute of retries.

``offline_unless_reachable()`` runs the hub libraries in their offline mode (local hub cache only, no
requests) while the hub cannot be reached, so what is cached still loads.
"""

from __future__ import annotations

import os
import socket
from contextlib import contextmanager
from functools import lru_cache
from typing import Iterator
from urllib.parse import urlparse

import huggingface_hub.constants as hub_constants
from huggingface_hub import try_to_load_from_cache

PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")


@lru_cache(maxsize=1)
def hub_reachable(timeout: float = 3.0) -> bool:
    """False in the hub's offline mode or when its host takes no TCP connection; True behind a proxy
    (the proxy decides, and the libraries go through it)."""
    if hub_constants.HF_HUB_OFFLINE:
        return False
    if any(os.environ.get(name) for name in PROXY_VARIABLES):
        return True
    endpoint = urlparse(hub_constants.ENDPOINT)
    try:
        socket.create_connection((endpoint.hostname, endpoint.port or 443), timeout=timeout).close()
    except OSError:
        return False
    return True


@contextmanager
def offline_unless_reachable() -> Iterator[bool]:
    """Yields whether the hub is reachable; when it is not, huggingface_hub and datasets run offline inside."""
    if hub_reachable():
        yield True
        return
    modules: list = [hub_constants]
    try:
        import datasets.config as datasets_config

        modules.append(datasets_config)
    except ImportError:
        pass
    saved = [module.HF_HUB_OFFLINE for module in modules]
    for module in modules:
        module.HF_HUB_OFFLINE = True
    try:
        yield False
    finally:
        for module, value in zip(modules, saved):
            module.HF_HUB_OFFLINE = value


def cached_on_this_machine(repo_id: str, filename: str = "config.json") -> bool:
    """Whether the local hub cache holds ``filename`` of model ``repo_id`` (so it loads offline)."""
    try:
        return isinstance(try_to_load_from_cache(repo_id, filename), str)
    except Exception:  # an id the hub would reject (e.g. three slashes) is not cached either
        return False
