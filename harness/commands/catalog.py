"""Every registry of the harness in one place: what ``python -m harness ls`` lists, and what the registry
contract test walks (``tests/test_registries.py``: each entry is also built through ``Registry.build``)."""

from __future__ import annotations

from harness.config.registry import Registry
from harness.loop.losses import LOSSES
from harness.loop.registry import LOOPS
from harness.loop.trackers.registry import TRACKERS
from harness.models.specs import MODEL_SOURCES
from harness.report.write import REPORT_SECTIONS
from harness.rewards.judges.registry import JUDGES
from harness.rewards.registry import RM_KINDS
from harness.selection.bandits.registry import BANDITS
from harness.selection.combiners import COMBINERS
from harness.selection.registry import METHODS
from harness.sweep.executors.registry import EXECUTORS
from harness.sweep.run_sweep import SETUP_HOOKS
from harness.tasks.registry import TASKS

REGISTRIES: dict[str, Registry] = {
    "methods": METHODS,
    "bandits (laser's bandit)": BANDITS,
    "reward combiners": COMBINERS,
    "tasks": TASKS,
    "reward-model kinds": RM_KINDS,
    "judges (compare)": JUDGES,
    "losses (train.loss)": LOSSES,
    "loops (by mode and the method's training data)": LOOPS,
    "trackers (log:)": TRACKERS,
    "executors (sweep --executor)": EXECUTORS,
    "model sources (SOURCE:NAME model specs)": MODEL_SOURCES,
    "setup hooks (sweep setup:)": SETUP_HOOKS,
    "report sections (python -m harness report)": REPORT_SECTIONS,
}
