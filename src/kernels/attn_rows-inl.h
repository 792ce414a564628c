// Flash-attention blocks over F16 or Q8_0 K/V for any SIMD width (kernels::attn_block, ops.h): the
// query rows in groups of up to 4, each group against the block's keys, each K/V row read once per
// group. With up to 8 rows (decode: one token's GQA group) the K and V rows are widened to f32 in
// registers as they are read; with more (prefill) the block is widened once into the scratch and
// every group reads the f32 copy (the widening is exact, so the sums are the same). A row's sums
// run in the same order whatever rows share its group (keys outside a row's range add exact
// zeros), so prefill and token-by-token decode agree to the bit.
//
// Included by a backend's ops file inside its anonymous namespace after it defines its vector
// type(s) V with: t, w (floats per register), zero(), set1(x), load(const float*),
// loadh(const uint16_t*) (w F16 values widened), loadq8(const uint8_t* block, int64_t i) (values
// i .. i + w of a Q8_0 block, q * d; i + w <= 32), store(float*, t), fma(a, b, c) (a * b + c),
// mul(a, b), sum(t) (horizontal), exp1(x), exp_sum(p, n, mx) (p[i] = e^(p[i] - mx) for i < n,
// returns their sum), max_of(p, n, mx) (max of mx and p[0..n)), prefetch(const char*); for the
// Q8_0 key tiles (ops.h) an int32 vector ti and key-bytes type kq with keys4(const uint8_t* p)
// (4 x w bytes: 4 values of each of w keys), dot4(ti acc, kq k, int32_t q4) (acc + per lane
// sum_t key byte t * int8 byte t of q4, the key bytes unsigned), istart(int32_t bias) (a group's
// start: after the group's dot4 it holds sum (key byte - 128) * q, bias = 128 x the group's query
// sum), icvt(ti) (to floats) and tile_regs (int32 accumulators a tile pass may keep). Needs
// <algorithm>, <cstring>, <type_traits> and kernels/ops.h. Shapes: d and dv multiples of V::w,
// nk <= 64; for Q8_0 also of 32.
#pragma once

// The next block's K and V lines, requested while this block is computed: a block is too short
// for the hardware prefetcher to ramp up, and the next one may lie elsewhere. With contiguous rows
// the requests are spread over the first row group's loops (next K over its scores, next V over
// its value pass), so that the core computes while they are in flight: issued all at once they
// filled the miss buffers and stalled the core until the whole next block had arrived (decode
// attention from DRAM ran at about 60 % of the rate with spread requests, docs/performance.md).
// A hint only: results do not depend on it.
template <class V>
struct next_lines {
  const char* p = nullptr;
  const char* end = nullptr;
  void step(int lines) {
    for (int l = 0; l < lines && p < end; ++l, p += 64) V::prefetch(p);
  }
  void rest() { step(1 << 30); }
  void start(uma::kernels::kv_format f, const void* rows, int64_t n, int64_t width) {
    p = static_cast<const char*>(rows);
    end = p + n * uma::kernels::kv_row_bytes(f, width);
  }
};

inline bool spread_prefetch(const uma::kernels::attn_block_args& a) {
  return a.k_next != nullptr && a.v_next != nullptr && a.ldk == a.d && a.ldv == a.dv;
}

// Strided rows: every line of the next block at once.
template <class V>
void prefetch_next_block(const uma::kernels::attn_block_args& a) {
  if (a.k_next == nullptr || a.v_next == nullptr || spread_prefetch(a)) return;
  const auto lines = [&](const void* p, int64_t n, int64_t width, int64_t ld) {
    const char* c = static_cast<const char*>(p);
    const int64_t bytes = uma::kernels::kv_row_bytes(a.kv, width);
    const int64_t stride = uma::kernels::kv_row_bytes(a.kv, ld);
    for (int64_t j = 0; j < n; ++j)
      for (int64_t off = 0; off < bytes; off += 64) V::prefetch(c + j * stride + off);
  };
  lines(a.k_next, a.nk_next, a.d, a.ldk);
  lines(a.v_next, a.nk_next, a.dv, a.ldv);
}

