// Issue throughput of single AVX-512 instructions and of pairs of them (Google Benchmark):
//   isa/<op>: 16 independent chains of one instruction in registers, counter Gops (instructions
//   per ns);
//   isa/<op>+<op>: 8 chains of each of two instructions, interleaved; vpdpbusd{1to16} and
//   vpbroadcastd read their own dword in L1 per chain.
// A pair that runs at about half a single op's time per instruction issues on different pipes; one
// that runs at a single op's time competes for the same ones. Once a kernel's data sit in cache
// this, not the instruction count, decides its speed (docs/performance.md, 2026-12-05 06:35: on
// the Zen 5 dev VM the integer multiplies, FMAs and shuffles share two pipes, adds and unpacks
// issue four a cycle). x86 with AVX-512 VNNI only; elsewhere nothing is registered.
// Run: build/<dir>/bench/bench_isa [--benchmark_filter=dpbusd]
#include <benchmark/benchmark.h>

#if defined(__x86_64__)
// GCC 12 flags the intrinsics' internal undefined pass-through operand when they are inlined
// into a target("avx512f") function of a file built without -mavx512f.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <string>

#include "util/cpu_features.h"

#define UMA_ISA_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,fma")))

namespace {

enum class op {
  dpbusd,
  dpwssd,
  maddubs,
  madd,
  mullo,
  fma,
  cvt,
  pshufb,
  permd,
  shufi,
  unpack,
  add,
  shift,         // vpsrlw by an immediate (the nibble split)
  shiftv,        // vpsrlvw (per-word counts: the Q2_K / Q3_K / Q6_K rows tiles' 2-bit fields)
  andd,          // vpandd
  testmask,      // vptestmb + a masked vpaddb (Q3_K's hmask bits, Q5_K's fifth bits)
  dpbusd_bcast,  // vpdpbusd with a {1to16} memory operand (the x16 prefill tiles' activation)
  bcast,         // vpbroadcastd zmm from memory
  load,          // vmovdqu64 zmm from memory (a weight operand's load)
};

const char* op_name(op o) {
  switch (o) {
    case op::dpbusd:
      return "vpdpbusd";
    case op::dpwssd:
      return "vpdpwssd";
    case op::maddubs:
      return "vpmaddubsw";
    case op::madd:
      return "vpmaddwd";
    case op::mullo:
      return "vpmulld";
    case op::fma:
      return "vfmadd";
    case op::cvt:
      return "vcvtdq2ps";
    case op::pshufb:
      return "vpshufb";
    case op::permd:
      return "vpermd";
    case op::shufi:
      return "vshufi32x4";
    case op::unpack:
      return "vpunpckldq";
    case op::add:
      return "vpaddd";
    case op::shift:
      return "vpsrlw";
    case op::shiftv:
      return "vpsrlvw";
    case op::andd:
      return "vpandd";
    case op::testmask:
      return "vptestmb+vpaddb{k}";
    case op::dpbusd_bcast:
      return "vpdpbusd{1to16}";
    case op::bcast:
      return "vpbroadcastd";
    case op::load:
      return "vmovdqu64";
  }
  return "?";
}

// One instruction of kind O with x as the chained operand (b and c change every iteration, so
// nothing folds); p: the chain's own dword in L1 for the memory forms.
template <op O>
UMA_ISA_TARGET inline __m512i apply(__m512i x, __m512i b, __m512i c, const int32_t* p) {
  if constexpr (O == op::dpbusd) return _mm512_dpbusd_epi32(x, b, c);
  if constexpr (O == op::dpwssd) return _mm512_dpwssd_epi32(x, b, c);
  if constexpr (O == op::maddubs) return _mm512_maddubs_epi16(x, b);
  if constexpr (O == op::madd) return _mm512_madd_epi16(x, b);
  if constexpr (O == op::mullo) return _mm512_mullo_epi32(x, b);
  if constexpr (O == op::fma)
    return _mm512_castps_si512(
        _mm512_fmadd_ps(_mm512_castsi512_ps(x), _mm512_castsi512_ps(b), _mm512_castsi512_ps(c)));
  if constexpr (O == op::cvt) return _mm512_castps_si512(_mm512_cvtepi32_ps(x));
  if constexpr (O == op::pshufb) return _mm512_shuffle_epi8(x, b);
  if constexpr (O == op::permd) return _mm512_permutexvar_epi32(b, x);
  if constexpr (O == op::shufi) return _mm512_shuffle_i32x4(x, b, 0x44);
  if constexpr (O == op::unpack) return _mm512_unpacklo_epi32(x, b);
  if constexpr (O == op::add) return _mm512_add_epi32(x, b);
  if constexpr (O == op::shift) return _mm512_srli_epi16(x, 1);
  if constexpr (O == op::shiftv) return _mm512_srlv_epi16(x, c);
  if constexpr (O == op::andd) return _mm512_and_si512(x, b);
  if constexpr (O == op::testmask)
    return _mm512_mask_add_epi8(x, _mm512_test_epi8_mask(x, b), x, c);
  if constexpr (O == op::dpbusd_bcast) {
    asm("vpdpbusd %2%{1to16%}, %1, %0" : "+v"(x) : "v"(b), "m"(*p));
    return x;
  }
  if constexpr (O == op::bcast) {  // the loaded value folded in by an xor (an add-class op)
    __m512i v;
    asm volatile("vpbroadcastd %1, %0" : "=v"(v) : "m"(*p));
    return _mm512_xor_si512(x, v);
  }
  if constexpr (O == op::load) {
    __m512i v;
    asm volatile("vmovdqu64 %1, %0" : "=v"(v) : "m"(*reinterpret_cast<const __m512i*>(p)));
    return _mm512_xor_si512(x, v);
  }
  return x;
}

// 16 chains: 0..7 of A, 8..15 of B; each chain starts from its own value, so the compiler cannot
// merge them, and each is a named variable (an array of them was kept partly on the stack).
template <op A, op B>
UMA_ISA_TARGET void bm_ops(benchmark::State& st) {
  constexpr int steps = 1024;
#define UMA_ISA_CHAINS(X) \
  X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)
#define UMA_ISA_INIT(k) __m512i a##k = _mm512_set1_epi32(k + 1);
// clang-format off
#define UMA_ISA_STEP(k) a##k = apply<((k) < 8 ? A : B)>(a##k, b, c, mem + 16 * (k));
  // clang-format on
#define UMA_ISA_KEEP(k) asm volatile("" ::"v"(a##k));
  UMA_ISA_CHAINS(UMA_ISA_INIT)
  __m512i b = _mm512_set1_epi32(3), c = _mm512_set1_epi32(5);
  alignas(64) static int32_t mem[16 * 16] = {};
  for (auto _ : st) {
    for (int i = 0; i < steps; ++i) {
      asm volatile("" : "+v"(b), "+v"(c));
      UMA_ISA_CHAINS(UMA_ISA_STEP)
    }
  }
  UMA_ISA_CHAINS(UMA_ISA_KEEP)
#undef UMA_ISA_KEEP
#undef UMA_ISA_STEP
#undef UMA_ISA_INIT
#undef UMA_ISA_CHAINS
  // instructions per ns (1 / this: ns per instruction)
  st.counters["Gops"] = benchmark::Counter(static_cast<double>(st.iterations()) * steps * 16 / 1e9,
                                           benchmark::Counter::kIsRate);
}

