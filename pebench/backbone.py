"""A pre-LayerNorm Transformer whose positional information comes only from its encoding.

Decoder-only (``causal``) or bidirectional encoder, with key padding masks. The causal and
padding masks and the encoding's score bias are prepared once per forward pass and shared by
every layer, in the form the chosen kernel takes (:mod:`pebench.kernels.dispatch`): an
additive float mask (SDPA; built one block of queries at a time past 2³¹ elements on GPUs),
block masks and a ``score_mod`` (FlexAttention), or nothing but the causal order
(flash-linear-attention's kernels). A causal model can also run incrementally with a
:class:`KVCache` (greedy decoding), for encodings that declare ``kv_cache``.
"""

from __future__ import annotations

from typing import get_args

import torch
from torch import Tensor, nn

from pebench.choices import Activation, AttentionBackend, Init, Norm
from pebench.encodings.abacus import AbacusEmbedding
from pebench.encodings.base import AttentionMask, FlexInputs, ModelDims, PositionalEncoding
from pebench.errors import PebenchError
from pebench.kernels import dispatch, fla, ranges
from pebench.kernels.dispatch import FLEX_ON_CPU, Path, attention_path
from pebench.positions import plain_positions, randomized_positions

__all__ = ["FLEX_ON_CPU", "Activation", "AttentionBackend", "Norm"]  # re-exported
ACTIVATIONS: dict[str, type[nn.Module]] = {"gelu": nn.GELU, "relu": nn.ReLU}

#: cached static masks kept per model (one per sequence length seen, e.g. per eval length)
MASK_CACHE_SIZE = 256


def _additive_mask(bias: Tensor | None, blocked: Tensor, dtype: torch.dtype) -> AttentionMask:
    """One additive float mask: the encoding's bias (if any), −inf where ``blocked``."""
    additive = torch.zeros(blocked.shape, dtype=dtype, device=blocked.device)
    if bias is not None:
        additive = additive + bias.to(dtype)
    return AttentionMask(additive.masked_fill(blocked, float("-inf")), False)


