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

  // Which CPU this is, so that a benchmark's figures name the hardware they came from (the dev
  // VMs have been moved between Zen 4 and Zen 5 hosts, whose 512-bit units differ 2x in rate).
  std::string name;   // the brand string (cpuid 0x80000002..4; Arm: the core's name, Apple: sysctl)
  std::string uarch;  // the core's microarchitecture where known ("zen4", "sapphire-rapids",
                      // "neoverse-v2"), else empty
  std::string id;     // "x86 family 25 model 17 stepping 1", "arm implementer 0x41 part 0xd4f"
  // "AMD EPYC (zen4; x86 family 25 model 17 stepping 1)": name, then uarch and id in parentheses.
  std::string identity() const;
};

// x86 cpuid leaf 1's eax as the family, model and stepping that vendors document (the extended
// family added for family 15, the extended model for families 6 and 15 and up).
struct x86_signature {
  int family = 0, model = 0, stepping = 0;
};
x86_signature decode_x86_signature(uint32_t eax);

// The microarchitecture of an AMD or Intel x86 core by family and model, from the vendors' and
// Linux's published tables (arch/x86: amd.c's Zen ranges, intel-family.h); "" where unknown.
std::string x86_uarch(bool amd, bool intel, int family, int model);

// The core's name from an Arm Linux /proc/cpuinfo text ("CPU implementer" / "CPU part" of the
// first core), e.g. "neoverse-v2"; "" where unknown. `id` gets "arm implementer 0x41 part 0xd4f"
// when both fields are present.
std::string arm_uarch(const std::string& cpuinfo, std::string* id = nullptr);

// Detected once (thread-safe), then cached.
const cpu_features& cpu();

}  // namespace uma