template <op A, op B>
void add(const char* label = nullptr) {
  std::string name = std::string("isa/") + op_name(A);
  if (A != B) name += std::string("+") + op_name(B);
  if (label != nullptr) name = label;
  benchmark::RegisterBenchmark(name.c_str(), bm_ops<A, B>);
}

[[maybe_unused]] const bool registered = [] {
  if (!uma::cpu().avx512_vnni) return false;
  add<op::dpbusd, op::dpbusd>();
  add<op::dpwssd, op::dpwssd>();
  add<op::maddubs, op::maddubs>();
  add<op::madd, op::madd>();
  add<op::mullo, op::mullo>();
  add<op::fma, op::fma>();
  add<op::cvt, op::cvt>();
  add<op::pshufb, op::pshufb>();
  add<op::permd, op::permd>();
  add<op::shufi, op::shufi>();
  add<op::unpack, op::unpack>();
  add<op::add, op::add>();
  add<op::dpbusd, op::pshufb>();
  add<op::dpbusd, op::permd>();
  add<op::dpbusd, op::fma>();
  add<op::dpbusd, op::cvt>();
  add<op::dpbusd, op::add>();
  add<op::dpbusd, op::unpack>();
  add<op::shift, op::shift>();
  add<op::andd, op::andd>();
  add<op::dpbusd, op::shift>();
  add<op::dpbusd, op::andd>();
  add<op::shift, op::andd>();
  add<op::shiftv, op::shiftv>();
  add<op::dpbusd, op::shiftv>();
  add<op::testmask, op::testmask>();
  add<op::dpbusd, op::testmask>();
  add<op::fma, op::cvt>();
  add<op::pshufb, op::permd>();
  add<op::pshufb, op::cvt>();
  add<op::pshufb, op::add>();
  add<op::dpbusd_bcast, op::dpbusd_bcast>();
  add<op::dpbusd, op::dpbusd_bcast>();
  add<op::dpbusd_bcast, op::pshufb>();
  add<op::bcast, op::bcast>();
  add<op::dpbusd, op::bcast>();
  add<op::load, op::load>();
  add<op::dpbusd_bcast, op::load>();
  add<op::bcast, op::load>();
  return true;
}();

}  // namespace
#endif

BENCHMARK_MAIN();
