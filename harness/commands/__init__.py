"""The commands of ``python -m harness``, one module each; ``COMMANDS`` maps a command's name to its class.

Each module is imported only when its command runs (``harness.cli``), so ``report`` and ``status`` never load
torch; ``catalog`` lists every other registry of the harness (what ``ls`` prints and the registry test walks).
"""

from __future__ import annotations

from harness.commands.base import Command
from harness.config.registry import Registry

COMMANDS: Registry[type[Command]] = Registry("command", {
    "sweep": "harness.commands.sweep:Sweep",
    "run": "harness.commands.run:Run",
    "compare": "harness.commands.compare:Compare",
    "status": "harness.commands.status:Status",
    "report": "harness.commands.report:Report",
    "lm-eval": "harness.commands.lm_eval:LmEval",
    "ls": "harness.commands.ls:List",
    "bench": "harness.commands.bench:Bench",
    "profile": "harness.commands.profile:Profile",
    "data-stats": "harness.commands.data_stats:DataStats",
    "plan": "harness.commands.plan:Plan",
    "schema": "harness.commands.schema:Schema",
}, base=Command)
