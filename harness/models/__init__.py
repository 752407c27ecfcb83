"""Models: specs and sources (hub, local, GGUF, PyPI packages, the synthetic world), loading, the trained
policy (LoRA, its reference adapter, batched sampling, embeddings) and completion log-probabilities."""