// Where a group reads its K and V rows: the block itself (F16 or Q8_0 rows) or its f32 copy (wide).
// Q8_0 keys are tiles that tile_scores reads; `k` is then unused.
enum class kv_src { half, q8, wide };
template <class V, kv_src S>
struct kv_rows {
  using elem = std::conditional_t<S == kv_src::wide, float,
                                  std::conditional_t<S == kv_src::half, uint16_t, uint8_t>>;
  const elem* k;
  const elem* v;
  int64_t ldk, ldv;  // in elements of elem (bytes for Q8_0 rows)
  // Values per chunk: the loops step over a row chunk by chunk, each chunk `vecs` vectors with
  // compile-time offsets, so that the vectors of one Q8_0 block share its scale's load and
  // conversion (a block is 32 values).
  static constexpr int64_t chunk = S == kv_src::q8 ? 32 : V::w;
  static constexpr int vecs = static_cast<int>(chunk / V::w);
  // Vector l (values e0 + l * V::w onwards) of the row at p; e0 a multiple of chunk (for Q8_0 the
  // block offset is computed from e0 / 32 and l alone, so that the compiler sees which vectors
  // share a block).
  static typename V::t load(const elem* p, int64_t e0, int l) {
    if constexpr (S == kv_src::wide)
      return V::load(p + e0 + l * V::w);
    else if constexpr (S == kv_src::half)
      return V::loadh(p + e0 + l * V::w);
    else
      return V::loadq8(p + (e0 / 32 + l * V::w / 32) * 34, l * V::w % 32);
  }
  typename V::t key(int64_t j, int64_t e0, int l) const { return load(k + j * ldk, e0, l); }
  typename V::t value(int64_t j, int64_t e0, int l) const { return load(v + j * ldv, e0, l); }
};

// Scores of rows [0, M) (queries q, stride ldq) against keys [j0, j1): s[r * 64 + j].
// Four keys at a time, so 4 x M independent FMA chains hide the FMA latency.
// The next block's K lines go out as many per 4 keys as 4 rows of d F16 values take (16 at 128).
template <class V, int M, kv_src S>
void decode_scores(const uma::kernels::attn_block_args& a, kv_rows<V, S> kv_src, const float* q,
                   int64_t j0, int64_t j1, float* s, next_lines<V>& pf) {
  int64_t j = j0;
  const int k_lines = static_cast<int>(std::max<int64_t>(1, a.d / 8));
  for (; j + 4 <= j1; j += 4) {
    pf.step(k_lines);
    typename V::t acc[M][4];
    for (int r = 0; r < M; ++r)
      for (int u = 0; u < 4; ++u) acc[r][u] = V::zero();
    for (int64_t e0 = 0; e0 < a.d; e0 += kv_src.chunk) {
      for (int c = 0; c < kv_src.vecs; ++c) {
        typename V::t kv[4];
        for (int u = 0; u < 4; ++u) kv[u] = kv_src.key(j + u, e0, c);
        for (int r = 0; r < M; ++r) {
          const typename V::t qv = V::load(q + r * a.ldq + e0 + c * V::w);
          for (int u = 0; u < 4; ++u) acc[r][u] = V::fma(qv, kv[u], acc[r][u]);
        }
      }
    }
    for (int r = 0; r < M; ++r) {
      if constexpr (requires { V::sum4(acc[r], s); })  // the same sums, fewer shuffles
        V::sum4(acc[r], s + r * 64 + j);
      else
        for (int u = 0; u < 4; ++u) s[r * 64 + j + u] = V::sum(acc[r][u]);
    }
  }
  for (; j < j1; ++j) {
    typename V::t acc[M];
    for (int r = 0; r < M; ++r) acc[r] = V::zero();
    for (int64_t e0 = 0; e0 < a.d; e0 += kv_src.chunk) {
      for (int c = 0; c < kv_src.vecs; ++c) {
        const typename V::t kv = kv_src.key(j, e0, c);
        for (int r = 0; r < M; ++r)
          acc[r] = V::fma(V::load(q + r * a.ldq + e0 + c * V::w), kv, acc[r]);
      }
    }
    for (int r = 0; r < M; ++r) s[r * 64 + j] = V::sum(acc[r]);
  }
}

