"""lm-evaluation-harness on trained policies (``python -m harness lm-eval RUN_OR_SWEEP``): each run's final
policy (its base model plus the LoRA adapter of its last checkpoint) is evaluated with ``lm_eval.simple_evaluate``
on the run's own test split, through task YAMLs this package writes (``dataset_path: json`` on a local file,
the harness's prompt, greedy decoding, the harness task's own answer check), and on any of lm-eval's own tasks by
name when the hub is reachable."""
