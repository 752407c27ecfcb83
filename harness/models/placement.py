"""A swap slot for offloaded frozen models: they live on a "home" device (the CPU, in pinned memory when CUDA is
there) and visit the "compute" device (the GPU) only to score.

The paper's run (a Llama-3-8B policy and four 7B reward models) does not fit one 80 GiB GPU with every RM resident
next to sampling's KV cache, so the memory plan may offload the RMs. The slot then keeps at most one *group* of
models (the models one RM scores with) on the compute device:

- acquiring another group first sends home the models the new group does not use, then brings in the ones it
  lacks, so an ensemble's RMs score one after another and two RMs sharing a model share its move;
- with ``keep_last`` off (how runs use it: ``OffloadedRM`` sends its group home when it has scored), the GPU holds
  no RM while the policy samples and trains, which is what the memory plan budgets for (``harness.plan``): the
  16 GiB an RM would keep are worth more to the KV cache than the ~0.6 s a step spends moving the RM in again;
- with ``keep_last`` on, the last group stays until another is needed, so a per-batch method that picks the same
  RM in consecutive steps does not move it at all.

Moving in is ``module.to(compute)`` (parameters and buffers), asynchronous from pinned memory. The weights are
frozen, so the home copy of each parameter stays valid while the model is away: moving home points the parameters
back at it (no device-to-host copy) and ``module.to(home)`` brings the few buffers. The freed device blocks stay
in PyTorch's caching allocator, which hands them to the next model or to sampling's KV cache (and frees cached
blocks itself, and retries, when an allocation fails), so the swap never empties the cache; ``release`` does, for
callers done with the RMs. Pinned host memory is one buffer per model, which the host allocator rounds up to a
power of two (a 13.5 GiB 7B RM pins 16 GiB).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch

from harness.models.loading import DTYPES, pick_device, pick_dtype

ALIGNMENT = 64  # bytes: every parameter's view of a model's pinned buffer starts on this boundary


def canonical_device(device: torch.device | str) -> torch.device:
    """``device`` with the current CUDA index filled in, so "cuda" and "cuda:0" compare equal when 0 is current."""
    device = torch.device(device)
    if device.type == "cuda" and device.index is None and torch.cuda.is_available():
        return torch.device("cuda", torch.cuda.current_device())
    return device


@dataclass
class _Resident:
    """One adopted model and the home tensor of each of its parameters."""

    label: str
    model: torch.nn.Module
    homes: list[tuple[torch.nn.Parameter, torch.Tensor]]
    nbytes: int


@dataclass(eq=False)
class ModelPlacement:
    """The swap slot: models adopted on ``home`` visit ``compute`` one group at a time (see the module docstring).
    ``moves`` logs every move as ``(direction, label)``, direction "in" (to compute) or "out" (home)."""

    compute: torch.device
    home: torch.device = field(default_factory=lambda: torch.device("cpu"))
    keep_last: bool = False
    moves: list[tuple[str, str]] = field(default_factory=list)
    bytes_in: int = 0
    _adopted: dict[int, _Resident] = field(default_factory=dict, repr=False)
    _on_compute: dict[int, _Resident] = field(default_factory=dict, repr=False)

    def __post_init__(self):
        self.compute, self.home = canonical_device(self.compute), canonical_device(self.home)

    @property
    def pins(self) -> bool:
        """Whether home copies are pinned: only a CPU home of a CUDA compute device gains from it (fast,
        asynchronous host-to-device copies), and pinning needs CUDA."""
        return self.home.type == "cpu" and self.compute.type == "cuda" and torch.cuda.is_available()

    @property
    def resident(self) -> list[str]:
        """The labels of the models on the compute device now (the last acquired group)."""
        return [entry.label for entry in self._on_compute.values()]

    def offloads(self, device: str) -> bool:
        """Whether a model configured for ``device`` ("auto", "cuda", ...) is one this slot offloads: only models
        meant for the compute device are; one configured elsewhere (e.g. "cpu") is loaded there as usual."""
        return canonical_device(pick_device(device)) == self.compute

    def load_dtype(self, dtype: str, device: str) -> str:
        """The dtype to load a model at home with: what ``dtype`` resolves to on the device it is meant for ("auto"
        is bfloat16 on a GPU, not the CPU's float32), so an offloaded model computes as a resident one would."""
        resolved = pick_dtype(dtype, pick_device(device))
        return next(name for name, value in DTYPES.items() if value == resolved)

    def adopt(self, model: torch.nn.Module, label: str) -> torch.nn.Module:
        """Take a frozen model loaded on the home device into the slot (its parameters moved into one pinned buffer
        when ``pins``); it stays home until a group that holds it is acquired."""
        if id(model) in self._adopted:
            return model
        parameters = list(model.parameters())
        if self.pins:
            pack_parameters(parameters, pin_memory=True)
        nbytes = sum(p.numel() * p.element_size() for p in parameters)
        self._adopted[id(model)] = _Resident(label, model, [(p, p.data) for p in parameters], nbytes)
        return model

    def holds(self, model: torch.nn.Module) -> bool:
        return id(model) in self._adopted

    def acquire(self, group: Sequence[torch.nn.Module]) -> None:
        """Make ``group`` the models on the compute device: the others go home first, then the missing ones come
        in; nothing moves when the group is already there."""
        wanted = [self._adopted[id(model)] for model in group]
        keep = {id(entry.model) for entry in wanted}
        for key in [key for key in self._on_compute if key not in keep]:
            self._send_home(self._on_compute.pop(key))
        for entry in wanted:
            if id(entry.model) not in self._on_compute:
                self._bring_in(entry)
                self._on_compute[id(entry.model)] = entry

    def done_scoring(self) -> None:
        """An RM has scored: its group goes home unless ``keep_last`` (the freed blocks stay in PyTorch's allocator
        for the KV cache and the training step)."""
        if not self.keep_last:
            self.send_all_home()

    def send_all_home(self) -> None:
        for key in list(self._on_compute):
            self._send_home(self._on_compute.pop(key))

    def release(self) -> None:
        """Send every model home and return the freed device blocks to the driver (for callers done with the RMs,
        or handing the memory to something outside PyTorch's allocator)."""
        self.send_all_home()
        if self.compute.type == "cuda":
            torch.cuda.empty_cache()

    def summary(self) -> dict[str, float | int]:
        """The moves so far, for the run's record."""
        return {"moves_in": sum(direction == "in" for direction, _ in self.moves),
                "moves_out": sum(direction == "out" for direction, _ in self.moves),
                "gib_in": round(self.bytes_in / 2 ** 30, 3)}

    def _bring_in(self, entry: _Resident) -> None:
        entry.model.to(self.compute, non_blocking=self.pins)
        self.moves.append(("in", entry.label))
        self.bytes_in += entry.nbytes

    def _send_home(self, entry: _Resident) -> None:
        for parameter, home in entry.homes:  # frozen weights: the home copy is still exact
            parameter.data = home
        entry.model.to(self.home)  # the buffers (parameters are home already: no copy)
        self.moves.append(("out", entry.label))


def pack_parameters(parameters: Sequence[torch.nn.Parameter], pin_memory: bool) -> torch.Tensor:
    """Move ``parameters`` into one host buffer, pinned when ``pin_memory`` (one allocation, not one per tensor, which
    the pinned-memory allocator would each round up to a power of two); returns the buffer."""
    offsets, total = [], 0
    for parameter in parameters:
        offsets.append(total)
        total += -(-parameter.numel() * parameter.element_size() // ALIGNMENT) * ALIGNMENT
    buffer = torch.empty(total, dtype=torch.uint8, pin_memory=pin_memory)
    for parameter, offset in zip(parameters, offsets):
        size = parameter.numel() * parameter.element_size()
        view = buffer[offset:offset + size].view(parameter.dtype).view(parameter.shape)
        view.copy_(parameter.data)
        parameter.data = view
    return buffer


def placement_for(memory_setting: bool | None, device: str, keep_last: bool = False) -> ModelPlacement | None:
    """The slot for a run whose (planned) ``memory.offload_reward_models`` is ``memory_setting`` and whose models
    are meant for ``device``: None (every model resident, as without a plan) unless offloading is on and the
    device is a GPU; a CPU run never offloads."""
    if not memory_setting:
        return None
    compute = pick_device(device)
    if compute.type != "cuda":
        return None
    return ModelPlacement(compute=compute, home=torch.device("cpu"), keep_last=keep_last)