// NT tiles of Q8_0 keys (at `tiles`, tb bytes apart) against query rows [0, M) quantized (q8, rb
// bytes a row): s[r * 64 + u * 16 + key] for tile u. Per group of 32 values the exact integer dot
// products (8 runs of 4 values, each key a lane), then s = fma(d_key * d_query, isum, s) in group
// order, as the scalar reference adds them: every score's sum is the same whatever tiles and rows
// share the pass.
template <class V, int M, int NT>
void tile_pass(const uma::kernels::attn_block_args& a, const uint8_t* q8, int64_t rb,
               const uint8_t* tiles, int64_t tb, float* s, next_lines<V>& pf, int lines) {
  constexpr int C = static_cast<int>(uma::kernels::kv_key_tile / V::w);  // vectors a tile
  const int64_t groups = a.d / 32;
  for (int64_t g = 0; g < groups; ++g) {
    pf.step(lines);
    typename V::ti is[M][NT][C];
    int32_t q4[M][8];
    float dq[M];
    for (int r = 0; r < M; ++r) {
      const uint8_t* row = q8 + r * rb;
      int32_t bias;
      std::memcpy(&bias, row + a.d + (groups + g) * 4, 4);
      std::memcpy(&dq[r], row + a.d + g * 4, 4);
      std::memcpy(q4[r], row + g * 32, 32);
      for (int u = 0; u < NT; ++u)
        for (int c = 0; c < C; ++c) is[r][u][c] = V::istart(bias);
    }
    const uint8_t* grp = tiles + g * uma::kernels::kv_key_tile * 34;
    for (int run = 0; run < 8; ++run) {
      for (int u = 0; u < NT; ++u) {
        for (int c = 0; c < C; ++c) {
          const typename V::kq k = V::keys4(grp + u * tb + 32 + run * 64 + c * 4 * V::w);
          for (int r = 0; r < M; ++r) is[r][u][c] = V::dot4(is[r][u][c], k, q4[r][run]);
        }
      }
    }
    for (int u = 0; u < NT; ++u) {
      for (int c = 0; c < C; ++c) {
        const typename V::t dk =
            V::loadh(reinterpret_cast<const uint16_t*>(grp + u * tb) + c * V::w);
        for (int r = 0; r < M; ++r) {
          float* out = s + r * 64 + u * 16 + c * V::w;
          const typename V::t prev = g == 0 ? V::zero() : V::load(out);
          V::store(out, V::fma(V::mul(dk, V::set1(dq[r])), V::icvt(is[r][u][c]), prev));
        }
      }
    }
  }
}

// Scores of rows [0, M) (quantized queries q8, rb bytes a row) against the Q8_0 key tiles that
// hold keys [j0, j1): s[r * 64 + j] for every key of those tiles. Up to 4 tiles a pass, as many as
// keep M x tiles x (16 / w) int32 chains within V::tile_regs. The next block's K lines go out
// spread over the groups.
template <class V, int M>
void tile_scores(const uma::kernels::attn_block_args& a, const uint8_t* q8, int64_t rb, int64_t j0,
                 int64_t j1, float* s, next_lines<V>& pf) {
  constexpr int C = static_cast<int>(uma::kernels::kv_key_tile / V::w);
  constexpr int T = std::clamp(V::tile_regs / (M * C), 1, 4);
  const int64_t tb = uma::kernels::kv_tile_bytes(uma::kernels::kv_format::q8_0, a.ldk);
  const auto* k = static_cast<const uint8_t*>(a.k);
  const int64_t t1 = (j1 + 15) / 16;
  const int lines = static_cast<int>(std::max<int64_t>(1, tb * T / 64 / (a.d / 32)));
  for (int64_t t = j0 / 16; t < t1; t += T) {
    const uint8_t* tiles = k + t * tb;
    float* st = s + t * 16;
    switch (std::min<int64_t>(T, t1 - t)) {
      case 1:
        tile_pass<V, M, 1>(a, q8, rb, tiles, tb, st, pf, lines);
        break;
      case 2:
        if constexpr (T >= 2) tile_pass<V, M, 2>(a, q8, rb, tiles, tb, st, pf, lines);
        break;
      case 3:
        if constexpr (T >= 3) tile_pass<V, M, 3>(a, q8, rb, tiles, tb, st, pf, lines);
        break;
      default:
        if constexpr (T >= 4) tile_pass<V, M, 4>(a, q8, rb, tiles, tb, st, pf, lines);
        break;
    }
  }
}

// o[r][e0 .. e0 + W * V::w) = o[r] * corr[r] + sum_j p[r][j] * v[j]: M x W accumulators in
// registers over the keys, each V row widened once for the M rows. The next block's V lines go
// out as many per key as one row of dv F16 values takes (4 at 128).
template <class V, int M, int W, kv_src S>
void decode_pv(const uma::kernels::attn_block_args& a, kv_rows<V, S> kv_src, float* o,
               const float* corr, const float* p, int64_t j0, int64_t j1, int64_t e0,
               next_lines<V>& pf) {
  typename V::t acc[M][W];
  for (int r = 0; r < M; ++r)
    for (int l = 0; l < W; ++l)
      acc[r][l] = V::mul(V::load(o + r * a.ldo + e0 + l * V::w), V::set1(corr[r]));
  const int v_lines = static_cast<int>(std::max<int64_t>(1, a.dv / 32));
  for (int64_t j = j0; j < j1; ++j) {
    pf.step(v_lines);
    typename V::t vv[W];
    for (int l = 0; l < W; ++l) vv[l] = kv_src.value(j, e0, l);
    for (int r = 0; r < M; ++r) {
      const typename V::t pj = V::set1(p[r * 64 + j]);
      for (int l = 0; l < W; ++l) acc[r][l] = V::fma(pj, vv[l], acc[r][l]);
    }
  }
  for (int r = 0; r < M; ++r)
    for (int l = 0; l < W; ++l) V::store(o + r * a.ldo + e0 + l * V::w, acc[r][l]);
}

