"""The synthetic world: procedurally generated task families and tiny models built locally, for offline demos.

The rest of the harness knows it only through the general interfaces: its families are tasks in
``harness.tasks.registry`` and its models a model source (``world:NAME``) in ``harness.models.specs``."""
