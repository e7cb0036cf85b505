// HanbitLM fused residual-add + scale kernel (original code).
#include <cuda_runtime.h>

__global__ void fused_residual_scale(const float* __restrict__ x, const float* __restrict__ residual,
                                     float* __restrict__ out, float scale, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  int stride = gridDim.x * blockDim.x;
  for (; i < n; i += stride) {
    float v = x[i] + residual[i];
    out[i] = v * scale;
  }
}

void launch_fused_residual_scale(const float* x, const float* residual, float* out, float scale, int n,
                                 cudaStream_t stream) {
  int threads = 256;
  int blocks = (n + threads - 1) / threads;
  if (blocks > 4096) blocks = 4096;
  fused_residual_scale<<<blocks, threads, 0, stream>>>(x, residual, out, scale, n);
}
