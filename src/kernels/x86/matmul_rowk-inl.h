// AVX-512 decode kernels for the K formats (Q4_K, Q6_K) in the file's own (rows) layout, included
// by matmul_x86-inl.h inside its anonymous namespace when UMA_VNNI is set (after
// matmul_row16-inl.h). One row and one super-block per step, with no scalar work per block.
#pragma once

// Q4_K decode in the rows layout, one super-block (144 bytes) per step with no scalar work: the
// 12 packed scale bytes decode in one xmm register (ggml's kmask steps as vector ops), each zmm of
// nibbles covers two sub-blocks (low nibbles of qs 0..63 are sub-blocks 0 and 2, high ones 1 and
// 3), vpdpbusd gives exact int32 partial dots (< 2^15) and vpdpwssd against (scale, 0) dwords
// applies the 6-bit scales and sums them, and the min term is one more vpdpwssd of the 8 mins
// against the activation's prepared sub-block sums. d and dmin convert together.

// Q8_K activation per super-block, prepared once per task: the 256 values in the order of the
// four nibble vectors, then 16 dwords (zero, then the 8 sub-block sums), the scale, padding.
struct rowk4_act_block {
  int8_t qs[256];
  int32_t sums[16];
  float d;
  float pad[15];
};
static_assert(sizeof(rowk4_act_block) % 64 == 0);

inline const rowk4_act_block* rowk4_prepare(const block_q8_k* y, int64_t nb) {
  thread_local std::vector<rowk4_act_block> buf;
  if (buf.size() < static_cast<size_t>(nb) + 1) buf.resize(static_cast<size_t>(nb) + 1);
  auto* out = reinterpret_cast<rowk4_act_block*>((reinterpret_cast<uintptr_t>(buf.data()) + 63) &
                                                 ~uintptr_t{63});
  // Nibble vector v (0..3) half h holds sub-block 4 (v / 2) + 2h + v % 2.
  for (int64_t b = 0; b < nb; ++b) {
    for (int v = 0; v < 4; ++v)
      for (int h = 0; h < 2; ++h)
        std::memcpy(out[b].qs + 64 * v + 32 * h, y[b].qs + 32 * (4 * (v / 2) + 2 * h + v % 2), 32);
    for (int s = 0; s < 8; ++s) {
      out[b].sums[s] = 0;
      out[b].sums[8 + s] = y[b].bsums[2 * s] + y[b].bsums[2 * s + 1];
    }
    out[b].d = y[b].d;
  }
  return out;
}

// Bytes 0..7: the 8 six-bit scales, 8..15: the 8 mins (k4_scales without leaving the register).
inline __m128i rowk4_scales(const uint8_t* packed) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(packed));  // u0 u1 u2 (+4)
  const __m128i m1 = _mm_set1_epi8(0x3f), m2 = _mm_set1_epi8(0x0f), m3 = _mm_set1_epi8(0x03);
  const __m128i low = _mm_and_si128(v, m1);                     // scales 0-3, mins 0-3
  const __m128i top = _mm_and_si128(_mm_srli_epi32(v, 6), m3);  // their bits 6-7
  const __m128i u2 = _mm_shuffle_epi32(v, 0xaa);                // u2 in every dword
  const __m128i nib = _mm_and_si128(_mm_srlv_epi32(u2, _mm_setr_epi32(0, 4, 0, 0)), m2);
  const __m128i high = _mm_or_si128(nib, _mm_slli_epi32(top, 4));  // scales 4-7, mins 4-7
  return _mm_unpacklo_epi32(low, high);
}

inline void rowk4_matvec(const gemm_args& g) {
  const int64_t nb = g.cols / 256;
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  // Dword lanes of the scale vector for nibble vector v: half h takes sub-block 4 (v / 2) + 2h + v
  // % 2.
  __m512i pick[4];
  for (int v = 0; v < 4; ++v)
    pick[v] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi32(4 * (v / 2) + v % 2)),
                                 _mm256_set1_epi32(4 * (v / 2) + 2 + v % 2), 1);
  for (int64_t c = 0; c < g.n; ++c) {
    const rowk4_act_block* a = rowk4_prepare(
        reinterpret_cast<const block_q8_k*>(g.a + static_cast<size_t>(c) * g.a_row_bytes), nb);
    for (int64_t r = 0; r < g.rows; ++r) {
      const auto* x =
          reinterpret_cast<const block_q4_k*>(g.w + static_cast<size_t>(r) * g.w_row_bytes);
      __m512 facc = _mm512_setzero_ps();
      for (int64_t b = 0; b < nb; ++b) {
        const auto* xb = reinterpret_cast<const char*>(x + b);
        for (int l = 0; l < 3; ++l) _mm_prefetch(xb + 2048 + 64 * l, _MM_HINT_T0);
        const __m512i s32 = _mm512_cvtepu8_epi32(rowk4_scales(x[b].scales));
        const __m512i l0 = _mm512_loadu_si512(x[b].qs), l1 = _mm512_loadu_si512(x[b].qs + 64);
        const __m512i q[4] = {
            _mm512_and_si512(l0, low4), _mm512_and_si512(_mm512_srli_epi16(l0, 4), low4),
            _mm512_and_si512(l1, low4), _mm512_and_si512(_mm512_srli_epi16(l1, 4), low4)};
        __m512i isum = _mm512_setzero_si512();
        for (int v = 0; v < 4; ++v) {
          const __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q[v],
                                                _mm512_load_si512(a[b].qs + 64 * v));
          isum = _mm512_dpwssd_epi32(isum, p, _mm512_permutexvar_epi32(pick[v], s32));
        }
        const __m512i mins =
            _mm512_dpwssd_epi32(_mm512_setzero_si512(), s32, _mm512_load_si512(a[b].sums));
        uint32_t dd;
        std::memcpy(&dd, &x[b].d, 4);
        const __m128 dm =
            _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(dd))), _mm_set1_ps(a[b].d));
        facc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_broadcastss_ps(dm), facc);
        facc = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(mins),
                                _mm512_broadcastss_ps(_mm_movehdup_ps(dm)), facc);
      }
      g.y[c * g.ldy + r] = _mm512_reduce_add_ps(facc);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// ---------------------------------------------------------------------------------------------
