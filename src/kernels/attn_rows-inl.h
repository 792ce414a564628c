// Flash-attention blocks over F16 or Q8_0 K/V for any SIMD width (kernels::attn_block, ops.h): the
// query rows in groups of up to 4, each group against the block's keys, each key tile and value
// row read once per group. Keys come in tiles of 16 (ops.h), so a vector holds one value of w
// keys and a score needs no horizontal sum: F16 keys by one FMA chain over the values in order,
// Q8_0 keys by exact integer dot products against the query rounded to Q8_0, scaled and added
// group by group. With up to 8 rows (decode: one token's GQA group) the F16 keys and the values
// are widened to f32 in registers as they are read; with more (prefill) the block is widened once
// into the scratch and every group reads the f32 copy (the widening is exact, so the sums are the
// same; Q8_0 keys are never widened). A row's sums run in the same order whatever rows share its
// group (keys outside a row's range add exact zeros), so prefill and token-by-token decode agree
// to the bit.
//
// Included by a backend's ops file inside its anonymous namespace after it defines its vector
// type(s) V with: t, w (floats per register), zero(), set1(x), load(const float*),
// loadh(const uint16_t*) (w F16 values widened), loadq8(const uint8_t* block, int64_t i) (values
// i .. i + w of a Q8_0 block, q * d; i + w <= 32), store(float*, t), fma(a, b, c) (a * b + c),
// mul(a, b), exp1(x), exp_sum(p, n, mx) (p[i] = e^(p[i] - mx) for i < n, returns their sum),
// max_of(p, n, mx) (max of mx and p[0..n)), prefetch(const char*), ftile_regs and pv_regs (float
// accumulators a score pass and a value pass may keep); for the Q8_0 key tiles an int32 vector
// ti and key-bytes type kq with keys4(const uint8_t* p) (4 x w bytes: 4 values of each of w
// keys), dot4(ti acc, kq k, int32_t q4) (acc + per lane sum_t key byte t * int8 byte t of q4, the
// key bytes unsigned), istart(int32_t bias) (a group's start: after the group's dot4 it holds
// sum (key byte - 128) * q, bias = 128 x the group's query sum), icvt(ti) (to floats) and
// tile_regs (int32 accumulators a tile pass may keep). Needs <algorithm>, <cstring>,
// <type_traits>, <vector> and kernels/ops.h. Shapes: d and dv multiples of V::w, 16 a multiple of
// V::w, nk <= 64; for Q8_0 d and dv multiples of 32.
#pragma once

// The next block's K and V lines, requested while this block is computed: a block is too short
// for the hardware prefetcher to ramp up, and the next one may lie elsewhere. With contiguous rows
// the requests are spread over the first row group's loops (next K over its scores, next V over
// its value pass), so that the core computes while they are in flight: issued all at once they
// filled the miss buffers and stalled the core until the whole next block had arrived (decode
// attention from DRAM ran at about 60 % of the rate with spread requests, docs/performance.md).
// The x86 backends request them into L2 only (V::prefetch: into L1 they held its miss buffers and
// stalled the loads, 2026-12-07). A hint only: results do not depend on it.
template <class V>
struct next_lines {
  const char* p = nullptr;
  const char* end = nullptr;
  void step(int lines) {
    for (int l = 0; l < lines && p < end; ++l, p += 64) V::prefetch(p);
  }
  void rest() { step(1 << 30); }
  // n keys in tiles of ld values.
  void start_keys(uma::kernels::kv_format f, const void* tiles, int64_t n, int64_t ld) {
    p = static_cast<const char*>(tiles);
    const int64_t t = (n + uma::kernels::kv_key_tile - 1) / uma::kernels::kv_key_tile;
    end = p + t * uma::kernels::kv_tile_bytes(f, ld);
  }
  // n rows of width values.
  void start_rows(uma::kernels::kv_format f, const void* rows, int64_t n, int64_t width) {
    p = static_cast<const char*>(rows);
    end = p + n * uma::kernels::kv_row_bytes(f, width);
  }
};

inline bool spread_prefetch(const uma::kernels::attn_block_args& a) {
  return a.k_next != nullptr && a.v_next != nullptr && a.ldk == a.d && a.ldv == a.dv;
}

