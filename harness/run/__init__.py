"""The run stage: one run (method, task, seed, config) composed from its config (``compose``) and executed into its
folder (``execute``; ``in_store`` inside a run store, as executors call it). The sweep stage only expands a sweep
into run configs and dispatches them here."""