class KVCache:
    """Keys and values of every layer for the tokens decoded so far, and their positions.

    Keys are stored after the encoding's ``transform_qk``, so each token is rotated (or
    otherwise position-transformed) once, at the step that produced it.
    """

    def __init__(self, num_layers: int) -> None:
        self.keys: list[Tensor | None] = [None] * num_layers
        self.values: list[Tensor | None] = [None] * num_layers
        self.positions: Tensor | None = None

    @property
    def length(self) -> int:
        return 0 if self.positions is None else self.positions.shape[-1]

    def extend(self, layer: int, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Append this step's keys and values for ``layer``; return all of them."""
        if self.keys[layer] is not None:
            k = torch.cat([self.keys[layer], k], dim=-2)
            v = torch.cat([self.values[layer], v], dim=-2)
        self.keys[layer], self.values[layer] = k, v
        return k, v


class SelfAttention(nn.Module):
    """Multi-head self-attention that lets the encoding transform q/k or take over entirely."""

    def __init__(
        self,
        dims: ModelDims,
        encoding: PositionalEncoding,
        layer: int,
        dropout: float,
        bias: bool = True,
        unscaled: bool = False,
    ):
        super().__init__()
        self.dims, self.encoding, self.layer = dims, encoding, layer
        #: T5 computes q·kᵀ without the 1/√d_head; q is pre-multiplied by √d_head so every
        #: encoding's own scaling cancels
        self.q_gain = dims.head_dim**0.5 if unscaled else 1.0
        self.qkv = nn.Linear(dims.d_model, 3 * dims.d_model, bias=bias)
        self.out = nn.Linear(dims.d_model, dims.d_model, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(
        self, x: Tensor, mask: AttentionMask, positions: Tensor, cache: KVCache | None = None
    ) -> Tensor:
        b, t, _ = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.dims.num_heads, -1).permute(2, 0, 3, 1, 4)
        q, k = self.encoding.transform_qk(q, k, positions)
        if self.q_gain != 1.0:
            q = q * self.q_gain
        if cache is not None:
            k, v = cache.extend(self.layer, k, v)
        y = self.encoding.attend(q, k, v, mask, positions, self.layer, x)
        return self.dropout(self.out(y.transpose(1, 2).reshape(b, t, -1)))


def make_norm(kind: Norm, d_model: int, bias: bool = True) -> nn.Module:
    """LayerNorm, or T5's RMS norm (Zhang & Sennrich 2019): x / rms(x) · g, no mean
    subtraction and no bias, ε = 1e-6 as in T5."""
    if kind == "rmsnorm":
        return nn.RMSNorm(d_model, eps=1e-6)
    if kind == "layernorm":
        return nn.LayerNorm(d_model, bias=bias)
    raise PebenchError(f"model norm must be 'layernorm' or 'rmsnorm', got {kind!r}")


class Block(nn.Module):
    """x ← x + Attn(N(x)); x ← x + FFN(N(x)), N a LayerNorm or RMS norm; the FFN is
    Linear(d_model → d_ff) · activation · Linear(d_ff → d_model)."""

    def __init__(
        self,
        dims: ModelDims,
        encoding: PositionalEncoding,
        layer: int,
        d_ff: int,
        dropout: float,
        activation: Activation = "gelu",
        norm: Norm = "layernorm",
        bias: bool = True,
        unscaled: bool = False,
    ):
        super().__init__()
        self.norm1 = make_norm(norm, dims.d_model, bias)
        self.attn = SelfAttention(dims, encoding, layer, dropout, bias, unscaled)
        self.norm2 = make_norm(norm, dims.d_model, bias)
        self.ffn = nn.Sequential(
            nn.Linear(dims.d_model, d_ff, bias=bias),
            ACTIVATIONS[activation](),
            nn.Linear(d_ff, dims.d_model, bias=bias),
            nn.Dropout(dropout),
        )

    def forward(
        self, x: Tensor, mask: AttentionMask, positions: Tensor, cache: KVCache | None = None
    ) -> Tensor:
        x = x + self.attn(self.norm1(x), mask, positions, cache)
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
    """Token embedding, positional encoding, pre-norm blocks and a final norm.

    ``forward`` returns hidden states; the task puts its own head on top. With
    ``randomized_positions = L`` the default positions are a sorted random subset of [0, L)
    in training (and in evaluation too if ``randomize_eval``), for any encoding that reads
    positions (Ruoss et al. 2023). ``attention`` picks the kernel
    (:func:`pebench.kernels.dispatch.attention_path`): ``sdpa`` (an additive mask), ``flex``
    (FlexAttention: the bias in a ``score_mod``, block masks), ``fla`` (flash-linear-attention's
    kernel of an encoding that computes attention itself: fox, path, stick_breaking), or
    ``auto``: flex on CUDA for encodings with a score bias, fla where it applies, else SDPA or
    the encoding family's own kernel (:func:`pebench.kernels.dispatch.own_path`). ``d_ff``
    (default ``ffn_mult × d_model``), ``activation``, ``norm`` and ``bias`` (biases in every
    linear layer and LayerNorm) shape the blocks; ``relu``, ``rmsnorm`` and ``bias=False`` give
    T5's layer (Raffel et al. 2020); ``init="t5"`` its initialization and unscaled attention
    logits.
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
        attention: AttentionBackend = "auto",
        d_ff: int | None = None,
        activation: Activation = "gelu",
        norm: Norm = "layernorm",
        bias: bool = True,
        init: Init = "default",
        abacus: int | None = None,
    ) -> None:
        super().__init__()
        check_dims(dims)
        if init not in ("default", "t5"):
            raise PebenchError(f"model init must be 'default' or 't5', got {init!r}")
        if activation not in ACTIVATIONS:
            raise PebenchError(
                f"model activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}"
            )
        d_ff = ffn_mult * dims.d_model if d_ff is None else d_ff
        if d_ff < 1:
            raise PebenchError(f"model d_ff must be at least 1, got {d_ff}")
        if attention not in get_args(AttentionBackend):
            raise PebenchError(
                f"model attention must be 'auto', 'sdpa', 'flex' or 'fla', got {attention!r}"
            )
        own = type(encoding).attend is not PositionalEncoding.attend and not encoding.flex_attend
        if attention == "flex" and own:
            raise PebenchError(
                f"encoding {encoding.name!r} computes attention itself; --model.attention flex "
                f"applies only to encodings that add a score bias (or a relative bucket bias)"
            )
        if attention == "fla" and encoding.fused_kernel is None:
            raise PebenchError(
                f"encoding {encoding.name!r} has no flash-linear-attention kernel; "
                f"--model.attention fla applies to {', '.join(fla.KERNELS)}"
            )
        self.attention_backend = attention
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
        #: Abacus embeddings of the task's token positions, added beside the encoding
        self.abacus = None if abacus is None else AbacusEmbedding(dims.d_model, abacus)
        self.encoding = encoding
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            Block(dims, encoding, layer, d_ff, dropout, activation, norm, bias, init == "t5")
            for layer in range(dims.num_layers)
        )
        self.norm = make_norm(norm, dims.d_model, bias)
        if init == "t5":
            self._t5_init()
        self._mask_cache: dict[tuple[int, torch.device, torch.dtype], AttentionMask] = {}

    @torch.no_grad()
    def _t5_init(self) -> None:
        """T5's initialization (Mesh TensorFlow, as in Hugging Face's ``T5PreTrainedModel``):
        embeddings N(0, 1); W_q N(0, (d_model·d_head)^-½), folding in the 1/√d_head its
        attention does not apply; W_k, W_v, W_o and the first FFN layer N(0, d_model^-½); the
        second FFN layer N(0, d_ff^-½); biases (if any) zero."""
        d, hd = self.dims.d_model, self.dims.head_dim
        nn.init.normal_(self.embedding.weight, std=1.0)
        for block in self.blocks:
            qkv = block.attn.qkv.weight  # rows: q, then k, then v
            nn.init.normal_(qkv[:d], std=(d * hd) ** -0.5)
            nn.init.normal_(qkv[d:], std=d**-0.5)
            nn.init.normal_(block.attn.out.weight, std=d**-0.5)
            nn.init.normal_(block.ffn[0].weight, std=d**-0.5)
            nn.init.normal_(block.ffn[2].weight, std=block.ffn[2].in_features**-0.5)
            for linear in (block.attn.qkv, block.attn.out, block.ffn[0], block.ffn[2]):
                if linear.bias is not None:
                    nn.init.zeros_(linear.bias)

    def attention_path(self, device: torch.device) -> Path:
        """How attention runs on ``device`` (:func:`pebench.kernels.dispatch.attention_path`)."""
        cls = type(self.encoding)
        # bucket biases (Shaw, Transformer-XL) through FlexAttention: only when asked for
        # (--model.attention flex) until the path has been timed on a GPU
        buckets = self.encoding.flex_attend and self.attention_backend == "flex"
        own = cls.attend is not PositionalEncoding.attend and not buckets
        biased = buckets or self._score_bias()
        return attention_path(
            self.attention_backend, device, own, biased, self.dims.head_dim,
            cls.fused_kernel, self.dims.causal, self.encoding.kernel,
        )  # fmt: skip

    def _score_bias(self) -> bool:
        """Whether the encoding adds a score bias (defines an offset table or a dense bias)."""
        cls = type(self.encoding)
        return (
            cls.offset_bias is not PositionalEncoding.offset_bias
            or cls.attention_bias is not PositionalEncoding.attention_bias
        )

    def uses_flex(self, device: torch.device) -> bool:
        """Whether score biases go through FlexAttention on ``device``."""
        return self.attention_path(device) == "flex"

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
        if self.uses_flex(positions.device):
            table = self.encoding.offset_bias(positions, positions)
            if table is None and (by_rows := self._mask_by_rows(positions, padding_mask, dtype)):
                return by_rows
            bias = None if table is not None else self.encoding.attention_bias(positions, positions)
            if table is not None or bias is not None or self.encoding.flex_attend:  # buckets
                flex = FlexInputs(self.dims.causal, padding_mask, table, positions, bias)
                return AttentionMask(None, False, flex)
        elif by_rows := self._mask_by_rows(positions, padding_mask, dtype):
            return by_rows
        else:
            bias = self.encoding.attention_bias(positions, positions)
        if bias is None and padding_mask is None:
            fused = self.dims.causal and self.attention_path(positions.device) == "fla"
            return AttentionMask(None, self.dims.causal, fused=fused)
        t = positions.shape[-1]
        mask = _additive_mask(bias, self._blocked(0, t, t, padding_mask, positions.device), dtype)
        if cacheable:
            if len(self._mask_cache) >= MASK_CACHE_SIZE:
                self._mask_cache.clear()
            self._mask_cache[key] = mask
        return mask

    def _mask_by_rows(
        self, positions: Tensor, padding_mask: Tensor | None, dtype: torch.dtype
    ) -> AttentionMask | None:
        """Where :func:`pebench.kernels.dispatch.bias_by_rows` says (long sequences on a GPU;
        FIRE past its threshold at T = 32,768 would need 68 GB), the encoding's dense bias as
        a mask built one block of queries at a time in every layer
        (:func:`pebench.kernels.sdpa.attention_by_rows`); ``None`` otherwise."""
        t = positions.shape[-1]
        dense = positions.shape[0] * self.dims.num_heads * t * t
        if not self._score_bias() or not dispatch.bias_by_rows(positions.device, dense):
            return None

        def rows(start: int, stop: int) -> Tensor:
            bias = self.encoding.attention_bias(positions[..., start:stop], positions)
            blocked = self._blocked(start, stop, t, padding_mask, positions.device)
            return _additive_mask(bias, blocked, dtype).additive

        return AttentionMask(None, False, rows=rows)

    def _blocked(
        self, start: int, stop: int, t: int, padding_mask: Tensor | None, device: torch.device
    ) -> Tensor:
        """Where queries ``start:stop`` of ``t`` may not attend: keys after them in a causal
        model, padded keys (``padding_mask`` True at pads); (1 or batch, 1, stop − start, t)."""
        blocked = torch.zeros(1, 1, stop - start, t, dtype=torch.bool, device=device)
        if self.dims.causal:
            blocked = blocked | torch.ones_like(blocked).triu(1 + start)
        if padding_mask is not None:
            blocked = blocked | padding_mask[:, None, None, :]
        return blocked

    def incremental_mask(
        self, q_positions: Tensor, k_positions: Tensor, dtype: torch.dtype
    ) -> AttentionMask:
        """The mask of new queries over cached plus new keys: query i of n new tokens sees the
        cached keys and new keys up to itself, plus the encoding's bias."""
        n, total = q_positions.shape[-1], k_positions.shape[-1]
        bias = self.encoding.attention_bias(q_positions, k_positions)
        if n == 1 and bias is None:
            return AttentionMask(None, False)  # one query sees every key
        future = torch.ones(1, 1, n, total, dtype=torch.bool, device=q_positions.device).triu(
            total - n + 1
        )
        return _additive_mask(bias, future, dtype)

    def supports_cache(self) -> bool:
        """Whether incremental decoding gives the same result as recomputing the prefix."""
        randomized = self.randomized_positions is not None and self.randomize_eval
        # Abacus positions of a new token depend on the tokens before it: recompute instead
        return (
            self.dims.causal and self.encoding.kv_cache and not randomized and self.abacus is None
        )

    def forward(
        self,
        tokens: Tensor,
        positions: Tensor | None = None,
        padding_mask: Tensor | None = None,
        cache: KVCache | None = None,
        token_positions: Tensor | None = None,
    ) -> Tensor:
        """Hidden states (batch, length, d_model) for ``tokens`` (batch, length).

        ``positions`` defaults to 0..length-1 shared by every row (shape (1, length); right
        padding keeps it correct), or randomized positions when configured; ``padding_mask``
        is True where a token is padding and must not be attended to. With a ``cache``
        (causal models, ``supports_cache()``), ``tokens`` are the next tokens after those
        already cached, their positions continue the cached ones, and the cache is extended.
        ``token_positions`` (batch, length) are the task's per-token positions, embedded by
        the model's Abacus table when it has one.
        """
        if cache is not None:
            if not self.supports_cache():
                raise PebenchError(
                    f"encoding {self.encoding.name!r} cannot decode with a key/value cache "
                    f"here; recompute the whole prefix instead"
                )
            start = cache.length
            if positions is None:
                positions = ranges.row(start, start + tokens.shape[1], tokens.device)
            k_positions = positions if cache.positions is None else ranges.joined(
                cache.positions, positions
            )
            x = self.dropout(self.encoding.embed(self.embedding(tokens), positions))
            mask = self.incremental_mask(positions, k_positions, x.dtype)
            cache.positions = k_positions
            for block in self.blocks:
                x = block(x, mask, positions, cache)
            return self.norm(x)
        if positions is None:
            randomize = self.randomized_positions is not None and (
                self.training or self.randomize_eval
            )
            positions = (
                randomized_positions(tokens, self.randomized_positions)
                if randomize
                else plain_positions(tokens)
            )
        x = self.embedding(tokens)
        if self.abacus is not None:
            if token_positions is None:
                raise PebenchError("this model adds Abacus embeddings: pass token_positions")
            x = x + self.abacus(token_positions)
        x = self.dropout(self.encoding.embed(x, positions))
        mask = self.attention_mask(positions, padding_mask, x.dtype)
        for block in self.blocks:
            x = block(x, mask, positions)
        return self.norm(x)


