// The amx backend's bf16 whole product (included by matmul_amx.cpp inside its anonymous
// namespace, after the int8 kinds, whose unpack steps it reuses).
//
// Why: the int8 tiles give an exact int32 per 32-element block, and each block's 16 x 16 sums
// must leave the tile unit to be scaled by d_w * d_a (a tile store, 16 loads, 48 AVX-512 ops per
// 8192 products): measured on a 16-core Xeon with AMX (docs/performance.md 2026-12-04 15:40) that
// path reached 1.07-1.37x the AVX-512 VNNI gemm on one core and 0.7x on 16, 5-7 % of the tile
// peak. This one: 1.5x the int8 tiles and 1.9x VNNI on one core (prefill_seq Q4_0, n = 512),
// 1.2-1.3x VNNI on 16; its tile loop is 80 % of its cycles and runs at about a third of the
// TDPBF16PS probe peak (4 tile loads from L2 per 4 products), the next thing to improve (K
// chunks and L1 prefetch are there to try: bf16_loop_params below).
// Here the weights are dequantized once per task (scale, offset and min applied in fp32,
// rounded once to bf16) and the activations rounded to bf16 once per call, so TDPBF16PS
// accumulates whole rows in the C tiles with no per-block work: the K loop is 4 tile loads and 4
// tile products.
//
// Layout (all tiles 16 rows x 64 bytes):
//   A (tmm4, tmm5): 16 weight rows x 32 bf16 of one 32-element K step; a task's 32 rows are
//     dequantized into two such strips of cols / 32 tiles (1 KB each).
//   B (tmm6, tmm7): 16 activation rows of one K step in pair order: line p holds, for each row j,
//     elements 2p and 2p + 1 (one dword), made by one 16 x 16 dword transpose per 16 x 32 values.
//   C (tmm0..3): 2 x 2 tiles of 16 weight rows x 16 activation rows, fp32; stored once per task
//     and activation pair, transposed back into y's (activation row, output row) order.

// 16 x 16 dwords in place: r[i] lane j <- r[j] lane i.
inline void transpose16_epi32(__m512i r[16]) {
  __m512i t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
  }
  __m512i u[16];  // u[4q + c], 128-bit lane L: element 4L + c of rows 4q..4q+3
  for (int q = 0; q < 4; ++q) {
    u[4 * q + 0] = _mm512_unpacklo_epi64(t[4 * q], t[4 * q + 2]);
    u[4 * q + 1] = _mm512_unpackhi_epi64(t[4 * q], t[4 * q + 2]);
    u[4 * q + 2] = _mm512_unpacklo_epi64(t[4 * q + 1], t[4 * q + 3]);
    u[4 * q + 3] = _mm512_unpackhi_epi64(t[4 * q + 1], t[4 * q + 3]);
  }
  for (int c = 0; c < 4; ++c) {  // lanes L of u[c], u[4 + c], u[8 + c], u[12 + c] -> row 4L + c
    const __m512i v0 = _mm512_shuffle_i32x4(u[c], u[4 + c], 0x44);
    const __m512i v1 = _mm512_shuffle_i32x4(u[c], u[4 + c], 0xEE);
    const __m512i v2 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0x44);
    const __m512i v3 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0xEE);
    r[c] = _mm512_shuffle_i32x4(v0, v2, 0x88);
    r[4 + c] = _mm512_shuffle_i32x4(v0, v2, 0xDD);
    r[8 + c] = _mm512_shuffle_i32x4(v1, v3, 0x88);
    r[12 + c] = _mm512_shuffle_i32x4(v1, v3, 0xDD);
  }
}

// 32 fp32 values (lo: elements 0..15, hi: 16..31) rounded to bf16 (nearest even) in order.
inline __m512i to_bf16x32(__m512 lo, __m512 hi) {
  return std::bit_cast<__m512i>(_mm512_cvtne2ps_pbh(hi, lo));
}

// Activation rows [j0, j0 + 16) of x (rows past n are zero) as B tiles, one per K step.
inline void bf16_panel(const float* x, int64_t n, int64_t cols, int64_t j0, uint8_t* out) {
  for (int64_t ks = 0; ks < cols / 32; ++ks) {
    __m512i r[16];
    for (int j = 0; j < 16; ++j) {
      if (j0 + j >= n) {
        r[j] = _mm512_setzero_si512();
        continue;
      }
      const float* p = x + (j0 + j) * cols + ks * 32;
      r[j] = to_bf16x32(_mm512_loadu_ps(p), _mm512_loadu_ps(p + 16));
    }
    transpose16_epi32(r);
    for (int p = 0; p < 16; ++p) _mm512_store_si512(out + ks * 1024 + p * 64, r[p]);
  }
}

