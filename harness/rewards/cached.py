"""A deterministic RM whose scores are shared between the runs of a sweep through the content cache."""

from __future__ import annotations

from typing import Any

from harness.common.content_cache import ContentCache, content_key
from harness.rewards.base import RewardModel


class CachedRM(RewardModel):
    """A deterministic RM whose scores are looked up in, and added to, a shared content-addressed cache."""

    def __init__(self, base: RewardModel, cache: ContentCache, identity: dict[str, Any]):
        self.base, self.cache, self.identity = base, cache, identity
        self.name, self.needs_references = base.name, base.needs_references

    def record(self):
        return self.base.record()

    def _key(self, prompt: str, response: str, example: Any) -> str:
        extra = self.base.example_key(example) if example is not None else None
        if extra is None:
            return content_key("rm-score", self.identity, prompt, response)
        return content_key("rm-score", self.identity, prompt, response, extra)

    def score(self, prompts, responses, references=None):
        examples = references if references is not None else [None] * len(prompts)
        keys = [self._key(p, r, e) for p, r, e in zip(prompts, responses, examples)]
        found = self.cache.get_many(keys)
        missing = [i for i, key in enumerate(keys) if key not in found]
        if missing:
            computed = self.base.score([prompts[i] for i in missing], [responses[i] for i in missing],
                                       [references[i] for i in missing] if references is not None else None)
            new = {keys[i]: float(value) for i, value in zip(missing, computed)}
            self.cache.put_many(new)
            found.update(new)
        return [found[key] for key in keys]
