"""Forward + backward time of one layer's CoPE attention against fused SDPA (batch 8, 8 heads,
length 512, head 32, causal, 2 threads; median of 3 after the first). Used for
docs/performance.md.

    python docs/scripts/cope_time.py              # the kernel as committed
    python docs/scripts/cope_time.py --block-elements 2097152   # 8 (n, n) blocks at n = 512
    python docs/scripts/cope_time.py --formula    # autograd through the plain formula
"""

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from pebench.encodings.base import AttentionMask, ModelDims
from pebench.kernels import cope


def timed(fn) -> float:
    times = []
    for _ in range(4):
        started = time.perf_counter()
        fn().sum().backward()
        times.append(time.perf_counter() - started)
    return statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--block-elements", type=int, default=cope.BLOCK_ELEMENTS)
    parser.add_argument("--formula", action="store_true", help="plain autograd formula")
    args = parser.parse_args()
    torch.set_num_threads(2)
    torch.set_flush_denormal(True)
    torch.manual_seed(0)
    cope.BLOCK_ELEMENTS = args.block_elements
    b, h, n, d = 8, 8, 512, 32
    enc = cope.CoPE(ModelDims(h * d, h, 4, True))
    torch.nn.init.normal_(enc.embeddings)
    q, k, v = (torch.randn(b, h, n, d, requires_grad=True) for _ in range(3))
    mask = AttentionMask(None, True)
    table = enc.embeddings[0]
    causal = mask.dense(n, n, q.dtype, q.device)

    def formula():
        return cope.cope_probabilities(q, k, table, causal, True)[-1] @ v

    def kernel():
        return enc.attend(q, k, v, mask, None, 0, None)

    sdpa = timed(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True))
    ours = timed(formula if args.formula else kernel)
    what = "formula" if args.formula else f"kernel, blocks of {args.block_elements} elements"
    print(f"sdpa {sdpa:.3f} s   cope ({what}) {ours:.3f} s")


if __name__ == "__main__":
    main()
