"""How attention runs on a device, below the encodings (which keep only their math).

* :mod:`~pebench.kernels.naive`: the eager reference every path is pinned to;
* :mod:`~pebench.kernels.sdpa`: PyTorch's SDPA, with the fused CPU kernels of
  :mod:`~pebench.kernels.cpu_blocks` where a bias needs a gradient;
* :mod:`~pebench.kernels.flex`: FlexAttention with the bias as a ``score_mod`` over a small
  table;
* :mod:`~pebench.kernels.cope`, :mod:`~pebench.kernels.stick_breaking`: the contextual
  families' references, run by blocks of queries on GPUs (:mod:`~pebench.kernels.chunked`);
* :mod:`~pebench.kernels.fox`, :mod:`~pebench.kernels.path`: FoX's and PaTH's references
  beside SDPA with folded gates and the recomputed solve, one function per family;
* :mod:`~pebench.kernels.bias`: offset tables, bucket biases and Shaw's relative values;
* :mod:`~pebench.kernels.fla`: flash-linear-attention's Triton kernels (FoX, PaTH,
  stick-breaking; the ``gpu`` extra);
* :mod:`~pebench.kernels.rotary`: the rotary family's transforms, compiled on CUDA;
* :mod:`~pebench.kernels.dispatch`: the functions that pick the path
  (:func:`~pebench.kernels.dispatch.attention_path`) and a family's own kernel
  (:func:`~pebench.kernels.dispatch.own_path`), which the kernels act on;
* :mod:`~pebench.kernels.mask`: what a kernel reads of the model's attention mask.
"""
