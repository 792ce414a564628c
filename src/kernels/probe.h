// Machine probes behind `uma bench`'s rooflines: memory read bandwidth (all threads streaming a
// buffer much larger than the last-level cache) and the int8 dot-product peak (the best backend's
// multiply-accumulate instruction in a register-only loop on all threads).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace uma {
class thread_pool;
}

namespace uma::kernels {

struct probe_result {
  double best = 0;              // best of the repetitions
  double median = 0;            // median of the repetitions
  std::vector<double> samples;  // every repetition
  const char* method = "";      // what was run, e.g. "avx512 vpdpbusd zmm"
};

// Read bandwidth in GB/s (1e9 bytes / s) over a `bytes` buffer (allocated, touched, freed here).
probe_result measure_read_bandwidth(thread_pool* pool, size_t bytes, int reps);

// int8 peak in GOPS (1 multiply-accumulate = 2 ops), each repetition ~`seconds` long, with the
// best int8 instruction of the backend matmul() uses (UMA_BACKEND=avx2: the AVX2 one).
probe_result measure_int8_peak(thread_pool* pool, double seconds, int reps);

// AMX-INT8 tile peak in GOPS (TDPBUSD chains on all threads); method "none" (and 0) where the CPU
// or the OS offers no tiles. Prefill on the amx backend is measured against this too.
probe_result measure_amx_peak(thread_pool* pool, double seconds, int reps);
// AMX-BF16 tile peak in GFLOPS (TDPBF16PS chains; 1 multiply-add = 2 flops), the ceiling of the
// amx backend's bf16 prefill products; "none" (and 0) without AMX-BF16.
probe_result measure_amx_bf16_peak(thread_pool* pool, double seconds, int reps);

// Time of one empty run_on_all round trip (a barrier: wake all workers and wait for them), in
// microseconds, median over `rounds`.
double measure_barrier_us(thread_pool* pool, int rounds);

// Per-ISA pieces (probe_<isa>.cpp): sum of `n` bytes (n a multiple of 256), read with wide loads;
// `iters` iterations of the MAC loop, returning the MACs done.
uint64_t probe_read_sum_avx2(const uint8_t* p, size_t n);
uint64_t probe_int8_loop_avx2(int64_t iters);
uint64_t probe_int8_loop_avxvnni(int64_t iters);
uint64_t probe_int8_loop_avx512(int64_t iters);
uint64_t probe_int8_loop_amx(int64_t iters);
uint64_t probe_bf16_loop_amx(int64_t iters);
uint64_t probe_read_sum_neon(const uint8_t* p, size_t n);
uint64_t probe_int8_loop_neon(int64_t iters);
uint64_t probe_int8_loop_i8mm(int64_t iters);  // smmla (FEAT_I8MM)

}  // namespace uma::kernels
