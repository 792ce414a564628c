// BF16 products for prefill attention (attn_block_args::bf16, ops.h) by `vdpbf16ps`: each
// instruction adds two products a lane, so the score and value passes do twice the f32 FMAs' work
// (a prototype on the Zen 4 dev VM: 226 / 220 GFLOPS against the f32 passes' 115 on one
// thread, docs/performance.md 2026-12-07). The block is widened once into the scratch as bf16
// pairs, as attn_widened (attn_rows-inl.h) widens it to f32:
// - F16 key tile t (16 keys): for each pair of dims (2e, 2e + 1) one vector of 32 bf16, key k's
//   two values at 2k, 2k + 1, so that lane k of a `vdpbf16ps` against a query's pair (broadcast)
//   adds key k's two products; tiles d x 32 bytes apart. Q8_0 keys keep their integer products
//   (tile_ipass).
// - Value rows in pairs of keys (2t, 2t + 1) from the block's first: for each value e the two
//   keys' values at 2e, 2e + 1 (dv x 4 bytes a pair; the second key of the last pair of an odd
//   count is 0), against the softmax weights of the two keys broadcast as a pair.
// Rows in groups of up to 4 against the copy; the softmax bookkeeping is decode_rows'. Each
// row's chains run in the same order whatever rows share its group. Included by ops_x86-inl.h
// after attn_rows-inl.h where the target has AVX512_BF16; V is its 16-float vector kind.
#pragma once

// a (16 floats, values of 16 keys or lanes) and b rounded to bf16 and interleaved: element 2k =
// a[k], 2k + 1 = b[k].
inline __m512i bf16_pairs(__m512 a, __m512 b) {
  const __m512i both = reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(b, a));  // a low, b high
  const __m512i idx = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,
                                       23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  return _mm512_permutexvar_epi16(idx, both);
}

inline __m512 bf16_dot(__m512 acc, __m512i a, __m512i b) {
  return _mm512_dpbf16_ps(acc, reinterpret_cast<__m512bh>(a), reinterpret_cast<__m512bh>(b));
}

// NT pair tiles (kb, tile u at u * stride halves) against query rows [0, M) in bf16 (qb, rows d
// apart): s[r * 64 + u * 16 + key].
template <int M, int NT>
void bf16_fpass(int64_t d, const uint16_t* qb, const uint16_t* kb, int64_t stride, float* s) {
  __m512 acc[M][NT];
  for (int r = 0; r < M; ++r)
    for (int u = 0; u < NT; ++u) acc[r][u] = _mm512_setzero_ps();
  for (int64_t e = 0; e < d; e += 2) {
    __m512i k[NT];
    for (int u = 0; u < NT; ++u)
      k[u] = _mm512_loadu_si512(kb + u * stride + e * uma::kernels::kv_key_tile);
    for (int r = 0; r < M; ++r) {
      int32_t pair;
      std::memcpy(&pair, qb + r * d + e, 4);
      const __m512i q = _mm512_set1_epi32(pair);
      for (int u = 0; u < NT; ++u) acc[r][u] = bf16_dot(acc[r][u], q, k[u]);
    }
  }
  for (int r = 0; r < M; ++r)
    for (int u = 0; u < NT; ++u) _mm512_storeu_ps(s + r * 64 + u * 16, acc[r][u]);
}

// o[r][e0 .. e0 + W * 16) = o[r] * corr[r] + the key pairs [t0, t1) of vb (dv x 2 halves a pair)
// weighted by pb (row r's weights as bf16 at pb + r * 64, key j at j).
template <int M, int W>
void bf16_pv(int64_t dv, const uint16_t* vb, const uint16_t* pb, float* o, int64_t ldo,
             const float* corr, int64_t t0, int64_t t1, int64_t e0) {
  __m512 acc[M][W];
  for (int r = 0; r < M; ++r)
    for (int l = 0; l < W; ++l)
      acc[r][l] =
          _mm512_mul_ps(_mm512_loadu_ps(o + r * ldo + e0 + l * 16), _mm512_set1_ps(corr[r]));
  for (int64_t t = t0; t < t1; ++t) {
    __m512i v[W];
    for (int l = 0; l < W; ++l) v[l] = _mm512_loadu_si512(vb + (t * dv + e0 + l * 16) * 2);
    for (int r = 0; r < M; ++r) {
      int32_t pair;
      std::memcpy(&pair, pb + r * 64 + 2 * t, 4);
      const __m512i p = _mm512_set1_epi32(pair);
      for (int l = 0; l < W; ++l) acc[r][l] = bf16_dot(acc[r][l], p, v[l]);
    }
  }
  for (int r = 0; r < M; ++r)
    for (int l = 0; l < W; ++l) _mm512_storeu_ps(o + r * ldo + e0 + l * 16, acc[r][l]);
}

