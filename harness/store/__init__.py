"""The run store's format: its layout (``layout``), the manifest (``manifest``), one run folder's files and state
(``run_folder``) and the listing of a store's runs (``runs``). Sweep, run, report, lm-eval and status read and write
the store only through this package, never through each other; nothing here imports torch."""
