"""Counter-based uniforms: u(seed, row, step), the same number whichever other rows are drawn beside it.

Chunked sampling (``harness.models.decoding``) needs each row's t-th draw to depend only on the seed, the row's
index and t, not on which rows share a batch, so that decoding 480 rows in chunks of any size samples the same
tokens. A global RNG stream cannot give that (a draw's value depends on how many draws came before it), a
counter-based generator can: Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011;
the generator behind cuRAND's and PyTorch's CUDA streams) maps a 128-bit counter and a 64-bit key to 128 random bits
through ten rounds of 32x32-bit multiplications and XORs.

Here it runs as plain torch int64 tensor ops on the logits' device, with the key = the seed's two 32-bit halves and
the counter = (step, row's low 32 bits, row's high 32 bits, 0). Every intermediate stays below 2**63 (each
32x32-bit product is formed from two 32x16-bit halves), so no signed overflow happens and CPU and GPU give the same
bits; ``tests/models/test_generation_chunks.py`` checks Random123's known-answer vectors. A uniform is the first output
word's top 24 bits: k / 2**24, exact in float32, in [0, 1).
"""

from __future__ import annotations

import torch

MASK32 = 0xFFFFFFFF
PHILOX_MULTIPLIERS = (0xD2511F53, 0xCD9E8D57)
PHILOX_KEY_STEPS = (0x9E3779B9, 0xBB67AE85)  # the golden ratio and sqrt(3) - 1, as 32-bit fractions
PHILOX_ROUNDS = 10
UNIFORM_BITS = 24  # float32's significand: k / 2**24 is exact


def _mulhilo32(word: torch.Tensor, multiplier: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The high and low 32 bits of ``word * multiplier`` (both 32-bit), never forming the 64-bit product itself."""
    upper, lower = word * (multiplier >> 16), word * (multiplier & 0xFFFF)  # each < 2**48
    return (upper + (lower >> 16)) >> 16, (((upper & 0xFFFF) << 16) + lower) & MASK32


def philox4x32(counter: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], key: tuple[int, int],
               rounds: int = PHILOX_ROUNDS) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Philox4x32: four int64 tensors of 32-bit counter words (broadcastable) and two 32-bit key words in, four
    tensors of 32-bit random words out."""
    c0, c1, c2, c3 = counter
    k0, k1 = key
    for round_index in range(rounds):
        if round_index:
            k0, k1 = (k0 + PHILOX_KEY_STEPS[0]) & MASK32, (k1 + PHILOX_KEY_STEPS[1]) & MASK32
        hi0, lo0 = _mulhilo32(c0, PHILOX_MULTIPLIERS[0])
        hi1, lo1 = _mulhilo32(c2, PHILOX_MULTIPLIERS[1])
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
    return c0, c1, c2, c3


def seed_key(seed: int) -> tuple[int, int]:
    """A Philox key from any integer seed (taken modulo 2**64)."""
    seed %= 2 ** 64
    return seed & MASK32, seed >> 32


def counter_uniforms(seed: int, rows: torch.Tensor, steps: int) -> torch.Tensor:
    """u(seed, r, t) for every row index r in ``rows`` (int64) and t < ``steps``: float32, shape (len(rows), steps)."""
    rows = rows.to(torch.int64)[:, None]
    step = torch.arange(steps, dtype=torch.int64, device=rows.device)[None, :]
    shape = (rows.shape[0], steps)
    counter = (step.expand(shape), (rows & MASK32).expand(shape), (rows >> 32).expand(shape),
               torch.zeros(shape, dtype=torch.int64, device=rows.device))
    word = philox4x32(counter, seed_key(seed))[0]
    return (word >> (32 - UNIFORM_BITS)).to(torch.float32) * 2.0 ** -UNIFORM_BITS


def draw_seed() -> int:
    """A counter seed drawn from torch's global RNG, so a run seeded as a whole stays reproducible."""
    return int(torch.randint(2 ** 63 - 1, ()).item())