// Per-kind dequantization of a task's 16 unpacked rows (the int8 kinds' unpack output) to an A
// strip: out[ks][m][32] bf16.
template <class F>
void legacy_to_bf16(const uint8_t* q, const float* d, int64_t nb, uint8_t* out) {
  const __m512 off = _mm512_set1_ps(static_cast<float>(F::offset));
  for (int64_t b = 0; b < nb; ++b)
    for (int m = 0; m < 16; ++m) {
      const uint8_t* src = q + (b * 16 + m) * 32;
      const __m128i b0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src));
      const __m128i b1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 16));
      const __m512i i0 = F::is_signed ? _mm512_cvtepi8_epi32(b0) : _mm512_cvtepu8_epi32(b0);
      const __m512i i1 = F::is_signed ? _mm512_cvtepi8_epi32(b1) : _mm512_cvtepu8_epi32(b1);
      const __m512 dv = _mm512_set1_ps(d[b * 16 + m]);
      const __m512 w0 = _mm512_mul_ps(_mm512_sub_ps(_mm512_cvtepi32_ps(i0), off), dv);
      const __m512 w1 = _mm512_mul_ps(_mm512_sub_ps(_mm512_cvtepi32_ps(i1), off), dv);
      _mm512_store_si512(out + (b * 16 + m) * 64, to_bf16x32(w0, w1));
    }
}

// Q4_K: q[(b * 8 + s) * 16 + m][32] values 0..15, w = (d * scale) * q - dmin * min.
inline void q4k_to_bf16(const uint8_t* q, const float* wf, int64_t nb, uint8_t* out) {
  const float* minv = wf + nb * 16 * 8;
  for (int64_t b = 0; b < nb; ++b)
    for (int s = 0; s < 8; ++s)
      for (int m = 0; m < 16; ++m) {
        const uint8_t* src = q + ((b * 8 + s) * 16 + m) * 32;
        const __m512 sc = _mm512_set1_ps(wf[(b * 16 + m) * 8 + s]);
        const __m512 mn = _mm512_set1_ps(minv[(b * 16 + m) * 8 + s]);
        const __m512 q0 = _mm512_cvtepi32_ps(
            _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src))));
        const __m512 q1 = _mm512_cvtepi32_ps(
            _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 16))));
        _mm512_store_si512(out + ((b * 8 + s) * 16 + m) * 64,
                           to_bf16x32(_mm512_fmsub_ps(q0, sc, mn), _mm512_fmsub_ps(q1, sc, mn)));
      }
}

// Q6_K: q[((b * 16 + s) * 16 + m)][16] values 0..63, w = (d * scale) * (q - 32); two 16-element
// sub-blocks per K step.
inline void q6k_to_bf16(const uint8_t* q, const float* wsc, int64_t nb, uint8_t* out) {
  const __m512 off = _mm512_set1_ps(32.f);
  for (int64_t b = 0; b < nb; ++b)
    for (int s = 0; s < 16; s += 2)
      for (int m = 0; m < 16; ++m) {
        __m512 w[2];
        for (int h = 0; h < 2; ++h) {
          const uint8_t* src = q + ((b * 16 + s + h) * 16 + m) * 16;
          const __m512 v = _mm512_cvtepi32_ps(
              _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src))));
          w[h] =
              _mm512_mul_ps(_mm512_sub_ps(v, off), _mm512_set1_ps(wsc[(b * 16 + m) * 16 + s + h]));
        }
        _mm512_store_si512(out + ((b * 8 + s / 2) * 16 + m) * 64, to_bf16x32(w[0], w[1]));
      }
}

// A C tile (16 weight rows x 16 activation rows, fp32, as stored) into y: activation rows
// [j0, j0 + nj), output rows [r0, r0 + mr).
inline void store_c_tile(const float* c, float* y, int64_t ldy, int64_t j0, int nj, int64_t r0,
                         int mr) {
  __m512i r[16];
  for (int m = 0; m < 16; ++m) r[m] = _mm512_load_si512(c + 16 * m);
  transpose16_epi32(r);  // r[j]: the 16 rows' values for activation row j
  const __mmask16 keep = static_cast<__mmask16>((1u << mr) - 1);
  for (int j = 0; j < nj; ++j)
    _mm512_mask_storeu_ps(y + (j0 + j) * ldy + r0, keep, _mm512_castsi512_ps(r[j]));
}

