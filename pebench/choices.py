"""Named choices of the backbone (attention kernel, activation, norm, initialization),
importable without torch so the command line can show and check them before the training
stack loads."""

from __future__ import annotations

from typing import Literal

AttentionBackend = Literal["auto", "sdpa", "flex", "fla"]
Activation = Literal["gelu", "relu"]
Norm = Literal["layernorm", "rmsnorm"]
Init = Literal["default", "t5"]