// Strided rows: every line of the next block at once (its key tiles whole).
template <class V>
void prefetch_next_block(const uma::kernels::attn_block_args& a) {
  if (a.k_next == nullptr || a.v_next == nullptr || spread_prefetch(a)) return;
  next_lines<V> k;
  k.start_keys(a.kv, a.k_next, a.nk_next, a.ldk);
  k.rest();
  const char* c = static_cast<const char*>(a.v_next);
  const int64_t bytes = uma::kernels::kv_row_bytes(a.kv, a.dv);
  const int64_t stride = uma::kernels::kv_row_bytes(a.kv, a.ldv);
  for (int64_t j = 0; j < a.nk_next; ++j)
    for (int64_t off = 0; off < bytes; off += 64) V::prefetch(c + j * stride + off);
}

// Where a group reads its keys and value rows: the block itself (F16 or Q8_0) or its f32 copy
// (wide; a Q8_0 block's keys are never widened).
enum class kv_src { half, q8, wide };
template <kv_src S>
using kv_elem = std::conditional_t<S == kv_src::wide, float,
                                   std::conditional_t<S == kv_src::half, uint16_t, uint8_t>>;

// The block's key tiles: tile t at p + t * stride (elements of kv_elem: bytes for Q8_0).
template <kv_src S>
struct key_tiles {
  const kv_elem<S>* p;
  int64_t stride;
};

// The block's value rows.
template <class V, kv_src S>
struct kv_rows {
  using elem = kv_elem<S>;
  const elem* v;
  int64_t ldv;  // in elements of elem (bytes for Q8_0 rows)
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
  typename V::t value(int64_t j, int64_t e0, int l) const { return load(v + j * ldv, e0, l); }
};

// NT tiles of F16 or f32 keys (E; value e of tile key k at e * 16 + k) against query rows
// [0, M) (q, stride ldq): s[r * 64 + u * 16 + key] for tile u. Each (row, w keys) is one FMA
// chain over the values in order: the same sum whatever tiles and rows share the pass (M x NT x
// 16 / w chains hide the FMA latency). The next block's K lines go out every 8 values.
template <class V, int M, int NT, class E>
void tile_fpass(const uma::kernels::attn_block_args& a, const float* q, const E* tiles,
                int64_t stride, float* s, next_lines<V>& pf, int lines) {
  constexpr int C = static_cast<int>(uma::kernels::kv_key_tile / V::w);  // vectors a tile
  typename V::t acc[M][NT][C];
  for (int r = 0; r < M; ++r)
    for (int u = 0; u < NT; ++u)
      for (int c = 0; c < C; ++c) acc[r][u][c] = V::zero();
  for (int64_t e = 0; e < a.d; ++e) {
    if (e % 8 == 0) pf.step(lines);
    for (int u = 0; u < NT; ++u) {
      for (int c = 0; c < C; ++c) {
        const E* src = tiles + u * stride + e * uma::kernels::kv_key_tile + c * V::w;
        typename V::t k;
        if constexpr (std::is_same_v<E, float>)
          k = V::load(src);
        else
          k = V::loadh(src);
        for (int r = 0; r < M; ++r)
          acc[r][u][c] = V::fma(V::set1(q[r * a.ldq + e]), k, acc[r][u][c]);
      }
    }
  }
  for (int r = 0; r < M; ++r)
    for (int u = 0; u < NT; ++u)
      for (int c = 0; c < C; ++c) V::store(s + r * 64 + u * 16 + c * V::w, acc[r][u][c]);
}

// NT tiles of Q8_0 keys (at `tiles`, stride bytes apart) against query rows [0, M) quantized (q8,
// rb bytes a row): s[r * 64 + u * 16 + key] for tile u. Per group of 32 values the exact integer
// dot products (8 runs of 4 values, each key a lane), then s = fma(d_key * d_query, isum, s) in
// group order, as the scalar reference adds them: every score's sum is the same whatever tiles
// and rows share the pass.
template <class V, int M, int NT>
void tile_ipass(const uma::kernels::attn_block_args& a, const uint8_t* q8, int64_t rb,
                const uint8_t* tiles, int64_t stride, float* s, next_lines<V>& pf, int lines) {
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
    const uint8_t* grp = tiles + g * uma::kernels::kv_q8_tile_group;
    for (int run = 0; run < 8; ++run) {
      for (int u = 0; u < NT; ++u) {
        for (int c = 0; c < C; ++c) {
          const typename V::kq k = V::keys4(grp + u * stride + 32 + run * 64 + c * 4 * V::w);
          for (int r = 0; r < M; ++r) is[r][u][c] = V::dot4(is[r][u][c], k, q4[r][run]);
        }
      }
    }
    for (int u = 0; u < NT; ++u) {
      for (int c = 0; c < C; ++c) {
        const typename V::t dk =
            V::loadh(reinterpret_cast<const uint16_t*>(grp + u * stride) + c * V::w);
        for (int r = 0; r < M; ++r) {
          float* out = s + r * 64 + u * 16 + c * V::w;
          const typename V::t prev = g == 0 ? V::zero() : V::load(out);
          V::store(out, V::fma(V::mul(dk, V::set1(dq[r])), V::icvt(is[r][u][c]), prev));
        }
      }
    }
  }
}