#if !defined(UMA_AMX_BF16_ROW_PAIRS)
#define UMA_AMX_BF16_ROW_PAIRS 1
#endif
// Weight rows per task, in pairs of A tiles: each activation pair's B tiles are reused by every
// pair (from L2 after the first), so more pairs read the shared activation panels less often.
// Measured 2 against 1 (16-core Xeon, prefill_seq n = 512): one thread 1497 / 1484 ms against
// 1270 / 1393 (Q4_0 / Q4_K), 16 threads 142 / 148 against 135 / 147: 1 stays.
constexpr int bf16_row_pairs = UMA_AMX_BF16_ROW_PAIRS;

#if defined(UMA_AMX_PROFILE)
// Diagnostic builds only (-DUMA_AMX_PROFILE): cycles per phase of the bf16 product, summed over
// threads and printed at exit.
struct amx_phase_totals {
  std::atomic<uint64_t> c[5] = {};
  ~amx_phase_totals() {
    static const char* names[] = {"panels", "unpack", "to_bf16", "tiles", "store_c"};
    for (int i = 0; i < 5; ++i)
      std::fprintf(stderr, "amx bf16 %-8s %14llu cycles\n", names[i],
                   static_cast<unsigned long long>(c[i].load()));
  }
};
inline amx_phase_totals phase_totals;
#define UMA_PHASE_START() const uint64_t phase_t0 = __rdtsc()
#define UMA_PHASE_ADD(i) phase_totals.c[i] += __rdtsc() - phase_t0
#else
#define UMA_PHASE_START() (void)0
#define UMA_PHASE_ADD(i) (void)0
#endif

// The tile loop's K blocking and prefetch. kc: K steps per chunk (0 = the whole K): the task's
// two A strips of a chunk (2 x kc KB) stay in L1 while every activation pair sweeps it, the C
// tiles stored to a per-thread buffer between chunks. pf: K steps ahead whose A and B tiles are
// requested into L1 (prefetcht0, 0 = none). UMA_AMX_BF16_KC / UMA_AMX_BF16_PF override them
// (read once; for measuring on AMX machines). Measured on a busy 16-core Xeon host
// (docs/performance.md 2026-12-04 17:55): 16-step chunks looked 10-40 % faster on 1-2 threads
// and 10-25 % slower on 16, the prefetch within the noise; too noisy to move the default (0, 0).
struct bf16_loop_params {
  int64_t kc, pf;
};
inline bf16_loop_params bf16_loop() {
  static const bf16_loop_params p{uma::env_count("UMA_AMX_BF16_KC", 0, 1 << 16),
                                  uma::env_count("UMA_AMX_BF16_PF", 0, 1 << 16)};
  return p;
}

// The 16 lines of each of the four tiles of K step ks requested into L1.
inline void prefetch_k_step(const uint8_t* a0, const uint8_t* a1, const uint8_t* b0,
                            const uint8_t* b1, size_t o) {
  for (int l = 0; l < 16; ++l) {
    _mm_prefetch(reinterpret_cast<const char*>(a0 + o + 64 * l), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(a1 + o + 64 * l), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(b0 + o + 64 * l), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(b1 + o + 64 * l), _MM_HINT_T0);
  }
}

