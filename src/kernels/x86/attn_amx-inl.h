// BF16 prompt attention on AMX tiles (attn_block_args::bf16 with an F16 cache, on the amx ops
// backend): the block's bf16 copy is attn_bf16-inl.h's, whose layouts are already the tiles':
// an F16 key tile's pairs of dims for 32 dims are a B tile (16 rows of 16 keys x 2 bf16, 64
// bytes a row, contiguous), 16 pairs of keys x 16 values of the value pairs are a B tile with
// rows dv x 4 bytes apart, and 16 query rows x 32 dims (or 16 rows' weights x 32 keys) an A tile.
// Rows go in groups of 16 (a shorter last group padded with zero rows):
//   scores: C (tmm0-3, one a 16-key tile, up to 4) += Q chunk (tmm4) x K pair chunk (tmm5) over
//           the head's 32-dim chunks, stored to a 16 x 64 float array;
//   softmax as the AVX-512 path (bf16_weights), the weights rounded to bf16 rows of 64 keys,
//           zero outside each row's pairs;
//   values: the group's outputs x their factors copied to a 16-row array, then per 4 x 16 values
//           C (tmm0-3) += P chunk (tmm4, 32 keys) x V pair chunk (tmm5) over the 32-key chunks
//           that hold the group's keys, and copied back.
// TDPBF16PS adds each pair's even product first, then the odd one (amx_tiles-inl.h), where
// vdpbf16ps adds the odd one first: the results differ from the AVX-512 path's in the last bits.
// A row's sums depend only on its own queries and keys (the padding rows and the zero weights
// add exact zeros), so a row gives the same floats whatever rows share its group. Needs d a
// multiple of 32 and dv of 16; included by ops_amx.cpp after attn_bf16-inl.h and
// amx_tiles-inl.h.
#pragma once

// All eight tiles 16 rows x 64 bytes: C fp32 16 x 16, A bf16 16 x 32, B bf16 pairs 16 x 16.
inline void attn_tile_config() {
  amx::tile_config c;
  for (int t = 0; t < 8; ++t) c.rows[t] = 16, c.colsb[t] = 64;
  amx::config(c);
}

// C tiles [0, n) (n <= 4) += tmm4 x (tmm5 loaded from b(u) with `stride`) for each u < n.
template <class B>
inline void dp_tiles(int n, B b, size_t stride) {
  const auto one = [&]<int U>() {
    amx::load<5>(b(U), stride);
    amx::dpbf16ps<U, 4, 5>();
  };
  if (n > 0) one.template operator()<0>();
  if (n > 1) one.template operator()<1>();
  if (n > 2) one.template operator()<2>();
  if (n > 3) one.template operator()<3>();
}

// C tiles [0, n) zeroed, loaded from (u) or stored to (u), rows `stride` bytes apart.
inline void zero_tiles(int n) {
  if (n > 0) amx::zero<0>();
  if (n > 1) amx::zero<1>();
  if (n > 2) amx::zero<2>();
  if (n > 3) amx::zero<3>();
}
template <class P>
inline void load_tiles(int n, P p, size_t stride) {
  if (n > 0) amx::load<0>(p(0), stride);
  if (n > 1) amx::load<1>(p(1), stride);
  if (n > 2) amx::load<2>(p(2), stride);
  if (n > 3) amx::load<3>(p(3), stride);
}
template <class P>
inline void store_tiles(int n, P p, size_t stride) {
  if (n > 0) amx::store<0>(p(0), stride);
  if (n > 1) amx::store<1>(p(1), stride);
  if (n > 2) amx::store<2>(p(2), stride);
  if (n > 3) amx::store<3>(p(3), stride);
}

