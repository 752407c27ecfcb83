"""The sweep stage: a sweep YAML expanded into run configs (``expand``), its setup hooks and the dispatch of its
unfinished runs to an executor (``run_sweep``; each run executes in ``harness.run``), and the judged comparisons
of open-ended runs. What the store holds and how it is read is ``harness.store``'s."""
