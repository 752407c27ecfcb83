"""Memory plans: whether a run fits a GPU, and how (``python -m harness plan CONFIG``).

From model configs only (``models``: shapes on the meta device; ``activations``: training activations measured
on one full-width layer), ``estimate`` gives each stage's peak for given decisions and ``placement`` chooses the
decisions (RMs resident or offloaded, rows decoded together, gradient checkpointing) that fit at the least
estimated time; ``table`` prints them; ``runtime`` resolves a run's ``memory`` settings when it starts on a GPU.
"""
