// Runtime CPU feature detection (see cpu_features.h).
#include "util/cpu_features.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#elif defined(__aarch64__) && defined(__APPLE__)
#include <sys/sysctl.h>
#endif

namespace uma {

namespace {

std::string trimmed(std::string s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

// The value of the first "key : value" line of /proc/cpuinfo text whose key is `key`.
std::string cpuinfo_field(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos || trimmed(line.substr(0, colon)) != key) continue;
    return trimmed(line.substr(colon + 1));
  }
  return {};
}

#if defined(__x86_64__) || defined(_M_X64)
uint64_t read_xcr0() {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

// The brand string (cpuid 0x80000002..0x80000004), spaces trimmed; "" where not reported.
std::string brand_string() {
  unsigned a, b, c, d;
  if (!__get_cpuid(0x80000000u, &a, &b, &c, &d) || a < 0x80000004u) return {};
  char text[49] = {};
  for (unsigned leaf = 0; leaf < 3; ++leaf) {
    __get_cpuid(0x80000002u + leaf, &a, &b, &c, &d);
    const unsigned regs[4] = {a, b, c, d};
    std::memcpy(text + 16 * leaf, regs, 16);
  }
  return trimmed(text);
}

cpu_features detect() {
  cpu_features f;
  unsigned a, b, c, d;
  bool intel = false;
  if (__get_cpuid(0, &a, &b, &c, &d)) {  // vendor string in ebx, edx, ecx
    f.amd = b == 0x68747541u && d == 0x69746e65u && c == 0x444d4163u;  // "Auth" "enti" "cAMD"
    intel = b == 0x756e6547u && d == 0x49656e69u && c == 0x6c65746eu;  // "Genu" "ineI" "ntel"
  }
  f.name = brand_string();
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const x86_signature sig = decode_x86_signature(a);
  f.uarch = x86_uarch(f.amd, intel, sig.family, sig.model);
  f.id = "x86 family " + std::to_string(sig.family) + " model " + std::to_string(sig.model) +
         " stepping " + std::to_string(sig.stepping);
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
  std::ifstream in("/proc/cpuinfo");
  std::stringstream text;
  text << in.rdbuf();
  f.uarch = arm_uarch(text.str(), &f.id);
  f.name = cpuinfo_field(text.str(), "model name");
  const unsigned long hw = getauxval(AT_HWCAP);
  const unsigned long hw2 = getauxval(AT_HWCAP2);
  f.neon_dotprod = hw & (1ul << 20);  // HWCAP_ASIMDDP
  f.neon_i8mm = hw2 & (1ul << 13);    // HWCAP2_I8MM
  f.sme = hw2 & (1ul << 23);          // HWCAP2_SME
#elif defined(__APPLE__)
  f.neon_dotprod = true;  // every Apple Silicon core has dotprod
  int i8mm = 0;           // M2 on
  size_t i8mm_size = sizeof(i8mm);
  if (sysctlbyname("hw.optional.arm.FEAT_I8MM", &i8mm, &i8mm_size, nullptr, 0) == 0)
    f.neon_i8mm = i8mm != 0;
  int sme = 0;  // M4 on
  size_t sme_size = sizeof(sme);
  if (sysctlbyname("hw.optional.arm.FEAT_SME", &sme, &sme_size, nullptr, 0) == 0) f.sme = sme != 0;
  char brand[128] = {};
  size_t size = sizeof(brand) - 1;
  if (sysctlbyname("machdep.cpu.brand_string", brand, &size, nullptr, 0) == 0) f.name = brand;
#endif
  return f;
}
#else
cpu_features detect() {
  return {};
}
#endif

}  // namespace

x86_signature decode_x86_signature(uint32_t eax) {
  const int base_family = static_cast<int>((eax >> 8) & 0xf);
  const int base_model = static_cast<int>((eax >> 4) & 0xf);
  x86_signature s;
  s.stepping = static_cast<int>(eax & 0xf);
  s.family = base_family == 0xf ? base_family + static_cast<int>((eax >> 20) & 0xff) : base_family;
  s.model = base_family == 0x6 || base_family == 0xf
                ? base_model + (static_cast<int>((eax >> 16) & 0xf) << 4)
                : base_model;
  return s;
}

std::string x86_uarch(bool amd, bool intel, int family, int model) {
  const auto in = [&](int lo, int hi) { return model >= lo && model <= hi; };
  if (amd) {  // Linux arch/x86/kernel/cpu/amd.c's Zen generations by family and model range
    if (family == 0x17) {
      if (in(0x00, 0x2f) || in(0x50, 0x5f)) return "zen";  // Zen and Zen+
      if (in(0x30, 0x4f) || in(0x60, 0x7f) || in(0x90, 0x91) || in(0xa0, 0xaf)) return "zen2";
    }
    if (family == 0x19) {
      if (in(0x00, 0x0f) || in(0x20, 0x5f)) return "zen3";
      if (in(0x10, 0x1f) || in(0x60, 0xaf)) return "zen4";
    }
    if (family == 0x1a && (in(0x00, 0x2f) || in(0x40, 0x4f) || in(0x60, 0x7f))) return "zen5";
    return {};
  }
  if (!intel || family != 6) return {};
  struct entry {
    int model;
    const char* name;
  };
  // Linux arch/x86/include/asm/intel-family.h
  static constexpr entry intel_models[] = {
      {0x3c, "haswell"},        {0x3f, "haswell"},        {0x45, "haswell"},
      {0x46, "haswell"},        {0x3d, "broadwell"},      {0x47, "broadwell"},
      {0x4f, "broadwell"},      {0x56, "broadwell"},      {0x4e, "skylake"},
      {0x5e, "skylake"},        {0x55, "skylake-x"},      {0x8e, "kaby-lake"},
      {0x9e, "kaby-lake"},      {0xa5, "comet-lake"},     {0xa6, "comet-lake"},
      {0x7d, "ice-lake"},       {0x7e, "ice-lake"},       {0x6a, "ice-lake-x"},
      {0x6c, "ice-lake-x"},     {0xa7, "rocket-lake"},    {0x8c, "tiger-lake"},
      {0x8d, "tiger-lake"},     {0x97, "alder-lake"},     {0x9a, "alder-lake"},
      {0xb7, "raptor-lake"},    {0xba, "raptor-lake"},    {0xbf, "raptor-lake"},
      {0xaa, "meteor-lake"},    {0xac, "meteor-lake"},    {0xbd, "lunar-lake"},
      {0xc5, "arrow-lake"},     {0xc6, "arrow-lake"},     {0x8f, "sapphire-rapids"},
      {0xcf, "emerald-rapids"}, {0xad, "granite-rapids"}, {0xae, "granite-rapids"},
      {0xaf, "sierra-forest"},
  };
  for (const entry& e : intel_models)
    if (e.model == model) return e.name;
  return {};
}

std::string arm_uarch(const std::string& cpuinfo, std::string* id) {
  const std::string impl_text = cpuinfo_field(cpuinfo, "CPU implementer");
  const std::string part_text = cpuinfo_field(cpuinfo, "CPU part");
  if (impl_text.empty() || part_text.empty()) return {};
  long impl = -1, part = -1;
  try {
    impl = std::stol(impl_text, nullptr, 0);
    part = std::stol(part_text, nullptr, 0);
  } catch (const std::exception&) {
    return {};
  }
  if (id != nullptr) {
    char text[64];
    std::snprintf(text, sizeof(text), "arm implementer %#lx part %#lx", impl, part);
    *id = text;
  }
  struct entry {
    long impl, part;
    const char* name;
  };
  // Arm's, NVIDIA's and Ampere's MIDR part numbers (the Linux kernel's cputype.h)
  static constexpr entry parts[] = {
      {0x41, 0xd03, "cortex-a53"},  {0x41, 0xd05, "cortex-a55"},  {0x41, 0xd08, "cortex-a72"},
      {0x41, 0xd0b, "cortex-a76"},  {0x41, 0xd0c, "neoverse-n1"}, {0x41, 0xd0d, "cortex-a77"},
      {0x41, 0xd40, "neoverse-v1"}, {0x41, 0xd41, "cortex-a78"},  {0x41, 0xd44, "cortex-x1"},
      {0x41, 0xd46, "cortex-a510"}, {0x41, 0xd47, "cortex-a710"}, {0x41, 0xd48, "cortex-x2"},
      {0x41, 0xd49, "neoverse-n2"}, {0x41, 0xd4e, "cortex-x3"},   {0x41, 0xd4f, "neoverse-v2"},
      {0x41, 0xd81, "cortex-a720"}, {0x41, 0xd82, "cortex-x4"},   {0x41, 0xd84, "neoverse-v3"},
      {0x41, 0xd85, "cortex-x925"}, {0x41, 0xd87, "cortex-a725"}, {0x41, 0xd8e, "neoverse-n3"},
      {0xc0, 0xac3, "ampere-1"},    {0xc0, 0xac4, "ampere-1a"},
  };
  for (const entry& e : parts)
    if (e.impl == impl && e.part == part) return e.name;
  if (impl == 0x61) return "apple";
  return {};
}

std::string cpu_features::identity() const {
  std::string detail = uarch;
  if (!id.empty()) detail += (detail.empty() ? "" : "; ") + id;
  const std::string who = name.empty() ? std::string("unknown CPU") : name;
  return detail.empty() ? who : who + " (" + detail + ")";
}

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