// Scores of rows [i0, i0 + M) against the key tiles that hold keys [j0, j1): s[r * 64 + j] for
// every key of those tiles. Up to 4 tiles a pass, as many as keep the pass's accumulators within
// the backend's budget. The next block's K lines go out spread over the pass.
template <class V, int M, kv_src KS>
void tile_scores(const uma::kernels::attn_block_args& a, key_tiles<KS> keys, int64_t i0, int64_t j0,
                 int64_t j1, float* s, next_lines<V>& pf) {
  constexpr int C = static_cast<int>(uma::kernels::kv_key_tile / V::w);
  constexpr int T = KS == kv_src::q8 ? std::clamp(V::tile_regs / (M * C), 1, 4)
                                     : std::clamp(V::ftile_regs / (M * C), 1, 4);
  const int64_t t1 = (j1 + 15) / 16;
  // Next-block K lines per step: a pass's worth of tiles over its steps (groups, or 8 values).
  const int64_t pass_bytes = T * uma::kernels::kv_tile_bytes(a.kv, a.ldk);
  const int64_t steps = KS == kv_src::q8 ? a.d / 32 : (a.d + 7) / 8;
  const int lines = static_cast<int>(std::max<int64_t>(1, pass_bytes / 64 / steps));
  const int64_t rb = uma::kernels::attn_q8_row_bytes(a.d);
  for (int64_t t = j0 / 16; t < t1; t += T) {
    const kv_elem<KS>* tiles = keys.p + t * keys.stride;
    float* st = s + t * 16;
    const auto pass = [&]<int NT>() {
      if constexpr (KS == kv_src::q8)
        tile_ipass<V, M, NT>(a, static_cast<const uint8_t*>(a.q8) + i0 * rb, rb, tiles, keys.stride,
                             st, pf, lines);
      else
        tile_fpass<V, M, NT>(a, a.q + i0 * a.ldq, tiles, keys.stride, st, pf, lines);
    };
    switch (std::min<int64_t>(T, t1 - t)) {
      case 1:
        pass.template operator()<1>();
        break;
      case 2:
        if constexpr (T >= 2) pass.template operator()<2>();
        break;
      case 3:
        if constexpr (T >= 3) pass.template operator()<3>();
        break;
      default:
        if constexpr (T >= 4) pass.template operator()<4>();
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

// Row i's online-softmax update over its scores sr (key j at sr[j]; the row sees [lo[i], hi[i])):
// the running max and sum, sr's visible scores turned into weights e^(score - max), the keys of
// [f0, f1) outside the row's range given weight 0. Returns the factor the row's output takes
// (1 for a row that sees no key: its state unchanged).
// Inlined, as the loop it came from was (decode runs it for every row of every block).
template <class V>
[[gnu::always_inline]] inline float softmax_row(const uma::kernels::attn_block_args& a, int64_t i,
                                                float* sr, int64_t f0, int64_t f1) {
  const int64_t lo = a.lo[i], hi = a.hi[i];
  if (hi <= lo) {
    std::fill(sr + f0, sr + f1, 0.f);
    return 1.f;
  }
  const float mx = V::max_of(sr + lo, hi - lo, a.row_max[i]);
  const float corr = V::exp1(a.row_max[i] - mx);
  std::fill(sr + f0, sr + lo, 0.f);
  std::fill(sr + hi, sr + f1, 0.f);
  const float sum = V::exp_sum(sr + lo, hi - lo, mx);
  a.row_sum[i] = a.row_sum[i] * corr + sum;
  a.row_max[i] = mx;
  return corr;
}

// Rows [i0, i0 + M) of the block: scores over the keys any of them sees, the online-softmax
// update per row (keys outside a row's range get weight 0; a row that sees none is unchanged),
// then one pass over the values. With `prefetch`, the next block's lines go out on the way.
template <class V, int M, kv_src S, kv_src KS>
void decode_rows(const uma::kernels::attn_block_args& a, kv_rows<V, S> kv_src, key_tiles<KS> keys,
                 int64_t i0, bool prefetch) {
  int64_t klo = a.nk, khi = 0;
  for (int r = 0; r < M; ++r)
    if (a.hi[i0 + r] > a.lo[i0 + r])
      klo = std::min<int64_t>(klo, a.lo[i0 + r]), khi = std::max<int64_t>(khi, a.hi[i0 + r]);
  next_lines<V> pf;
  if (prefetch) pf.start_keys(a.kv, a.k_next, a.nk_next, a.ldk);
  if (khi <= klo) {
    if (prefetch) pf.rest(), pf.start_rows(a.kv, a.v_next, a.nk_next, a.dv), pf.rest();
    return;
  }
  alignas(64) float s[M * 64];
  float corr[M];
  tile_scores<V, M>(a, keys, i0, klo, khi, s, pf);
  pf.rest();
  for (int r = 0; r < M; ++r) corr[r] = softmax_row<V>(a, i0 + r, s + r * 64, klo, khi);
  float* o = a.o + i0 * a.ldo;
  // M x wide accumulators <= V::pv_regs; a Q8_0 pass covers whole blocks (kv_rows::load wants
  // e0 a multiple of 32: with 4-float registers that takes 8 even for M > 2).
  constexpr int pv = V::pv_regs / M;
  constexpr int wide = std::max<int>(pv >= 8 ? 8 : pv >= 4 ? 4 : 2, kv_rows<V, S>::vecs);
  if (prefetch) pf.start_rows(a.kv, a.v_next, a.nk_next, a.dv);
  int64_t e0 = 0;
  for (; e0 + wide * V::w <= a.dv; e0 += wide * V::w)
    decode_pv<V, M, wide>(a, kv_src, o, corr, s, klo, khi, e0, pf);
  // The rest a chunk at a time (a Q8_0 block's vectors together).
  for (; e0 < a.dv; e0 += kv_src.chunk)
    decode_pv<V, M, kv_src.vecs>(a, kv_src, o, corr, s, klo, khi, e0, pf);
  pf.rest();
}

// The query rows in groups of up to 4 against one key and value source (see the top of this
// file).
template <class V, kv_src S, kv_src KS>
void attn_groups(const uma::kernels::attn_block_args& a, kv_rows<V, S> kv_src, key_tiles<KS> keys,
                 bool spread) {
  for (int64_t i0 = 0; i0 < a.m; i0 += 4) {
    const bool pf = spread && i0 == 0;
    switch (std::min<int64_t>(4, a.m - i0)) {
      case 1:
        decode_rows<V, 1>(a, kv_src, keys, i0, pf);
        break;
      case 2:
        decode_rows<V, 2>(a, kv_src, keys, i0, pf);
        break;
      case 3:
        decode_rows<V, 3>(a, kv_src, keys, i0, pf);
        break;
      default:
        decode_rows<V, 4>(a, kv_src, keys, i0, pf);
        break;
    }
  }
}

// Rounds n up to whole key tiles.
constexpr int64_t whole_tiles(int64_t n) {
  return (n + uma::kernels::kv_key_tile - 1) / uma::kernels::kv_key_tile *
         uma::kernels::kv_key_tile;
}

// The requests for the next block's lines while a block is widened (attn_widened, and the BF16
// copy): keys and values as two streams, started only when they go out spread, and the lines of
// one key or value row.
template <class V>
struct widen_requests {
  next_lines<V> pk, pv;
  int k_lines, v_lines;
  widen_requests(const uma::kernels::attn_block_args& a, bool spread)
      : k_lines(static_cast<int>(std::max<int64_t>(1, a.d / 32))),
        v_lines(static_cast<int>(std::max<int64_t>(1, a.dv / 32))) {
    if (!spread) return;
    pk.start_keys(a.kv, a.k_next, a.nk_next, a.ldk);
    pv.start_rows(a.kv, a.v_next, a.nk_next, a.dv);
  }
  // fn(t, tile) for each F16 key tile t that holds keys [0, khi), the key requests a tile's worth
  // before each.
  template <class F>
  void each_key_tile(key_tiles<kv_src::half> keys, int64_t khi, F fn) {
    constexpr int64_t n = uma::kernels::kv_key_tile;
    for (int64_t t = 0; t < whole_tiles(khi) / n; ++t) {
      pk.step(k_lines * static_cast<int>(n));
      fn(t, keys.p + t * keys.stride);
    }
  }
};

// The block widened into the scratch: the F16 key tiles that hold keys [0, khi) as f32 tiles of
// d values (Q8_0 keys stay as they are), then value rows [0, khi), unpadded. The next block's lines
// are requested on the way when they go out spread.
template <class V, kv_src S, kv_src KS>
void attn_widened(const uma::kernels::attn_block_args& a, kv_rows<V, S> src, key_tiles<KS> keys,
                  int64_t khi, bool spread) {
  float* kf = a.scratch;
  float* vf = a.scratch + whole_tiles(a.nk) * a.d;
  widen_requests<V> rq(a, spread);
  if constexpr (KS == kv_src::half) {
    rq.each_key_tile(keys, khi, [&](int64_t t, const uint16_t* from) {
      constexpr int64_t n = uma::kernels::kv_key_tile;
      for (int64_t e = 0; e < a.d * n; e += V::w)
        V::store(kf + t * n * a.d + e, V::loadh(from + e));
    });
  }
  for (int64_t j = 0; j < khi; ++j) {
    rq.pv.step(rq.v_lines);
    if constexpr (KS == kv_src::q8) rq.pk.step(rq.k_lines);
    for (int64_t e0 = 0; e0 < a.dv; e0 += src.chunk)
      for (int c = 0; c < src.vecs; ++c)
        V::store(vf + j * a.dv + e0 + c * V::w, src.value(j, e0, c));
  }
  rq.pk.rest(), rq.pv.rest();
  const kv_rows<V, kv_src::wide> vals{vf, a.dv};
  if constexpr (KS == kv_src::q8)
    attn_groups<V>(a, vals, keys, false);
  else
    attn_groups<V>(a, vals, key_tiles<kv_src::wide>{kf, uma::kernels::kv_key_tile * a.d}, false);
}

// The query rows against the block as source `src` and `keys` read it, or, for more than 8 rows,
// against its f32 copy.
template <class V, kv_src S, kv_src KS>
void attn_source(const uma::kernels::attn_block_args& a, kv_rows<V, S> src, key_tiles<KS> keys,
                 int64_t khi, bool spread) {
  if (a.m > 8 && a.scratch != nullptr && khi > 0) {
    attn_widened<V>(a, src, keys, khi, spread);
    return;
  }
  attn_groups<V>(a, src, keys, spread);
}

// Flash-attention block (see ops.h): the query rows in groups of up to 4, each group against
// the block's keys and values, F16 widened to f32 in registers or, for more than 8 rows, once
// into the scratch (16 floats per instruction where d and dv allow, else 8). Measured
// (bench_attention, one thread): prefill with 32 rows a call 113 -> 131-136 GFLOPS with the
// scratch copy; decode with 7 rows 29 -> 17 GB/s with it, hence the 8. A row's sums run in the
// same order whatever rows share its group (keys outside a row's range add exact zeros), so
// prefill and token-by-token decode agree to the bit. Shapes the vector code does not cover (d or
// dv not a multiple of 8, blocks of more than 64 keys) go to the scalar reference. Q8: whether
// this V has the Q8_0 cache's code (false for a narrower register kind that Q8_0's widths, all
// multiples of 32, never take; such a call goes to the scalar reference).
template <class V, bool Q8 = true>
void attn_rows(const uma::kernels::attn_block_args& a) {
  if constexpr (!Q8) {
    if (a.kv == uma::kernels::kv_format::q8_0) {
      uma::kernels::ref::attn_block(a);
      return;
    }
  }
  prefetch_next_block<V>(a);
  const bool spread = spread_prefetch(a);
  int64_t khi = 0;                   // keys past every row's range are never read
  for (int64_t i = 0; i < a.m; ++i)  // rows with an empty range read nothing
    if (a.hi[i] > a.lo[i]) khi = std::max<int64_t>(khi, a.hi[i]);
  if constexpr (Q8) {
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
      attn_source<V>(b, kv_rows<V, kv_src::q8>{static_cast<const uint8_t*>(a.v), rv},
                     key_tiles<kv_src::q8>{static_cast<const uint8_t*>(a.k),
                                           uma::kernels::kv_tile_bytes(a.kv, a.ldk)},
                     khi, spread);
      return;
    }
  }
  attn_source<V>(
      a, kv_rows<V, kv_src::half>{static_cast<const uint16_t*>(a.v), a.ldv},
      key_tiles<kv_src::half>{static_cast<const uint16_t*>(a.k), uma::kernels::kv_key_tile * a.ldk},
      khi, spread);
}
