"""Rotary position embedding (Su et al. 2021, "RoFormer: Enhanced Transformer with Rotary
Position Embedding"), with partial rotation, p-RoPE, two pairings, and length extension at
evaluation: position interpolation (Chen et al. 2023), NTK-aware and dynamic NTK scaling,
YaRN (Peng et al. 2024) and Llama 3 frequency scaling."""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor

from pebench.encodings.base import ModelDims, PositionalEncoding
from pebench.errors import PebenchError
from pebench.kernels.rotary import rotate, rotate_qk

Extension = Literal["none", "interpolation", "ntk", "dynamic_ntk", "yarn", "llama3"]
EXTENSIONS = ("none", "interpolation", "ntk", "dynamic_ntk", "yarn", "llama3")
#: extensions whose frequencies depend on the context length the model was trained at
NEEDS_CONTEXT = ("dynamic_ntk", "yarn", "llama3")


def yarn_frequencies(
    inv_freq: Tensor,
    base: float,
    factor: float,
    context: int,
    beta_fast: float,
    beta_slow: float,
) -> Tensor:
    """YaRN's "NTK-by-parts" frequencies (Peng et al. 2024, eq. 18–20).

    Pair i turns r_i = context·θ_i/2π times over the training context. Pairs with r_i > β_fast
    keep θ_i (extrapolation), pairs with r_i < β_slow are interpolated (θ_i / s), and in between
    a linear ramp over the pair index blends the two. The ramp's ends are the (fractional)
    pair indices where r = β_fast and r = β_slow, floored and ceiled as in the reference code.
    """
    pairs = inv_freq.numel()
    dim = 2 * pairs

    def pair_index(rotations: float) -> float:
        return dim * math.log(context / (rotations * 2 * math.pi)) / (2 * math.log(base))

    low = max(math.floor(pair_index(beta_fast)), 0)
    high = min(math.ceil(pair_index(beta_slow)), dim - 1)
    if low == high:
        high += 0.001
    ramp = ((torch.arange(pairs, dtype=torch.float32) - low) / (high - low)).clamp(0, 1)
    return inv_freq / factor * ramp + inv_freq * (1 - ramp)


def llama3_frequencies(
    inv_freq: Tensor, factor: float, context: int, low_freq_factor: float, high_freq_factor: float
) -> Tensor:
    """Llama 3.1 frequency scaling: wavelengths shorter than context/high_freq_factor are kept,
    longer than context/low_freq_factor divided by ``factor``, smoothly blended in between."""
    wavelength = 2 * math.pi / inv_freq
    smooth = (context / wavelength - low_freq_factor) / (high_freq_factor - low_freq_factor)
    smooth = smooth.clamp(0, 1)
    return inv_freq / factor * (1 - smooth) + inv_freq * smooth


