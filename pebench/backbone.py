"""A pre-LayerNorm Transformer whose positional information comes only from its encoding.

Decoder-only (``causal``) or bidirectional encoder, with key padding masks and attention
through :func:`torch.nn.functional.scaled_dot_product_attention`; the encoding's score bias,
the causal mask and the padding mask are merged into one additive float mask, built once per
forward pass and shared by every layer.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from pebench.encodings.base import AttentionMask, ModelDims, PositionalEncoding
from pebench.errors import PebenchError
from pebench.positions import plain_positions, randomized_positions

#: cached static masks kept per model (one per sequence length seen, e.g. per eval length)
MASK_CACHE_SIZE = 256


class SelfAttention(nn.Module):
    """Multi-head self-attention that lets the encoding transform q/k or take over entirely."""

    def __init__(self, dims: ModelDims, encoding: PositionalEncoding, layer: int, dropout: float):
        super().__init__()
        self.dims, self.encoding, self.layer = dims, encoding, layer
        self.qkv = nn.Linear(dims.d_model, 3 * dims.d_model)
        self.out = nn.Linear(dims.d_model, dims.d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: AttentionMask, positions: Tensor) -> Tensor:
        b, t, _ = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.dims.num_heads, -1).permute(2, 0, 3, 1, 4)
        q, k = self.encoding.transform_qk(q, k, positions)
        y = self.encoding.attend(q, k, v, mask, positions, self.layer, x)
        return self.dropout(self.out(y.transpose(1, 2).reshape(b, t, -1)))


class Block(nn.Module):
    """x ← x + Attn(LN(x)); x ← x + FFN(LN(x))."""

    def __init__(
        self,
        dims: ModelDims,
        encoding: PositionalEncoding,
        layer: int,
        ffn_mult: int,
        dropout: float,
    ):
        super().__init__()
        self.norm1 = nn.LayerNorm(dims.d_model)
        self.attn = SelfAttention(dims, encoding, layer, dropout)
        self.norm2 = nn.LayerNorm(dims.d_model)
        self.ffn = nn.Sequential(
            nn.Linear(dims.d_model, ffn_mult * dims.d_model),
            nn.GELU(),
            nn.Linear(ffn_mult * dims.d_model, dims.d_model),
            nn.Dropout(dropout),
        )

    def forward(self, x: Tensor, mask: AttentionMask, positions: Tensor) -> Tensor:
        x = x + self.attn(self.norm1(x), mask, positions)
        return x + self.ffn(self.norm2(x))


def check_dims(dims: ModelDims) -> None:
    """Raise a clear error for sizes no Transformer can have."""
    for field in ("d_model", "num_heads", "num_layers"):
        if getattr(dims, field) < 1:
            raise PebenchError(f"model {field} must be at least 1, got {getattr(dims, field)}")
    if dims.d_model % dims.num_heads:
        raise PebenchError(
            f"d_model {dims.d_model} is not divisible by num_heads {dims.num_heads}; "
            f"choose sizes with d_model = num_heads × head_dim"
        )


class Transformer(nn.Module):
    """Token embedding, positional encoding, pre-LN blocks and a final LayerNorm.

    ``forward`` returns hidden states; the task puts its own head on top. With
    ``randomized_positions = L`` the default positions are a sorted random subset of [0, L)
    in training (and in evaluation too if ``randomize_eval``), for any encoding that reads
    positions (Ruoss et al. 2023).
    """

    def __init__(
        self,
        vocab_size: int,
        dims: ModelDims,
        encoding: PositionalEncoding,
        ffn_mult: int = 4,
        dropout: float = 0.0,
        randomized_positions: int | None = None,
        randomize_eval: bool = False,
    ) -> None:
        super().__init__()
        check_dims(dims)
        limit = encoding.max_positions
        if randomized_positions is not None and limit is not None and randomized_positions > limit:
            raise PebenchError(
                f"randomized positions reach {randomized_positions - 1} but encoding "
                f"{encoding.name!r} covers only 0..{limit - 1}; lower model.randomized_positions "
                f"or raise the encoding's max_positions"
            )
        self.dims = dims
        self.randomized_positions, self.randomize_eval = randomized_positions, randomize_eval
        self.embedding = nn.Embedding(vocab_size, dims.d_model)
        self.encoding = encoding
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            Block(dims, encoding, layer, ffn_mult, dropout) for layer in range(dims.num_layers)
        )
        self.norm = nn.LayerNorm(dims.d_model)
        self._mask_cache: dict[tuple[int, torch.device, torch.dtype], AttentionMask] = {}

    def attention_mask(
        self, positions: Tensor, padding_mask: Tensor | None, dtype: torch.dtype
    ) -> AttentionMask:
        """Merge causal masking, key padding (``padding_mask`` True at pad tokens) and bias.

        With positions shared by the whole batch, no padding and a ``static_bias`` encoding,
        the mask is cached per (length, device, dtype): it is the same every step.
        """
        key = (positions.shape[-1], positions.device, dtype)
        cacheable = positions.shape[0] == 1 and padding_mask is None and self.encoding.static_bias
        if cacheable and key in self._mask_cache:
            return self._mask_cache[key]
        bias = self.encoding.attention_bias(positions, positions)
        if bias is None and padding_mask is None:
            return AttentionMask(None, self.dims.causal)
        t = positions.shape[-1]
        blocked = torch.zeros(1, 1, t, t, dtype=torch.bool, device=positions.device)
        if self.dims.causal:
            blocked = blocked | torch.ones_like(blocked).triu(1)
        if padding_mask is not None:
            blocked = blocked | padding_mask[:, None, None, :]
        additive = torch.zeros(blocked.shape, dtype=dtype, device=positions.device)
        if bias is not None:
            additive = additive + bias.to(dtype)
        mask = AttentionMask(additive.masked_fill(blocked, float("-inf")), False)
        if cacheable:
            if len(self._mask_cache) >= MASK_CACHE_SIZE:
                self._mask_cache.clear()
            self._mask_cache[key] = mask
        return mask

    def forward(
        self, tokens: Tensor, positions: Tensor | None = None, padding_mask: Tensor | None = None
    ) -> Tensor:
        """Hidden states (batch, length, d_model) for ``tokens`` (batch, length).

        ``positions`` defaults to 0..length-1 shared by every row (shape (1, length); right
        padding keeps it correct), or randomized positions when configured; ``padding_mask``
        is True where a token is padding and must not be attended to.
        """
        if positions is None:
            randomize = self.randomized_positions is not None and (
                self.training or self.randomize_eval
            )
            positions = (
                randomized_positions(tokens, self.randomized_positions)
                if randomize
                else plain_positions(tokens)
            )
        x = self.dropout(self.encoding.embed(self.embedding(tokens), positions))
        mask = self.attention_mask(positions, padding_mask, x.dtype)
        for block in self.blocks:
            x = block(x, mask, positions)
        return self.norm(x)