@torch.no_grad()
def recompute_decode(model: nn.Module, prefix: Tensor, steps: int) -> Tensor:
    """Greedy decoding that re-runs ``model`` (tokens → logits) on the whole sequence at
    every step: O(steps · n²) attention, but correct for any encoding."""
    sequence = prefix
    for _ in range(steps):
        next_token = model(sequence)[:, -1].argmax(-1, keepdim=True)
        sequence = torch.cat([sequence, next_token], dim=1)
    return sequence[:, prefix.shape[1] :]


@torch.no_grad()
def greedy_decode(model: nn.Module, backbone: Transformer, prefix: Tensor, steps: int) -> Tensor:
    """The ``steps`` tokens a causal ``model`` (tokens → logits, taking ``cache=``) appends to
    ``prefix`` greedily: with a key/value cache when the backbone supports one, otherwise by
    re-running the whole sequence at every step (same tokens either way)."""
    if steps < 1:
        return prefix[:, :0]
    if not backbone.supports_cache():
        return recompute_decode(model, prefix, steps)
    cache = KVCache(backbone.dims.num_layers)
    logits = model(prefix, cache=cache)
    out = []
    for step in range(steps):
        next_token = logits[:, -1].argmax(-1, keepdim=True)
        out.append(next_token)
        if step + 1 < steps:
            logits = model(next_token, cache=cache)
    return torch.cat(out, dim=1)