// Rows [i0, i0 + rows) (rows <= 16) against the widened block w (F16 keys).
template <class V>
void amx_rows(const uma::kernels::attn_block_args& a, const bf16_block& w, int64_t i0, int rows) {
  int64_t klo = a.nk, khi = 0;
  for (int r = 0; r < rows; ++r)
    if (a.hi[i0 + r] > a.lo[i0 + r])
      klo = std::min<int64_t>(klo, a.lo[i0 + r]), khi = std::max<int64_t>(khi, a.hi[i0 + r]);
  if (khi <= klo) return;
  const int64_t d = a.d, dv = a.dv;
  // The group's queries: straight from the copy when 16 rows, else zero-padded.
  thread_local std::vector<uint16_t> qpad;
  const uint16_t* q = w.qb + i0 * d;
  if (rows < 16) {
    qpad.assign(static_cast<size_t>(16 * d), 0);
    std::copy(q, q + rows * d, qpad.begin());
    q = qpad.data();
  }
  // Scores of the key tiles [u0, u1) (16 keys each).
  alignas(64) float s[16 * 64];
  const int64_t u0 = klo / 16, u1 = (khi + 15) / 16;
  const int nu = static_cast<int>(u1 - u0);
  zero_tiles(nu);
  for (int64_t kc = 0; kc < d; kc += 32) {
    amx::load<4>(q + kc, static_cast<size_t>(d * 2));
    dp_tiles(
        nu, [&](int u) { return w.kb + (u0 + u) * 16 * d + kc * 16; }, 64);
  }
  store_tiles(
      nu, [&](int u) { return s + (u0 + u) * 16; }, 64 * sizeof(float));
  // Weights, zero outside each row's pairs and in the padding rows.
  alignas(64) uint16_t pb[16 * 64] = {};
  float corr[16];
  const int64_t t0 = klo / 2, t1 = (khi + 1) / 2;
  bf16_weights<V>(a, i0, rows, s, pb, corr, t0, t1);
  // The outputs times their factors, 16 rows (the padding ones zero).
  thread_local std::vector<float> o16;
  o16.assign(static_cast<size_t>(16 * dv), 0.f);
  for (int r = 0; r < rows; ++r) {
    const float* o = a.o + (i0 + r) * a.ldo;
    for (int64_t e = 0; e < dv; e += 16)
      _mm512_storeu_ps(o16.data() + r * dv + e,
                       _mm512_mul_ps(_mm512_loadu_ps(o + e), _mm512_set1_ps(corr[r])));
  }
  // The 32-key chunks that hold the pairs [t0, t1).
  const int64_t k0 = 2 * t0 / 32 * 32, k1 = (2 * t1 + 31) / 32 * 32;
  const auto ostride = static_cast<size_t>(dv * sizeof(float));
  for (int64_t e0 = 0; e0 < dv; e0 += 64) {
    const int nt = static_cast<int>(std::min<int64_t>(4, (dv - e0) / 16));
    float* oe = o16.data() + e0;
    load_tiles(
        nt, [&](int u) { return oe + u * 16; }, ostride);
    for (int64_t kc = k0; kc < k1; kc += 32) {
      amx::load<4>(pb + kc, 64 * sizeof(uint16_t));
      dp_tiles(
          nt, [&](int u) { return w.vb + (kc / 2 * dv + e0 + u * 16) * 2; },
          static_cast<size_t>(dv * 4));
    }
    store_tiles(
        nt, [&](int u) { return oe + u * 16; }, ostride);
  }
  for (int r = 0; r < rows; ++r)
    std::copy(o16.data() + r * dv, o16.data() + (r + 1) * dv, a.o + (i0 + r) * a.ldo);
}

// The block (F16 keys, more than 8 rows, d % 32 == 0, dv % 16 == 0, at most 64 keys) on the
// tiles: the bf16 copy (value pairs zero-filled to whole 32-key chunks), then the rows in groups
// of 16.
template <class V>
void amx_attention(const uma::kernels::attn_block_args& a, int64_t khi, bool spread) {
  const bf16_block w = widen_bf16(
      a, kv_rows<V, kv_src::half>{static_cast<const uint16_t*>(a.v), a.ldv},
      key_tiles<kv_src::half>{static_cast<const uint16_t*>(a.k), uma::kernels::kv_key_tile * a.ldk},
      khi, spread, (khi + 31) / 32 * 16);
  attn_tile_config();
  for (int64_t i0 = 0; i0 < a.m; i0 += 16)
    amx_rows<V>(a, w, i0, static_cast<int>(std::min<int64_t>(16, a.m - i0)));
  amx::release();
}
