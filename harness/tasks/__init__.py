"""Tasks: examples with gold answers (or none), the paper's prompts, answer extraction and scoring, seeded
splits; loaded from the hub by their usual names or from local JSONL/JSON/Parquet files."""
