"""Baseline reward-model selection methods, one small file each (registered in harness.selection.registry)."""
