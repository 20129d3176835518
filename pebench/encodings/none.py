"""No positional encoding (NoPE): order is only visible through the causal mask.

Kazemnejad et al. 2023, "The Impact of Positional Encoding on Length Generalization in
Transformers".
"""

from __future__ import annotations

from pebench.encodings.base import PositionalEncoding


class NoPositionalEncoding(PositionalEncoding):
    """NoPE: scores q·kᵀ/√d; order is seen only through the causal mask (Kazemnejad et al. 2023)."""

    name = "none"
    relative = True
    supports_bidirectional = False