class RoPE(PositionalEncoding):
    """q_p, k_p ← R(p·θ_i)·q_p, R(p·θ_i)·k_p with θ_i = base^(−2i/r) on pairs of dimensions, so
    q·k depends only on the distance between positions (Su et al. 2021).

    Options: ``fraction`` of each head's dimensions rotated, with frequencies recomputed over
    the r rotated dimensions (GPT-NeoX's partial rotary; the rest pass unchanged);
    ``proportion`` (p-RoPE, Barbero et al. 2025): all head dimensions get the full-dimension
    frequencies θ_i = base^(−2i/d), and only the highest ``proportion`` of them rotate, the
    lowest-frequency pairs being left unrotated (1 = RoPE, 0 = NoPE); ``interleaved`` pairs
    (x_{2i}, x_{2i+1}) as in the paper, otherwise (x_i, x_{i+r/2}) as in GPT-NeoX.
    ``extension`` applies only in evaluation mode with factor s = ``extension_factor``:
    ``interpolation`` θ_i → θ_i/s (Chen et al. 2023); ``ntk`` base → base·s^(r/(r−2));
    ``dynamic_ntk`` base → base·(s·T/L − (s − 1))^(r/(r−2)) recomputed for each evaluated
    length T > L (L = ``original_context``); ``yarn`` per-frequency ramp between θ_i and θ_i/s
    (``yarn_beta_fast`` 32, ``yarn_beta_slow`` 1) and attention temperature
    √(1/t) = 0.1·ln s + 1 on q and k (Peng et al. 2024); ``llama3`` Llama 3.1's scaling
    (``low_freq_factor`` 1, ``high_freq_factor`` 4).
    """

    name = "rope"
    relative = True

    def __init__(
        self,
        dims: ModelDims,
        base: float = 10000.0,
        fraction: float = 1.0,
        proportion: float = 1.0,
        interleaved: bool = False,
        extension: Extension = "none",
        extension_factor: float = 1.0,
        original_context: int | None = None,
        yarn_beta_fast: float = 32.0,
        yarn_beta_slow: float = 1.0,
        low_freq_factor: float = 1.0,
        high_freq_factor: float = 4.0,
    ) -> None:
        super().__init__(dims)
        if not 0 < fraction <= 1:
            raise PebenchError(f"rope fraction must be in (0, 1], got {fraction}")
        if not 0 <= proportion <= 1:
            raise PebenchError(f"rope proportion must be in [0, 1], got {proportion}")
        if fraction < 1 and proportion < 1:
            raise PebenchError(
                "rope fraction and proportion are two ways to leave dimensions unrotated; "
                "set only one of them below 1"
            )
        rotary = int(dims.head_dim * fraction) // 2 * 2
        if rotary < 2:
            raise PebenchError(
                f"rope rotates {fraction} of head dimension {dims.head_dim}, fewer than one pair; "
                f"raise fraction or the head dimension"
            )
        if extension not in EXTENSIONS:
            raise PebenchError(
                f"rope extension must be one of {', '.join(EXTENSIONS)}, got {extension!r}"
            )
        if extension_factor < 1:
            raise PebenchError(f"rope extension_factor must be >= 1, got {extension_factor}")
        if extension in NEEDS_CONTEXT and (original_context is None or original_context < 1):
            raise PebenchError(
                f"rope extension {extension!r} needs the training context length: set "
                f"--encoding.original_context to the longest training sequence"
            )
        if extension == "llama3" and not high_freq_factor > low_freq_factor > 0:
            raise PebenchError(
                f"rope llama3 needs high_freq_factor > low_freq_factor > 0, got "
                f"{high_freq_factor} and {low_freq_factor}"
            )
        self.base, self.fraction, self.proportion = base, fraction, proportion
        self.interleaved = interleaved
        self.extension, self.extension_factor = extension, extension_factor
        self.original_context = original_context
        self.rotary_dim = rotary
        self.register_buffer("inv_freq", self.frequencies(base), persistent=False)
        s = extension_factor
        if extension == "interpolation":
            eval_freq = self.inv_freq / s
        elif extension == "ntk":
            eval_freq = self.frequencies(self.ntk_base(s))
        elif extension == "yarn":
            eval_freq = yarn_frequencies(
                self.inv_freq, base, s, original_context, yarn_beta_fast, yarn_beta_slow
            )
        elif extension == "llama3":
            eval_freq = llama3_frequencies(
                self.inv_freq, s, original_context, low_freq_factor, high_freq_factor
            )
        else:
            eval_freq = self.inv_freq
        self.register_buffer("eval_inv_freq", eval_freq, persistent=False)
        #: YaRN's √(1/t), multiplying q and k (so scores by 1/t) in evaluation
        self.eval_scale = 0.1 * math.log(s) + 1 if extension == "yarn" and s > 1 else 1.0

    def ntk_base(self, growth: float) -> float:
        """The NTK-aware base for a context ``growth`` times longer: base·g^(r/(r−2))."""
        r = self.rotary_dim
        return self.base * growth ** (r / (r - 2)) if r > 2 else self.base

    def frequencies(self, base: float) -> Tensor:
        """θ_i = base^(−2i/r) for the r/2 rotated pairs; with ``proportion`` p < 1, the lowest
        1 − p of them are 0 (those pairs are not rotated)."""
        inv_freq = base ** (
            -torch.arange(0, self.rotary_dim, 2, dtype=torch.float32) / self.rotary_dim
        )
        kept = int(self.proportion * self.rotary_dim // 2)
        return torch.where(torch.arange(inv_freq.numel()) < kept, inv_freq, 0.0)

    def current_frequencies(self, positions: Tensor) -> Tensor:
        """The frequencies in use: the training ones, or the extension's in evaluation mode."""
        if self.training:
            return self.inv_freq
        if self.extension == "dynamic_ntk":
            length = int(positions.max()) + 1 if positions.numel() else 0
            context = self.original_context
            if length <= context:
                return self.inv_freq
            growth = self.extension_factor * length / context - (self.extension_factor - 1)
            return self.frequencies(self.ntk_base(growth)).to(self.inv_freq.device)
        return self.eval_inv_freq

    def angles(self, positions: Tensor) -> Tensor:
        """p·θ_i, shape (batch, 1, length, r/2), with length extension applied in eval mode."""
        inv_freq = self.current_frequencies(positions)
        return (positions.to(torch.float32).unsqueeze(-1) * inv_freq).unsqueeze(1)

    def rotate(self, x: Tensor, angles: Tensor, scale: Tensor | None = None) -> Tensor:
        """Rotate the first r dims of ``x`` pairwise by ``angles`` (optionally scaled)."""
        return rotate(x, angles, self.rotary_dim, self.interleaved, scale)

    def transform_qk(self, q: Tensor, k: Tensor, positions: Tensor) -> tuple[Tensor, Tensor]:
        angles = self.angles(positions)
        if not self.training and self.eval_scale != 1.0:
            q, k = q * self.eval_scale, k * self.eval_scale  # YaRN's temperature
        return rotate_qk(q, k, angles, self.rotary_dim, self.interleaved)