// Q6_K decode in the rows layout, one super-block (210 bytes) per step. Per 128-element half, one
// zmm of ql and the 32 qh bytes broadcast to both 256-bit halves give two vectors of 64 values
// 0..63 in element order (variable word shifts place each half's 2-bit pair at bits 4..5), so the
// Q8_K activation is used as it is. Each 128-bit lane of a vpdpbusd result is one 16-element group
// (partial sums < 2^15), and vpdpwssd against (scale, 0) dwords applies the int8 group scales;
// the -32 offset is 32 x sum of scale x the activation's 16-element sums (one vpmaddwd).
inline void rowq6k_matvec(const gemm_args& g) {
  const int64_t nb = g.cols / 256;
  const __m512i low4 = _mm512_set1_epi8(0x0F), bits45 = _mm512_set1_epi8(0x30);
  const __m512i shl = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);
  const __m512i shr = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(2), 1);
  __m512i pick[4];  // lane i of vector k: group 4k + i's scale in every dword
  for (int k = 0; k < 4; ++k)
    pick[k] = _mm512_set_epi32(4 * k + 3, 4 * k + 3, 4 * k + 3, 4 * k + 3, 4 * k + 2, 4 * k + 2,
                               4 * k + 2, 4 * k + 2, 4 * k + 1, 4 * k + 1, 4 * k + 1, 4 * k + 1,
                               4 * k, 4 * k, 4 * k, 4 * k);
  for (int64_t c = 0; c < g.n; ++c) {
    const auto* y =
        reinterpret_cast<const block_q8_k*>(g.a + static_cast<size_t>(c) * g.a_row_bytes);
    for (int64_t r = 0; r < g.rows; ++r) {
      const auto* x =
          reinterpret_cast<const block_q6_k*>(g.w + static_cast<size_t>(r) * g.w_row_bytes);
      __m512 facc = _mm512_setzero_ps();
      for (int64_t b = 0; b < nb; ++b) {
        const auto* xb = reinterpret_cast<const char*>(x + b);
        for (int l = 0; l < 4; ++l) _mm_prefetch(xb + 2048 + 64 * l, _MM_HINT_T0);
        const __m256i sc16 = _mm256_cvtepi8_epi16(load128(x[b].scales));
        const __m512i s32 = _mm512_cvtepu16_epi32(sc16);
        __m512i isum = _mm512_setzero_si512();
        for (int h = 0; h < 2; ++h) {
          const __m512i l = _mm512_loadu_si512(x[b].ql + 64 * h);
          const __m512i hb = _mm512_broadcast_i64x4(load256(x[b].qh + 32 * h));
          const __m512i wa = _mm512_or_si512(_mm512_and_si512(l, low4),
                                             _mm512_and_si512(_mm512_sllv_epi16(hb, shl), bits45));
          const __m512i wb = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), low4),
                                             _mm512_and_si512(_mm512_srlv_epi16(hb, shr), bits45));
          const __m512i pa = _mm512_dpbusd_epi32(_mm512_setzero_si512(), wa,
                                                 _mm512_loadu_si512(y[b].qs + 128 * h));
          const __m512i pb = _mm512_dpbusd_epi32(_mm512_setzero_si512(), wb,
                                                 _mm512_loadu_si512(y[b].qs + 128 * h + 64));
          isum = _mm512_dpwssd_epi32(isum, pa, _mm512_permutexvar_epi32(pick[2 * h], s32));
          isum = _mm512_dpwssd_epi32(isum, pb, _mm512_permutexvar_epi32(pick[2 * h + 1], s32));
        }
        const __m256i off = _mm256_slli_epi32(_mm256_madd_epi16(sc16, load256(y[b].bsums)), 5);
        isum = _mm512_sub_epi32(isum, _mm512_zextsi256_si512(off));
        facc =
            _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(h2f(x[b].d) * y[b].d), facc);
      }
      g.y[c * g.ldy + r] = _mm512_reduce_add_ps(facc);
    }
  }
}
