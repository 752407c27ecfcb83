"""The sweep stage: expansion of a sweep YAML into runs, the run store's layout, one run into its folder
(with resume), executors, setup hooks, status and the judged comparisons."""
