"""The training loops by name, and which one a run uses (``loop_name``): each is built from a ``LoopContext``
(``LOOPS.build(loop_name(config.mode, method.declared.trains_on), context=LoopContext(...))``).

- ``preference``: iterative preference training, paper Algorithm 1 (``training_loop.py``);
- ``supervised``: fine-tuning on the task's demonstrations, for a method that trains on them (``supervised.py``);
- ``best_of_n``: ``mode: best_of_n``, RM selection at inference time, no policy training (``best_of_n.py``).
"""

from __future__ import annotations

from harness.config.registry import Registry
from harness.loop.training_loop import LoopContext, TrainingLoop

LOOPS: Registry[type[TrainingLoop]] = Registry("training loop", {
    "preference": "harness.loop.training_loop:TrainingLoop",
    "supervised": "harness.loop.supervised:SupervisedLoop",
    "best_of_n": "harness.loop.best_of_n:BestOfNLoop",
}, base=TrainingLoop, context=LoopContext)


def loop_name(mode: str, trains_on: str) -> str:
    """The loop of a run in ``mode`` (``RunConfig.mode``) whose method trains on ``trains_on`` (``Declaration.trains_on``)."""
    if mode == "best_of_n":
        return "best_of_n"
    return "supervised" if trains_on == "demonstrations" else "preference"


__all__ = ["LOOPS", "LoopContext", "loop_name"]
