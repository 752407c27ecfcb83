"""Executors: where a sweep's runs execute (this machine, Ray, Slurm via submitit)."""
