// Which SIMD instruction sets this CPU (and OS) supports, detected once at run time so one binary
// runs everywhere: kernels pick their backend from this (cpuid + xgetbv on x86, getauxval on ARM).
#pragma once

#include <cstdint>
#include <string>

namespace uma {

struct cpu_features {
  bool avx2 = false;      // + fma + f16c
  bool avx_vnni = false;  // VEX vpdpbusd / vpdpwssd on 256-bit vectors (Intel client CPUs)
  bool avx512 = false;    // f + bw + vl + dq (and the OS saves zmm state)
  bool avx512_vnni = false;
  bool avx512_bf16 = false;
  bool amx_int8 = false;  // tile-matrix engine (Intel Sapphire Rapids+): the amx matmul backend
  bool amx_bf16 = false;  // its bf16 tile products (the amx backend's prefill)
  bool neon = false;
  bool neon_dotprod = false;
  bool neon_i8mm = false;
  bool sme = false;
  // The vendor is AMD (cpuid "AuthenticAMD"): for the kernel choices measured per vendor.
  bool amd = false;
  // Human-readable list, e.g. "avx2 avx512 avx512_vnni avx512_bf16".
  std::string describe() const;
};

// Detected once (thread-safe), then cached.
const cpu_features& cpu();

}  // namespace uma