// Rows [i0, i0 + M) of the block: scores over the keys any of them sees, the online-softmax
// update per row (keys outside a row's range get weight 0; a row that sees none is unchanged),
// then one pass over the values. With `prefetch`, the next block's lines go out on the way. KT:
// the keys are Q8_0 tiles (scored against the quantized queries), else rows of kv_src.
template <class V, int M, kv_src S, bool KT>
void decode_rows(const uma::kernels::attn_block_args& a, kv_rows<V, S> kv_src, int64_t i0,
                 bool prefetch) {
  int64_t klo = a.nk, khi = 0;
  for (int r = 0; r < M; ++r)
    if (a.hi[i0 + r] > a.lo[i0 + r])
      klo = std::min<int64_t>(klo, a.lo[i0 + r]), khi = std::max<int64_t>(khi, a.hi[i0 + r]);
  next_lines<V> pf;
  if (prefetch) pf.start(a.kv, a.k_next, a.nk_next, a.d);
  if (khi <= klo) {
    if (prefetch) pf.rest(), pf.start(a.kv, a.v_next, a.nk_next, a.dv), pf.rest();
    return;
  }
  alignas(64) float s[M * 64];
  float corr[M];
  if constexpr (KT) {
    const int64_t rb = uma::kernels::attn_q8_row_bytes(a.d);
    tile_scores<V, M>(a, static_cast<const uint8_t*>(a.q8) + i0 * rb, rb, klo, khi, s, pf);
  } else {
    decode_scores<V, M>(a, kv_src, a.q + i0 * a.ldq, klo, khi, s, pf);
  }
  pf.rest();
  for (int r = 0; r < M; ++r) {
    const int64_t i = i0 + r, lo = a.lo[i], hi = a.hi[i];
    float* sr = s + r * 64;
    if (hi <= lo) {  // no visible key: weights 0, state unchanged
      std::fill(sr + klo, sr + khi, 0.f);
      corr[r] = 1.f;
      continue;
    }
    float mx = a.row_max[i];
    mx = V::max_of(sr + lo, hi - lo, mx);
    corr[r] = V::exp1(a.row_max[i] - mx);
    std::fill(sr + klo, sr + lo, 0.f);
    std::fill(sr + hi, sr + khi, 0.f);
    const float sum = V::exp_sum(sr + lo, hi - lo, mx);
    a.row_sum[i] = a.row_sum[i] * corr[r] + sum;
    a.row_max[i] = mx;
  }
  float* o = a.o + i0 * a.ldo;
  // M x wide accumulators <= 16 registers; a Q8_0 pass covers whole blocks (kv_rows::load wants
  // e0 a multiple of 32: with 4-float registers that takes 8 even for M > 2).
  constexpr int wide = std::max<int>(M <= 2 ? 8 : 4, kv_rows<V, S>::vecs);
  if (prefetch) pf.start(a.kv, a.v_next, a.nk_next, a.dv);
  int64_t e0 = 0;
  for (; e0 + wide * V::w <= a.dv; e0 += wide * V::w)
    decode_pv<V, M, wide>(a, kv_src, o, corr, s, klo, khi, e0, pf);
  // The rest a chunk at a time (a Q8_0 block's vectors together).
  for (; e0 < a.dv; e0 += kv_src.chunk)
    decode_pv<V, M, kv_src.vecs>(a, kv_src, o, corr, s, klo, khi, e0, pf);
  pf.rest();
}

// The query rows in groups of up to 4 against one K/V source (see the top of this file).
template <class V, kv_src S, bool KT>
void attn_groups(const uma::kernels::attn_block_args& a, kv_rows<V, S> kv_src, bool spread) {
  for (int64_t i0 = 0; i0 < a.m; i0 += 4) {
    const bool pf = spread && i0 == 0;
    switch (std::min<int64_t>(4, a.m - i0)) {
      case 1:
        decode_rows<V, 1, S, KT>(a, kv_src, i0, pf);
        break;
      case 2:
        decode_rows<V, 2, S, KT>(a, kv_src, i0, pf);
        break;
      case 3:
        decode_rows<V, 3, S, KT>(a, kv_src, i0, pf);
        break;
      default:
        decode_rows<V, 4, S, KT>(a, kv_src, i0, pf);
        break;
    }
  }
}

