// Issue throughput of single AVX-512 instructions and of pairs of them (Google Benchmark):
//   isa/<op>: 16 independent chains of one instruction in registers, counter Gops (instructions
//   per ns);
//   isa/<op>+<op>: 8 chains of each of two instructions, interleaved; vpdpbusd{1to16} and
//   vpbroadcastd read their own dword in L1 per chain;
//   isa/q4k_rows/<stage>: the Q4_K rows tile's block work in stages (bm_q4k_rows).
// On the Zen 4 dev VM (2026-12-07 10:40) the zmm vpdpbusd, vfmadd, vpermt2w and vgf2p8affineqb
// share one pair of pipes (each 1 a cycle, any two together ~1.1), vpshufb / vpackssdw / vpermd
// half of it; shifts, conversions, unpacks and adds issue beside vpdpbusd at full rate.
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

#define UMA_ISA_TARGET \
  __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,gfni,fma")))

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
  pack,          // vpackssdw (dwords to words)
  permt2w,       // vpermt2w (the row16 tiles' gather of each block's bytes into its lane)
  gf2p8affine,   // vgf2p8affineqb (a per-byte bit matrix: a nibble split in one op)
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
    case op::pack:
      return "vpackssdw";
    case op::permt2w:
      return "vpermt2w";
    case op::gf2p8affine:
      return "vgf2p8affineqb";
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
  if constexpr (O == op::pack) return _mm512_packs_epi32(x, b);
  if constexpr (O == op::permt2w) return _mm512_permutex2var_epi16(x, b, c);
  if constexpr (O == op::gf2p8affine) return _mm512_gf2p8affine_epi64_epi8(x, b, 0);
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

// The Q4_K rows tile's per-block work (matmul_rowk-inl.h) in stages, over 16 blocks of 144 bytes
// in L1, one accumulator (counter Gblocks: super-blocks per ns; isa/vpdpbusd's Gops / 2 is about
// the clock in GHz where vpdpbusd issues two a cycle):
//   core: the nibble split, four vpdpbusd from zero, lane_sums, vpmulld by a scale vector, the
//     conversion and one fma;
//   adds: core with lane_sums replaced by three adds (what the transposition costs);
//   header: core with each block's scale vector broadcast from its lane (vshufi32x4 + vpshufb),
//     its d by vpermps, and per four blocks the 16-byte headers loaded and decoded;
//   ahead: header with each group's headers decoded one group early (software pipelined);
//   packed: header with lane_sums + vpmulld replaced by the tile's present scaling (two
//     vpackssdw, two vpmaddwd against scale words, one add; a second vpshufb for the words);
//   nozero: header with each vpdpbusd accumulating onto its own nibble vector (wrong sums): what
//     the zero-accumulator moves cost;
//   bcast: header without the per-four-block header decode (the per-block broadcasts kept).
// On the Zen 5 dev VM (docs/performance.md, 2026-12-05 14:00 and 16:35): core ~7.8 cycles a
// block, adds ~6.3, header ~12.1 (the real tile in L2: 11.6-13.5), ahead the same as header: the
// work, not its latency, sets the speed; packed 0.35 Gblocks against header's 0.33-0.34, nozero
// the same as header (the moves are eliminated), bcast 0.46: the header decode, one group in
// four blocks, costs ~2.5 cycles a block.
enum class stage { core, adds, header, ahead, packed, nozero, bcast };

UMA_ISA_TARGET inline __m512i lane_sums4(const __m512i v[4]) {
  const __m512i x01 =
      _mm512_add_epi32(_mm512_unpacklo_epi32(v[0], v[1]), _mm512_unpackhi_epi32(v[0], v[1]));
  const __m512i x23 =
      _mm512_add_epi32(_mm512_unpacklo_epi32(v[2], v[3]), _mm512_unpackhi_epi32(v[2], v[3]));
  return _mm512_add_epi32(_mm512_unpacklo_epi64(x01, x23), _mm512_unpackhi_epi64(x01, x23));
}

