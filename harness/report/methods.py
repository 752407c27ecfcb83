"""What the report knows about a run's method: the method class's own ``Reporting`` declaration (row name, rank,
whether it selects, calibration role) and its ``fixed_reward_model``, looked up in the method registry. No
method is named in the reporting code; a method class that cannot be imported here (a user's module missing on
this machine) is shown under its sweep label as a selecting method, with one warning."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Mapping

from harness.config.errors import ConfigError, UnknownNameError
from harness.selection.method import Method, Reporting
from harness.selection.registry import METHODS

BEST_RM_ROW, AVG_RM_ROW = "Best RM", "Avg. RM"  # report-level rows derived from the single-RM runs
BEST_RM_RANK, AVG_RM_RANK = 10, 20


@dataclass(frozen=True)
class RunRow:
    """A run's place in the tables."""

    row: str
    rank: int
    short: str
    selects: bool            # its choice varies from batch to batch (utilisation, MAB reward, regret)
    role: str                # Reporting.role
    fixed_rm: str            # the one RM of a single-RM run, else ''


@lru_cache(maxsize=None)
def method_class(name: str) -> type[Method] | None:
    try:
        return METHODS.get(name)
    except (ConfigError, UnknownNameError, ImportError, TypeError) as error:
        warnings.warn(f"method {name!r}: {error}; its runs are shown under their sweep label as a selecting method",
                      RuntimeWarning, stacklevel=2)
        return None


def run_row(name: str, label: str, args: Mapping[str, Any] | None, best_rm: str) -> RunRow:
    """The row of a run of method ``name`` under sweep label ``label`` (its label when it has no config)."""
    cls = method_class(name) if name else None
    reporting = cls.reporting if cls is not None else Reporting()
    single = (cls.fixed_reward_model(args or {}, best_rm) if cls is not None else None) or ""
    row = f"RM: {single}" if single else reporting.row_name(label, own_name=label == name)
    return RunRow(row, reporting.rank, reporting.short or row, not reporting.fixed_choice, reporting.role, single)