// The block's keys [0, khi) widened into the scratch from source `src` (K rows, then V rows,
// unpadded; the V rows only where the keys are tiles, KT), the next block's lines requested on the
// way when they go out spread.
template <class V, kv_src S, bool KT>
kv_rows<V, kv_src::wide> widen_block(const uma::kernels::attn_block_args& a, kv_rows<V, S> src,
                                     int64_t khi, bool spread) {
  float* kf = a.scratch;
  float* vf = a.scratch + a.nk * a.d;
  next_lines<V> pk, pv;
  if (spread) pk.start(a.kv, a.k_next, a.nk_next, a.d), pv.start(a.kv, a.v_next, a.nk_next, a.dv);
  const int k_lines = static_cast<int>(std::max<int64_t>(1, a.d / 32));
  const int v_lines = static_cast<int>(std::max<int64_t>(1, a.dv / 32));
  for (int64_t j = 0; j < khi; ++j) {
    pk.step(k_lines), pv.step(v_lines);
    if constexpr (!KT)
      for (int64_t e0 = 0; e0 < a.d; e0 += src.chunk)
        for (int c = 0; c < src.vecs; ++c)
          V::store(kf + j * a.d + e0 + c * V::w, src.key(j, e0, c));
    for (int64_t e0 = 0; e0 < a.dv; e0 += src.chunk)
      for (int c = 0; c < src.vecs; ++c)
        V::store(vf + j * a.dv + e0 + c * V::w, src.value(j, e0, c));
  }
  pk.rest(), pv.rest();
  return {kf, vf, a.d, a.dv};
}

// The query rows against the block's rows as source `src` reads them, or, for more than 8 rows,
// against their f32 copy.
template <class V, kv_src S, bool KT>
void attn_source(const uma::kernels::attn_block_args& a, kv_rows<V, S> src, int64_t khi,
                 bool spread) {
  if (a.m > 8 && a.scratch != nullptr && khi > 0) {
    attn_groups<V, kv_src::wide, KT>(a, widen_block<V, S, KT>(a, src, khi, spread), false);
    return;
  }
  attn_groups<V, S, KT>(a, src, spread);
}

// Flash-attention block (see ops.h): the query rows in groups of up to 4, each group against
// the block's keys, K/V widened to f32 in registers or, for more than 8 rows, once into the
// scratch (16 floats per instruction where d and dv allow, else 8). Measured (bench_attention,
// one thread): prefill with 32 rows a call 113 -> 131-136 GFLOPS with the scratch copy; decode
// with 7 rows 29 -> 17 GB/s with it, hence the 8. A row's sums run in the same order whatever rows
// share its group (keys outside a row's range add exact zeros), so prefill and token-by-token
// decode agree to the bit. Shapes the vector code does not cover (d or dv not a multiple of 8,
// blocks of more than 64 keys) go to the scalar reference.
template <class V>
void attn_rows(const uma::kernels::attn_block_args& a) {
  prefetch_next_block<V>(a);
  const bool spread = spread_prefetch(a);
  int64_t khi = 0;  // keys past every row's range are never read
  for (int64_t i = 0; i < a.m; ++i) khi = std::max<int64_t>(khi, a.hi[i]);
  if (a.kv == uma::kernels::kv_format::q8_0) {
    // The queries quantized once for all the block's keys (the caller's, or here).
    uma::kernels::attn_block_args b = a;
    if (b.q8 == nullptr) {
      thread_local std::vector<uint8_t> own;
      own.resize(static_cast<size_t>(a.m * uma::kernels::attn_q8_row_bytes(a.d)));
      uma::kernels::attn_quantize_queries(a.q, a.m, a.ldq, a.d, own.data());
      b.q8 = own.data();
    }
    const int64_t rv = uma::kernels::kv_row_bytes(a.kv, a.ldv);
    attn_source<V, kv_src::q8, true>(
        b, kv_rows<V, kv_src::q8>{nullptr, static_cast<const uint8_t*>(a.v), 0, rv}, khi, spread);
    return;
  }
  attn_source<V, kv_src::half, false>(
      a,
      kv_rows<V, kv_src::half>{static_cast<const uint16_t*>(a.k), static_cast<const uint16_t*>(a.v),
                               a.ldk, a.ldv},
      khi, spread);
}
