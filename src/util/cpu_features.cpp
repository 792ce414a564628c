// Runtime CPU feature detection (see cpu_features.h).
#include "util/cpu_features.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif

namespace uma {

namespace {

#if defined(__x86_64__) || defined(_M_X64)
uint64_t read_xcr0() {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

cpu_features detect() {
  cpu_features f;
  unsigned a, b, c, d;
  if (__get_cpuid(0, &a, &b, &c, &d))  // vendor string in ebx, edx, ecx
    f.amd = b == 0x68747541u && d == 0x69746e65u && c == 0x444d4163u;  // "Auth" "enti" "cAMD"
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = c & (1u << 27);
  const bool fma = c & (1u << 12);
  const bool f16c = c & (1u << 29);
  if (!osxsave) return f;
  const uint64_t xcr0 = read_xcr0();
  const bool os_avx = (xcr0 & 0x6) == 0x6;
  const bool os_avx512 = (xcr0 & 0xe6) == 0xe6;
  const bool os_amx = (xcr0 & 0x60000) == 0x60000;
  unsigned max_leaf = __get_cpuid_max(0, nullptr);
  if (max_leaf < 7) return f;
  __cpuid_count(7, 0, a, b, c, d);
  const bool avx2 = b & (1u << 5);
  const bool avx512f = b & (1u << 16), avx512dq = b & (1u << 17), avx512bw = b & (1u << 30),
             avx512vl = b & (1u << 31);
  const bool vnni = c & (1u << 11);
  const bool amx_int8 = d & (1u << 25), amx_bf16 = d & (1u << 22);
  unsigned a1 = 0, b1 = 0, c1 = 0, d1 = 0;
  __cpuid_count(7, 1, a1, b1, c1, d1);
  const bool bf16 = a1 & (1u << 5);
  const bool avx_vnni = a1 & (1u << 4);
  f.avx2 = os_avx && avx2 && fma && f16c;
  f.avx_vnni = f.avx2 && avx_vnni;
  f.avx512 = f.avx2 && os_avx512 && avx512f && avx512dq && avx512bw && avx512vl;
  f.avx512_vnni = f.avx512 && vnni;
  f.avx512_bf16 = f.avx512 && bf16;
  f.amx_int8 = os_amx && amx_int8;
  f.amx_bf16 = os_amx && amx_bf16;
  return f;
}
#elif defined(__aarch64__)
cpu_features detect() {
  cpu_features f;
  f.neon = true;
#if defined(__linux__)
  const unsigned long hw = getauxval(AT_HWCAP);
  const unsigned long hw2 = getauxval(AT_HWCAP2);
  f.neon_dotprod = hw & (1ul << 20);  // HWCAP_ASIMDDP
  f.neon_i8mm = hw2 & (1ul << 13);    // HWCAP2_I8MM
  f.sme = hw2 & (1ul << 23);          // HWCAP2_SME
#elif defined(__APPLE__)
  f.neon_dotprod = true;  // every Apple Silicon core has dotprod
#endif
  return f;
}
#else
cpu_features detect() {
  return {};
}
#endif

}  // namespace

std::string cpu_features::describe() const {
  std::string s;
  auto add = [&](bool on, const char* n) {
    if (!on) return;
    if (!s.empty()) s += ' ';
    s += n;
  };
  add(avx2, "avx2");
  add(avx_vnni, "avx_vnni");
  add(avx512, "avx512");
  add(avx512_vnni, "avx512_vnni");
  add(avx512_bf16, "avx512_bf16");
  add(amx_int8, "amx_int8");
  add(amx_bf16, "amx_bf16");
  add(neon, "neon");
  add(neon_dotprod, "dotprod");
  add(neon_i8mm, "i8mm");
  add(sme, "sme");
  return s.empty() ? "scalar" : s;
}

const cpu_features& cpu() {
  static const cpu_features f = detect();
  return f;
}

}  // namespace uma
