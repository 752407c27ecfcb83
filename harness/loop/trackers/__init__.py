"""Experiment trackers (``log: [tensorboard, wandb, mlflow]`` in a run config): each training step's loss, MAB
reward, RM choice, per-RM score statistics, pairs and skipped prompts, selection accuracy and regret where a
profile rates them; the run's config as hyper-parameters and its final metrics. Off by default; the packages
come with the ``trackers`` extra (``pip install -e '.[trackers]'``)."""