template <stage S>
UMA_ISA_TARGET void bm_q4k_rows(benchmark::State& st) {
  constexpr int blocks = 16;
  alignas(64) static uint8_t w[144 * blocks + 64], a[256 * blocks];
  for (size_t i = 0; i < sizeof(w); ++i) w[i] = static_cast<uint8_t>(i * 7);
  for (size_t i = 0; i < sizeof(a); ++i) a[i] = static_cast<uint8_t>(i * 3);
  const __m512i low4 = _mm512_set1_epi8(0x0f),
                pick = _mm512_set4_epi32(static_cast<int>(0x80808003u), 0x80808002,
                                         static_cast<int>(0x80808001u), 0x80808000);
  const __m512i shifts = _mm512_set4_epi32(0, 0, 4, 0);
  __m512 acc = _mm512_setzero_ps();
  for (auto _ : st) {
    __m512i sb = pick, sb_next = pick;
    __m512 dd = _mm512_set1_ps(0.5f), dd_next = dd;
    for (int b = 0; b < blocks; ++b) {
      const int i = b % 4;
      if (S == stage::ahead && i == 0) {
        sb = sb_next;
        dd = dd_next;
      }
      if (S >= stage::header && S != stage::bcast && i == 0) {
        const uint8_t* h = w + 144 * (S == stage::ahead ? (b + 4) % blocks : b);
        __m512i raw = _mm512_zextsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h)));
        for (int l = 1; l < 4; ++l)
          raw = _mm512_inserti32x4(
              raw, _mm_loadu_si128(reinterpret_cast<const __m128i*>(h + 144 * l)), l);
        const __m512i v = _mm512_bsrli_epi128(raw, 4);
        const __m512i top = _mm512_and_si512(_mm512_srli_epi32(v, 6), low4);
        const __m512i nib = _mm512_and_si512(
            _mm512_srlv_epi32(_mm512_shuffle_epi32(v, _MM_PERM_CCCC), shifts), low4);
        (S == stage::ahead ? sb_next : sb) = _mm512_unpacklo_epi32(
            _mm512_and_si512(v, low4), _mm512_or_si512(nib, _mm512_slli_epi32(top, 4)));
        (S == stage::ahead ? dd_next : dd) =
            _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi32(pick, raw)));
      }
      __m512i l0 = _mm512_loadu_si512(w + 144 * b + 16), l1 = _mm512_loadu_si512(w + 144 * b + 80);
      asm("" : "+v"(l0), "+v"(l1));
      const __m512i q[4] = {
          _mm512_and_si512(l0, low4), _mm512_and_si512(_mm512_srli_epi16(l0, 4), low4),
          _mm512_and_si512(l1, low4), _mm512_and_si512(_mm512_srli_epi16(l1, 4), low4)};
      __m512i v[4];
      for (int k = 0; k < 4; ++k)
        v[k] = _mm512_dpbusd_epi32(S == stage::nozero ? q[k] : _mm512_setzero_si512(), q[k],
                                   _mm512_loadu_si512(a + 256 * b + 64 * k));
      __m512i scales = pick, scales2 = pick;
      __m512 d = _mm512_set1_ps(0.25f);
      if constexpr (S >= stage::header) {
        const __m512i lane = i == 0   ? _mm512_shuffle_i32x4(sb, sb, 0x00)
                             : i == 1 ? _mm512_shuffle_i32x4(sb, sb, 0x55)
                             : i == 2 ? _mm512_shuffle_i32x4(sb, sb, 0xaa)
                                      : _mm512_shuffle_i32x4(sb, sb, 0xff);
        scales = _mm512_shuffle_epi8(lane, pick);
        if constexpr (S == stage::packed) scales2 = _mm512_shuffle_epi8(lane, shifts);
        d = _mm512_permutexvar_ps(_mm512_set1_epi32(2 * i), dd);
      }
      __m512i z;
      if constexpr (S == stage::packed)
        z = _mm512_add_epi32(_mm512_madd_epi16(_mm512_packs_epi32(v[0], v[1]), scales),
                             _mm512_madd_epi16(_mm512_packs_epi32(v[2], v[3]), scales2));
      else if constexpr (S == stage::adds)
        z = _mm512_mullo_epi32(
            _mm512_add_epi32(_mm512_add_epi32(v[0], v[1]), _mm512_add_epi32(v[2], v[3])), scales);
      else
        z = _mm512_mullo_epi32(lane_sums4(v), scales);
      acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(z), d, acc);
    }
  }
  asm volatile("" ::"v"(acc));
  st.counters["Gblocks"] = benchmark::Counter(static_cast<double>(st.iterations()) * blocks / 1e9,
                                              benchmark::Counter::kIsRate);
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
  add<op::pack, op::pack>();
  add<op::dpbusd, op::pack>();
  add<op::pack, op::madd>();
  add<op::madd, op::dpbusd>();
  add<op::permt2w, op::permt2w>();
  add<op::dpbusd, op::permt2w>();
  add<op::permt2w, op::unpack>();
  add<op::permt2w, op::shift>();
  add<op::permt2w, op::andd>();
  if (__builtin_cpu_supports("gfni")) {  // not implied by AVX-512 VNNI (Cascade Lake lacks it)
    add<op::gf2p8affine, op::gf2p8affine>();
    add<op::dpbusd, op::gf2p8affine>();
    add<op::permt2w, op::gf2p8affine>();
  }
  benchmark::RegisterBenchmark("isa/q4k_rows/core", bm_q4k_rows<stage::core>);
  benchmark::RegisterBenchmark("isa/q4k_rows/adds", bm_q4k_rows<stage::adds>);
  benchmark::RegisterBenchmark("isa/q4k_rows/header", bm_q4k_rows<stage::header>);
  benchmark::RegisterBenchmark("isa/q4k_rows/ahead", bm_q4k_rows<stage::ahead>);
  benchmark::RegisterBenchmark("isa/q4k_rows/packed", bm_q4k_rows<stage::packed>);
  benchmark::RegisterBenchmark("isa/q4k_rows/nozero", bm_q4k_rows<stage::nozero>);
  benchmark::RegisterBenchmark("isa/q4k_rows/bcast", bm_q4k_rows<stage::bcast>);
  return true;
}();

}  // namespace
#endif

BENCHMARK_MAIN();