// The softmax update of rows [i0, i0 + rows) over their scores s (64 floats a row) as
// decode_rows', then each row's weights over the key pairs [t0, t1) rounded to bf16 into pb (64
// a row): the keys of those pairs outside a row's range weigh 0, and so do the other keys of the
// score tiles that hold them (a tile engine reads whole chunks). corr[r]: the factor row r's
// output takes.
template <class V>
void bf16_weights(const uma::kernels::attn_block_args& a, int64_t i0, int rows, float* s,
                  uint16_t* pb, float* corr, int64_t t0, int64_t t1) {
  const int64_t c0 = 2 * t0 / 16 * 16, c1 = (2 * t1 + 15) / 16 * 16;
  for (int r = 0; r < rows; ++r) {
    float* sr = s + r * 64;
    corr[r] = softmax_row<V>(a, i0 + r, sr, c0, c1);
    for (int64_t c = c0; c < c1; c += 16)
      _mm256_store_si256(reinterpret_cast<__m256i*>(pb + r * 64 + c),
                         reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(_mm512_load_ps(sr + c))));
  }
}

// Rows [i0, i0 + M) against the widened block: kb the F16 keys' pair tiles (null for Q8_0 keys,
// which `keys` then holds), vb the value pairs.
template <class V, int M, kv_src KS>
void bf16_rows(const uma::kernels::attn_block_args& a, const uint16_t* qb, key_tiles<KS> keys,
               const uint16_t* kb, const uint16_t* vb, int64_t i0) {
  int64_t klo = a.nk, khi = 0;
  for (int r = 0; r < M; ++r)
    if (a.hi[i0 + r] > a.lo[i0 + r])
      klo = std::min<int64_t>(klo, a.lo[i0 + r]), khi = std::max<int64_t>(khi, a.hi[i0 + r]);
  if (khi <= klo) return;
  alignas(64) float s[M * 64];
  float corr[M];
  if constexpr (KS == kv_src::q8) {
    next_lines<V> none;
    tile_scores<V, M>(a, keys, i0, klo, khi, s, none);
  } else {
    const int64_t stride = a.d * uma::kernels::kv_key_tile;  // halves a pair tile
    const int64_t t1 = (khi + 15) / 16;
    for (int64_t t = klo / 16; t < t1; t += 4) {
      const uint16_t* tiles = kb + t * stride;
      float* st = s + t * 16;
      switch (std::min<int64_t>(4, t1 - t)) {
        case 1:
          bf16_fpass<M, 1>(a.d, qb + i0 * a.d, tiles, stride, st);
          break;
        case 2:
          bf16_fpass<M, 2>(a.d, qb + i0 * a.d, tiles, stride, st);
          break;
        case 3:
          bf16_fpass<M, 3>(a.d, qb + i0 * a.d, tiles, stride, st);
          break;
        default:
          bf16_fpass<M, 4>(a.d, qb + i0 * a.d, tiles, stride, st);
          break;
      }
    }
  }
  alignas(64) uint16_t pb[M * 64];
  const int64_t t0 = klo / 2, t1 = (khi + 1) / 2;
  bf16_weights<V>(a, i0, M, s, pb, corr, t0, t1);
  float* o = a.o + i0 * a.ldo;
  constexpr int W = M <= 2 ? 8 : 4;
  int64_t e0 = 0;
  for (; e0 + W * 16 <= a.dv; e0 += W * 16) bf16_pv<M, W>(a.dv, vb, pb, o, a.ldo, corr, t0, t1, e0);
  for (; e0 < a.dv; e0 += 16) bf16_pv<M, 1>(a.dv, vb, pb, o, a.ldo, corr, t0, t1, e0);
}

