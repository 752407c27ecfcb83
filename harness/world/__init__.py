"""The synthetic world: procedurally generated tasks and tiny models built locally, for offline demos."""

from harness.world.build import WorldConfig, ensure_world, world_dir

__all__ = ["WorldConfig", "ensure_world", "world_dir"]