template <class K>
void amx_bf16_matmul(const uma::kernels::matrix_view& w, const float* x, int64_t n, float* y,
                     uma::thread_pool* pool) {
  constexpr size_t tile_bytes = 1024;
  constexpr int strips = 2 * bf16_row_pairs, task_rows = 16 * strips;
  const int64_t nb = w.cols / K::block_elems, ksteps = w.cols / 32;
  const int64_t pairs = (n + 31) / 32;  // activation tasks of two B tiles
  const size_t panel_bytes = static_cast<size_t>(ksteps) * tile_bytes;
  const bf16_loop_params lp = bf16_loop();
  const int64_t kc = lp.kc > 0 ? std::min(lp.kc, ksteps) : ksteps;
  thread_local uma::aligned_vector<uint8_t> panel_buf;
  panel_buf.resize(static_cast<size_t>(2 * pairs) * panel_bytes);
  uint8_t* panels = panel_buf.data();
  {
    UMA_PHASE_START();
    const auto make_panel = [&](int64_t g) {
      bf16_panel(x, n, w.cols, g * 16, panels + static_cast<size_t>(g) * panel_bytes);
    };
    if (pool != nullptr && pool->size() > 1 && pairs > 1)
      pool->parallel_for(2 * pairs, 1, [&](int, int64_t a, int64_t e) {
        for (int64_t g = a; g < e; ++g) make_panel(g);
      });
    else
      for (int64_t g = 0; g < 2 * pairs; ++g) make_panel(g);
    UMA_PHASE_ADD(0);
  }

  const int64_t n_tasks = (w.rows + task_rows - 1) / task_rows;
  const auto* wbytes = static_cast<const uint8_t*>(w.data);
  std::atomic<int64_t> next{0};
  auto work = [&](int, int) {
    const auto [wq, wf] = task_buffers<K>(nb);
    thread_local uma::aligned_vector<uint8_t> abuf;
    abuf.resize(strips * panel_bytes);
    amx::tile_config cfg;
    for (int t = 0; t < 8; ++t) cfg.rows[t] = 16, cfg.colsb[t] = 64;
    amx::config(cfg);
    alignas(64) float c[4][256];
    thread_local uma::aligned_vector<float> cbuf;  // C tiles held between K chunks
    if (kc < ksteps) cbuf.resize(static_cast<size_t>(pairs * bf16_row_pairs) * 4 * 256);
    for (int64_t t = next.fetch_add(1, std::memory_order_relaxed); t < n_tasks;
         t = next.fetch_add(1, std::memory_order_relaxed)) {
      const int64_t r0 = t * task_rows;
      for (int h = 0; h < strips; ++h) {
        uint8_t* strip = abuf.data() + h * panel_bytes;
        if (r0 + 16 * h >= w.rows) {
          std::memset(strip, 0, panel_bytes);
          continue;
        }
        {
          UMA_PHASE_START();
          K::unpack(wbytes, w.row_bytes, r0 + 16 * h, w.rows, nb, wq, wf);
          UMA_PHASE_ADD(1);
        }
        UMA_PHASE_START();
        K::to_bf16(wq, wf, nb, strip);
        UMA_PHASE_ADD(2);
      }
      for (int64_t k0 = 0; k0 < ksteps; k0 += kc) {
        const int64_t k1 = std::min(ksteps, k0 + kc);
        for (int64_t p = 0; p < pairs; ++p) {
          const uint8_t* b0 = panels + static_cast<size_t>(2 * p) * panel_bytes;
          const uint8_t* b1 = b0 + panel_bytes;
          for (int hp = 0; hp < bf16_row_pairs; ++hp) {
            const int64_t rp = r0 + 32 * hp;
            if (rp >= w.rows) break;
            const uint8_t* a0 = abuf.data() + 2 * hp * panel_bytes;
            const uint8_t* a1 = a0 + panel_bytes;
            float* held = kc < ksteps
                              ? cbuf.data() + static_cast<size_t>(p * bf16_row_pairs + hp) * 1024
                              : nullptr;
            UMA_PHASE_START();
            if (k0 == 0) {
              amx::zero<0>();
              amx::zero<1>();
              amx::zero<2>();
              amx::zero<3>();
            } else {
              amx::load<0>(held, 64);
              amx::load<1>(held + 256, 64);
              amx::load<2>(held + 512, 64);
              amx::load<3>(held + 768, 64);
            }
            for (int64_t ks = k0; ks < k1; ++ks) {
              const size_t o = static_cast<size_t>(ks) * tile_bytes;
              if (lp.pf > 0 && ks + lp.pf < ksteps)
                prefetch_k_step(a0, a1, b0, b1, o + static_cast<size_t>(lp.pf) * tile_bytes);
              amx::load<4>(a0 + o, 64);
              amx::load<6>(b0 + o, 64);
              amx::dpbf16ps<0, 4, 6>();
              amx::load<7>(b1 + o, 64);
              amx::dpbf16ps<1, 4, 7>();
              amx::load<5>(a1 + o, 64);
              amx::dpbf16ps<2, 5, 6>();
              amx::dpbf16ps<3, 5, 7>();
            }
            float* out = k1 == ksteps ? c[0] : held;
            amx::store<0>(out, 64);
            amx::store<1>(out + 256, 64);
            amx::store<2>(out + 512, 64);
            amx::store<3>(out + 768, 64);
            UMA_PHASE_ADD(3);
            if (k1 < ksteps) continue;
            UMA_PHASE_START();
            for (int q = 0; q < 4; ++q) {
              const int64_t j0 = 32 * p + 16 * (q & 1), rr = rp + 16 * (q >> 1);
              if (j0 >= n || rr >= w.rows) continue;
              store_c_tile(c[q], y, w.rows, j0, static_cast<int>(std::min<int64_t>(16, n - j0)), rr,
                           static_cast<int>(std::min<int64_t>(16, w.rows - rr)));
            }
            UMA_PHASE_ADD(4);
          }
        }
      }
    }
    amx::release();
  };
  if (pool != nullptr && pool->size() > 1)
    pool->run_on_all(work);
  else
    work(0, 1);
}