// The block's bf16 copy in the scratch (see the top of this file): the query rows (the caller's,
// or rounded here), the F16 keys' pair tiles (null for Q8_0 keys) and the value pairs.
struct bf16_block {
  const uint16_t* qb;
  const uint16_t* kb;
  const uint16_t* vb;
};

// Widens keys and values [0, khi) to bf16 pairs, the value pairs zero-filled up to pad_pairs
// (a tile engine reads whole chunks of them). The next block's lines are requested on the way
// when they go out spread.
template <class V, kv_src S, kv_src KS>
bf16_block widen_bf16(const uma::kernels::attn_block_args& a, kv_rows<V, S> src, key_tiles<KS> keys,
                      int64_t khi, bool spread, int64_t pad_pairs = 0) {
  thread_local std::vector<uint16_t> own;
  const uint16_t* qb = a.qbf;
  if (qb == nullptr && KS == kv_src::half) {
    own.resize(static_cast<size_t>(a.m * a.d));
    uma::kernels::attn_bf16_queries(a.q, a.m, a.ldq, a.d, own.data());
    qb = own.data();
  }
  auto* kb = reinterpret_cast<uint16_t*>(a.scratch);
  uint16_t* vb = kb + (KS == kv_src::half ? whole_tiles(khi) * a.d : 0);
  widen_requests<V> rq(a, spread);
  if constexpr (KS == kv_src::half) {
    rq.each_key_tile(keys, khi, [&](int64_t t, const uint16_t* from) {
      constexpr int64_t n = uma::kernels::kv_key_tile;
      uint16_t* to = kb + t * n * a.d;
      for (int64_t e = 0; e < a.d; e += 2)
        _mm512_storeu_si512(to + e * n,
                            bf16_pairs(V::loadh(from + e * n), V::loadh(from + (e + 1) * n)));
    });
  }
  for (int64_t j = 0; j < khi; j += 2) {
    rq.pv.step(2 * rq.v_lines);
    if constexpr (KS == kv_src::q8) rq.pk.step(2 * rq.k_lines);
    const bool pair = j + 1 < khi;
    for (int64_t e0 = 0; e0 < a.dv; e0 += src.chunk)
      for (int c = 0; c < src.vecs; ++c) {
        const __m512 x = src.value(j, e0, c);
        const __m512 y = pair ? src.value(j + 1, e0, c) : _mm512_setzero_ps();
        _mm512_storeu_si512(vb + (j * a.dv + (e0 + c * 16) * 2), bf16_pairs(x, y));
      }
  }
  const int64_t pairs = (khi + 1) / 2;
  if (pad_pairs > pairs) std::fill(vb + pairs * a.dv * 2, vb + pad_pairs * a.dv * 2, uint16_t{0});
  rq.pk.rest(), rq.pv.rest();
  return {qb, KS == kv_src::half ? kb : nullptr, vb};
}

// The block widened to bf16 pairs, then the rows against it in groups of up to 4.
template <class V, kv_src S, kv_src KS>
void attn_bf16(const uma::kernels::attn_block_args& a, kv_rows<V, S> src, key_tiles<KS> keys,
               int64_t khi, bool spread) {
  const bf16_block w = widen_bf16(a, src, keys, khi, spread);
  for (int64_t i0 = 0; i0 < a.m; i0 += 4) {
    switch (std::min<int64_t>(4, a.m - i0)) {
      case 1:
        bf16_rows<V, 1>(a, w.qb, keys, w.kb, w.vb, i0);
        break;
      case 2:
        bf16_rows<V, 2>(a, w.qb, keys, w.kb, w.vb, i0);
        break;
      case 3:
        bf16_rows<V, 3>(a, w.qb, keys, w.kb, w.vb, i0);
        break;
      default:
        bf16_rows<V, 4>(a, w.qb, keys, w.kb, w.vb, i0);
        break;
    }
  }
}
