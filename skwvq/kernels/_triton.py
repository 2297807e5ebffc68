"""The torch backend's fused nearest-code kernel for CUDA devices, written in Triton.

One pass computes ``||c||^2 - 2 x.c`` tile by tile and keeps each row's running
minimum in registers, so the ``rows x K`` distance block is never written to
memory: at small d that write and its read-back, not the arithmetic, bound the
unfused ``addmm`` + ``min``. Importing this module needs Triton (it ships with
PyTorch's CUDA builds); ``skwvq.backends`` falls back to the unfused kernel
without it.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

# Widest rows the kernel holds on chip next to a pipelined tile of codes: at 128
# float32 features the tf32x3 tiles asked an H200 for 384 KiB of shared memory
# (it has 227 KiB), so wider data use the blocked kernel.
MAX_FEATURES = 64
# float32 products on tensor cores split into three TF32 products ("tf32x3"),
# which keeps float32's accuracy (TF32 alone has a 10-bit mantissa) at a third
# of the tensor-core rate. Measured on an H200 (d=64, K=16384): 41 TFLOP/s with
# every label of 20,000 rows equal to a float64 argmin's; "ieee" (CUDA cores)
# ran at 13 TFLOP/s.
INPUT_PRECISION = "tf32x3"

_CONFIGS = [
    triton.Config({"BLOCK_M": m, "BLOCK_N": n}, num_warps=w, num_stages=s)
    for m, n, w, s in [(128, 128, 8, 3), (128, 64, 4, 3), (64, 128, 4, 3)]
]


@triton.jit
def _nearest_kernel(
    X,
    codebook_T,
    code_sq_norms,
    best_out,
    labels_out,
    n_rows,
    n_codes,
    n_features,
    stride_row,
    stride_feature,
    stride_code_feature,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_D: tl.constexpr,
    PRECISION: tl.constexpr,
):
    rows = tl.program_id(0).to(tl.int64) * BLOCK_M + tl.arange(0, BLOCK_M)
    features = tl.arange(0, BLOCK_D)
    row_ok = rows < n_rows
    feature_ok = features < n_features
    x = tl.load(
        X + rows[:, None] * stride_row + features[None, :] * stride_feature,
        mask=row_ok[:, None] & feature_ok[None, :],
        other=0.0,
    )
    best = tl.full([BLOCK_M], float("inf"), tl.float32)
    best_code = tl.zeros([BLOCK_M], tl.int64)
    for start in range(0, n_codes, BLOCK_N):
        codes = start + tl.arange(0, BLOCK_N)
        code_ok = codes < n_codes
        c_T = tl.load(
            codebook_T + features[:, None] * stride_code_feature + codes[None, :],
            mask=feature_ok[:, None] & code_ok[None, :],
            other=0.0,
        )
        norms = tl.load(code_sq_norms + codes, mask=code_ok, other=float("inf"))
        products = tl.dot(x, c_T, input_precision=PRECISION)
        distances = norms[None, :] - 2.0 * products
        tile_best, tile_code = tl.min(distances, axis=1, return_indices=True)
        # Strictly smaller: on a tie the earlier code wins, as numpy's argmin.
        better = tile_best < best
        best = tl.where(better, tile_best, best)
        best_code = tl.where(better, tile_code.to(tl.int64) + start, best_code)
    tl.store(best_out + rows, best, mask=row_ok)
    tl.store(labels_out + rows, best_code, mask=row_ok)


_tuned_kernel = triton.autotune(
    configs=_CONFIGS, key=["n_codes", "BLOCK_D", "PRECISION"]
)(_nearest_kernel)


def nearest_codes_fused(
    X: torch.Tensor,
    codebook: torch.Tensor,
    best_out: torch.Tensor,
    labels_out: torch.Tensor,
    *,
    precision: str | None = None,
) -> None:
    """Write ``min_k ||c_k||^2 - 2 x.c_k`` and its ``k`` for every row of X.

    Parameters
    ----------
    X : tensor of shape (n_rows, n_features), float32, on a CUDA device
        ``n_features <= MAX_FEATURES``.
    codebook : tensor of shape (n_codes, n_features), float32, same device
    best_out : tensor of shape (n_rows,), float32
        Receives the squared distance to the nearest code less ``||x||^2``.
    labels_out : tensor of shape (n_rows,), int64
        Receives the index of the nearest code (the first one on a tie).
    precision : {"tf32x3", "ieee"}, default=None
        How the float32 products run: three TF32 tensor-core products, or CUDA
        cores. None: the module's ``INPUT_PRECISION``.
    """
    n_rows, n_features = X.shape
    n_codes = codebook.shape[0]
    codebook_T = codebook.T.contiguous()
    code_sq_norms = torch.einsum("ij,ij->i", codebook, codebook)
    block_d = max(16, triton.next_power_of_2(n_features))

    def grid(meta):
        return (triton.cdiv(n_rows, meta["BLOCK_M"]),)

    _tuned_kernel[grid](
        X,
        codebook_T,
        code_sq_norms,
        best_out,
        labels_out,
        n_rows,
        n_codes,
        n_features,
        X.stride(0),
        X.stride(1),
        codebook_T.stride(0),
        BLOCK_D=block_d,
        PRECISION=precision or INPUT_PRECISION,
    )
