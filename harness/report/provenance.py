"""Where a run store's numbers were measured: the machine and software stack each run recorded
(``config.json`` ``environment``), summarised for the report. Runs on one stack rerun bit-identically;
another CPU type, thread count or library version orders float operations differently and moves them."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pandas as pd

NOT_RECORDED = "machine not recorded"
LIBRARIES = ("torch", "transformers", "peft")


def describe_environment(environment: dict[str, Any] | None) -> str:
    """One line: CPU, torch's vector kernels and threads (or GPU), then Python and the libraries' versions."""
    if not environment:
        return NOT_RECORDED
    machine = environment.get("machine") or {}
    parts = []
    if machine:
        hardware = machine.get("gpu") or machine.get("cpu") or "unknown CPU"
        kernels = f"torch CPU kernels {machine['cpu_capability']}" if machine.get("cpu_capability") else ""
        threads = f"{machine['torch_threads']} thread(s)" if machine.get("torch_threads") else ""
        parts.append(", ".join(p for p in (hardware, kernels, threads) if p))
    else:
        parts.append(NOT_RECORDED)
    versions = environment.get("versions") or {}
    software = [f"Python {environment['python']}"] if environment.get("python") else []
    software += [f"{name} {versions[name]}" for name in LIBRARIES if versions.get(name)]
    if software:
        parts.append(", ".join(software))
    return "; ".join(parts)


def provenance_lines(frame: pd.DataFrame) -> list[str]:
    """Markdown lines naming the stack(s) the finished runs were measured on, with their counts."""
    if "environment" not in frame.columns:
        return []
    finished = frame.loc[frame["finished"], "environment"].fillna(NOT_RECORDED)
    counts = Counter(finished)
    if not counts:
        return []
    if len(counts) == 1:
        (description, count), = counts.items()
        return [f"Measured on: {description} (all {count} finished runs).", ""]
    lines = [f"Measured on {len(counts)} different machines or software stacks; runs from different ones are not "
             "bit-comparable (float operations are ordered differently):", ""]
    lines += [f"- {description}: {count} run(s)" for description, count in counts.most_common()]
    return lines + [""]
