#!/usr/bin/env bash
# The checks that need a GPU, in one go: the CUDA kernels' tests (tests/gpu) on the device, then the
# GPU benchmark (benchmarks/bench_gpu.py), then packed training (benchmarks/bench_packed_gpu.py: R = 1, 4,
# 16 runs in one launch). Logs, gpu.json and packed_gpu.json go to the folder given (default
# benchmarks/results). Needs torch with CUDA, numba-cuda, snntorch and SNNLIB_DATA with MNIST.
#
#   SNNLIB_DATA=... scripts/gpu_check.sh [OUTDIR] [TEST_TIMEOUT_S] [BENCH_TIMEOUT_S] [PACKED_TIMEOUT_S]
set -u
out=${1:-benchmarks/results}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 SNNLIB_BENCH_RESULTS="$out" PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
py=${PYTHON:-python3}
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  "$py" -c "import torch, numba; from numba import cuda; print('torch', torch.__version__, 'numba', numba.__version__, 'cuda', torch.version.cuda, 'numba sees gpu', cuda.is_available())"
} 2>&1 | tee "$out/gpu_env.txt"
t0=$SECONDS
timeout "${2:-240}" "$py" -m pytest -q -p no:cacheprovider --durations=5 tests/gpu 2>&1 | tee "$out/gpu_tests.log"
echo "tests/gpu: exit ${PIPESTATUS[0]} after $((SECONDS - t0)) s" | tee -a "$out/gpu_tests.log"
t0=$SECONDS
timeout "${3:-300}" "$py" benchmarks/bench_gpu.py 2>&1 | tee "$out/bench_gpu.log"
echo "bench_gpu: exit ${PIPESTATUS[0]} after $((SECONDS - t0)) s" | tee -a "$out/bench_gpu.log"
t0=$SECONDS
timeout "${4:-180}" "$py" benchmarks/bench_packed_gpu.py --separate 2>&1 | tee "$out/bench_packed_gpu.log"
echo "bench_packed_gpu: exit ${PIPESTATUS[0]} after $((SECONDS - t0)) s" | tee -a "$out/bench_packed_gpu.log"
