// matmul dispatch: picks the backend for this CPU, converts the activation rows once per call
// (to Q8_0 / Q8_1 / Q8_K / F16 / BF16 as the weight type needs), then splits the output rows (and,
// for n > 1, tiles of activation rows) over the thread pool with an atomic work counter.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

#include "kernels/backend.h"
#include "kernels/matmul.h"
#include "tensor/blocks.h"
#include "util/aligned.h"
#include "util/cpu_features.h"
#include "util/stealing_runs.h"
#include "util/thread_pool.h"

namespace uma::kernels {

namespace {

// 64-byte aligned per-thread scratch, reused across calls; one buffer per Tag: converted
// activations, a gemm kernel's layout of them, rows interleaved on the fly, and those groups'
// operands unpacked once (matmul_backend::x16_expand).
enum class scratch_tag { act, prep, x16, x16_expanded };
template <scratch_tag Tag>
uint8_t* scratch(size_t bytes) {
  thread_local aligned_vector<uint8_t> buf;
  if (buf.size() < bytes + 64) buf.resize(bytes + 64);  // never empty: data() is never null
  return buf.data();
}

// From this many activation rows on (matmul_backend::x16_min_n), prefill of a rows-layout
// matrix interleaves on the fly. Below it (batched decode of a few sequences) the rows-layout
// gemm tiles run over decode's pieces (run_matvecs). Measured on decode's matmul sequence
// (bench_matmul decode_seq, qwen3-0.6b Q4_0 from DRAM, steps/s), when interleaved blocks came
// from a shared counter: 8 rows 37-39 pieces, 29-30 in 32-row tasks, 23-24 interleaved; 16 rows
// 18-20 either way; 24 rows 13-14 pieces, 17 interleaved. With per-thread runs and the next
// block prefetched (prefill_seq, GOPS, rows tiles / interleaved): AVX-512 Q4_K n 4 287 / 380,
// n 8 263-344 / 516-557; Q4_0 n 4 403-415 / 353, n 8 438-449 / 424-467, n 12 420-433 / 621;
// AVX-VNNI n 8 Q4_0 333 / 359, Q8_0 184 / 275, Q4_K 254 / 354; AVX2 mixed (kept at 16).
int64_t x16_min_n(const matmul_backend& be, dtype t) {
  const auto ti = static_cast<size_t>(t);
  const int64_t v = ti < max_dtype_id ? be.x16_min_n[ti] : 0;
  return v > 0 ? v : x16_min_n_default;
}

// Runs task(i) for i in [0, n_tasks) over the pool: thread t starts at task t, then takes the next
// free one from a shared counter (dynamic balance when another process steals a core).
template <class F>
void run_tasks(thread_pool* pool, int64_t n_tasks, const F& task) {
  const int nt = pool != nullptr ? static_cast<int>(std::min<int64_t>(pool->size(), n_tasks)) : 1;
  if (nt <= 1) {
    for (int64_t i = 0; i < n_tasks; ++i) task(i);
    return;
  }
  std::atomic<int64_t> next{nt};
  pool->run_on_all([&](int t, int) {
    if (t >= nt) return;
    for (int64_t i = t; i < n_tasks; i = next.fetch_add(1, std::memory_order_relaxed)) task(i);
  });
}

// Runs block(i) for i in [0, n) over the pool for row blocks whose weights stream from memory
// (prefill and batched decode): each thread owns a run of blocks front to back (stealing_runs, as
// decode's pieces), so it knows the block it takes next and calls prefetch(next) before working
// on the current one. (From a shared counter the threads' blocks alternated and each began with
// a cold read: batched decode of 8-32 rows is short of compute per weight byte to hide it.)
template <class P, class B>
void run_blocks(thread_pool* pool, int64_t n, const P& prefetch, const B& block) {
  const int nt = pool != nullptr ? static_cast<int>(std::min<int64_t>(pool->size(), n)) : 1;
  if (nt <= 1) {
    for (int64_t i = 0; i < n; ++i) {
      if (i + 1 < n) prefetch(i + 1);
      block(i);
    }
    return;
  }
  thread_local std::vector<int64_t> starts;
  starts.resize(static_cast<size_t>(nt) + 1);
  for (int t = 0; t <= nt; ++t) starts[static_cast<size_t>(t)] = n * t / nt;
  thread_local stealing_runs runs_tl;  // the caller's; the workers reach it through `runs`
  stealing_runs& runs = runs_tl;
  runs.reset(starts);
  // run_shared: the caller alone would take every run (stealing_runs), so a late worker can be
  // left out.
  pool->run_shared([&](int t, int) {
    if (t >= nt) return;
    int64_t lo = 0, hi = 0, next_lo = 0, next_hi = 0;
    bool more = runs.claim(static_cast<size_t>(t), &lo, &hi);
    while (more) {
      for (int64_t i = lo; i < hi; ++i) {
        if (i + 1 < hi) {
          prefetch(i + 1);
        } else {
          more = runs.claim(static_cast<size_t>(t), &next_lo, &next_hi);
          if (more) prefetch(next_lo);
        }
        block(i);
      }
      lo = next_lo, hi = next_hi;
    }
  });
}

// Requests [p, p + bytes) towards L2.
inline void prefetch_bytes(const void* p, size_t bytes) {
  const auto* c = static_cast<const char*>(p);
  for (size_t off = 0; off < bytes; off += 64) __builtin_prefetch(c + off, 0, 2);
}

}  // namespace

namespace {

// The kernels a backend runs for `w` (its layout's, else the scalar reference's: tiles of an x16
// matrix start at multiples of 16 rows, and every chunk size below is a multiple of 16).
struct kernel_choice {
  gemm_fn matvec = nullptr, gemm = nullptr;
  gemm_prep_fn gemm_prep = nullptr;
  big_gemm_fn big = nullptr, big_bf16 = nullptr;
  act_format af = act_format::f32;
  act_convert_fn convert = nullptr;
};

kernel_choice choose(const matmul_backend& be, const matrix_view& w) {
  kernel_choice k;
  const auto ti = static_cast<size_t>(w.type);
  if (ti >= max_dtype_id) return k;
  const matmul_backend& sc = scalar_backend();
  const bool x16 = w.layout == weight_layout::x16;
  const auto& be_mv = x16 ? be.matvec_x16 : be.matvec;
  const auto& be_gm = x16 ? be.gemm_x16 : be.gemm;
  k.matvec = be_mv[ti] != nullptr ? be_mv[ti] : (x16 ? sc.matvec_x16 : sc.matvec)[ti];
  k.gemm = be_mv[ti] != nullptr ? be_gm[ti] : (x16 ? sc.gemm_x16 : sc.gemm)[ti];
  if (!x16 && be_mv[ti] != nullptr) k.gemm_prep = be.gemm_prep[ti];
  k.big = (x16 ? be.big_gemm_x16 : be.big_gemm)[ti];
  k.big_bf16 = (x16 ? be.big_gemm_bf16_x16 : be.big_gemm_bf16)[ti];
  k.af = act_format_for(w.type);
  const auto afi = static_cast<size_t>(k.af);
  k.convert = be.convert[afi] != nullptr ? be.convert[afi] : sc.convert[afi];
  return k;
}

// The bf16 tile engine takes the product (from big_gemm_bf16_min_n rows on).
bool bf16_product(const matmul_backend& be, const kernel_choice& k, int64_t n) {
  return k.big_bf16 != nullptr && be.big_gemm_bf16_min_n > 0 && n >= be.big_gemm_bf16_min_n;
}

// The whole-product engine matmul_on hands the product to, or null.
big_gemm_fn whole_product(const matmul_backend& be, const kernel_choice& k, int64_t n) {
  if (bf16_product(be, k, n)) return k.big_bf16;
  if (k.big != nullptr && n >= be.big_gemm_min_n) return k.big;
  return nullptr;
}

// row(j) for every activation row j in [0, n). From 16 rows on (prefill), one contiguous chunk per
// thread: the chunks the model's per-token passes (norms, SiLU) give each thread, so a thread
// converts rows it has just written, from its own cache. With the rows taken from a shared
// counter, `convert_q8_k` was 3.9-4.0 % of a qwen3-0.6b Q4_K_M pp512 profile, with these chunks
// 2.2-2.3 % (docs/performance.md). Small batches keep the counter.
template <class F>
void for_rows(thread_pool* pool, int64_t n, const F& row) {
  if (n >= 16 && pool != nullptr)
    pool->parallel_for(n, 1, [&](int, int64_t a, int64_t e) {
      for (int64_t j = a; j < e; ++j) row(j);
    });
  else if (n >= 8 && pool != nullptr)
    run_tasks(pool, n, row);
  else
    for (int64_t j = 0; j < n; ++j) row(j);
}

// The n activation rows converted to the format (x itself for f32), in per-thread scratch.
const uint8_t* convert_rows(const kernel_choice& k, const float* x, int64_t n, int64_t cols,
                            thread_pool* pool) {
  if (k.af == act_format::f32) return reinterpret_cast<const uint8_t*>(x);
  const size_t arb = act_row_bytes(k.af, cols);
  uint8_t* buf = scratch<scratch_tag::act>(arb * static_cast<size_t>(n));
  for_rows(pool, n, [&](int64_t j) { k.convert(x + j * cols, buf + j * arb, cols); });
  return buf;
}

// The converted rows in the kernels' own layout (kernel_choice::gemm_prep), once per call for all
// tasks; null (and *row_bytes untouched) where the kernels read the converted rows directly.
const uint8_t* prepare_rows(const kernel_choice& k, const uint8_t* a, size_t arb, int64_t n,
                            int64_t cols, thread_pool* pool, size_t* row_bytes) {
  if (k.gemm_prep == nullptr) return nullptr;
  const size_t prb = k.gemm_prep(a, cols, nullptr);
  uint8_t* buf = scratch<scratch_tag::prep>(prb * static_cast<size_t>(n));
  for_rows(pool, n, [&](int64_t j) {
    k.gemm_prep(a + static_cast<size_t>(j) * arb, cols, buf + static_cast<size_t>(j) * prb);
  });
  *row_bytes = prb;
  return buf;
}

// Decode pieces: whole 16-row tiles of about decode_piece bytes. Each thread owns one contiguous
// run of them (an equal share of the call's bytes, all its matrices) and takes it front to back,
// half of what is left at a time, so it reads one long stream; a thread whose run is done takes
// from the back of the fullest other run (stealing_runs), so a core the host took away is
// covered. The older guided pieces (each 1 / (2 nt) of the bytes left, taken in turns from one
// counter) ended every call in 32 KB pieces the two threads read side by side. On the Zen 5 VM a
// bare read of qwen3-0.6b's decode matrices ran at 43-59 GB/s in alternating 32 KB pieces and at
// 71-77 in one half per thread; decode's matmul sequence gained 6-9 % in every in-process A/B
// pair, Q4_0 / Q8_0 / Q4_K (docs/performance.md, 2026-12-04). 16 KB or 64 KB pieces: the same.
constexpr size_t decode_piece = 32 << 10;

}  // namespace

int64_t decode_piece_rows(size_t row_bytes) {
  const size_t per = decode_piece / std::max<size_t>(row_bytes, 1) / 16;
  return 16 * std::max<int64_t>(1, static_cast<int64_t>(per));
}

share_point decode_share_start(std::span<const matrix_view> ws, int t, int nt) {
  size_t total = 0;
  for (const matrix_view& w : ws)
    total += static_cast<size_t>(std::max<int64_t>(w.rows, 0)) * w.row_bytes;
  const size_t at = nt > 0 ? total / static_cast<size_t>(nt) * static_cast<size_t>(t) : 0;
  size_t before = 0;
  for (size_t m = 0; m < ws.size(); ++m) {
    const matrix_view& w = ws[m];
    if (w.rows <= 0) continue;
    const size_t bytes = static_cast<size_t>(w.rows) * w.row_bytes;
    if (before + bytes > at) {  // at lies in this matrix, or before it
      const auto per = static_cast<size_t>(decode_piece_rows(w.row_bytes));
      const size_t into = at > before ? at - before : 0, piece = per * w.row_bytes;
      const auto r = static_cast<int64_t>((into + piece - 1) / piece * per);
      if (r < w.rows) return {m, r};
    }
    before += bytes;
  }
  return {ws.size(), 0};
}

namespace {

// How much of its next share a worker warms after a decode call (thread_pool::warm_after_job):
// more than it streams while the caller runs the glue between two matmuls (a few microseconds),
// well inside L2; the warm stops when the next call starts. In-process A/B with the attention's
// K/V prefetch (model/blocks.cpp), qwen3-0.6b decode: Q4_0 +4 %, Q4_K_M +2 % (docs/performance.md
// 2026-12-04 10:25).
constexpr size_t warm_bytes = 256 << 10;

// Thread t's share of a call's pieces, from decode_share_start: the first warm_bytes of it (on
// into the following matrices) to warm_after_job.
void warm_share(std::span<const matrix_view> ws, int t, int nt, thread_pool* pool) {
  const share_point at = decode_share_start(ws, t, nt);
  size_t left = warm_bytes;
  for (size_t m = at.matrix; m < ws.size() && left > 0; ++m) {
    const matrix_view& w = ws[m];
    if (w.rows <= 0) continue;
    const int64_t r = m == at.matrix ? at.row : 0;
    const size_t from = static_cast<size_t>(r) * w.row_bytes;
    const size_t n = std::min(left, static_cast<size_t>(w.rows) * w.row_bytes - from);
    pool->warm_after_job(static_cast<const uint8_t*>(w.data) + from, n);
    left -= n;
  }
}

// Decode (and any n without a gemm kernel): every matrix's output rows in pieces, all pieces one
// task list on the pool (one hand-off and one wait however many matrices), `matvec` over each
// claimed stretch of pieces (one call per matrix in it) for the n converted activation rows at `a`.
// A worker that finishes its share warms the start of its share of `then` (the next call).
// Pieces are numbered matrix by matrix and found from a small per-matrix table, not listed: the
// caller writes a few cache lines per call that the workers read, where a list of every piece
// (1-2 KB) cost each call ~2000 cycles of taking its lines back from the other core
// (docs/performance.md, 2026-12-05 19:15).
// With `groups` (matmul_grouped) matrix m takes the groups[m].count activation rows from
// groups[m].first on, through `matvec` for one row and `many` for more (n is then unused).
void run_matvecs(gemm_fn matvec, std::span<const matrix_view> ws, std::span<float* const> ys,
                 const uint8_t* a, size_t a_row_bytes, const uint8_t* prep, size_t prep_row_bytes,
                 int64_t n, thread_pool* pool, std::span<const matrix_view> then,
                 const matmul_rows* groups = nullptr, gemm_fn many = nullptr) {
  // first[m]: matrix m's first piece (first[ws.size()]: the count); per[m]: its rows per piece.
  thread_local std::vector<int64_t> first_tl, per_tl;  // the caller's; workers reach them by ref
  std::vector<int64_t>& first = first_tl;
  std::vector<int64_t>& per = per_tl;
  first.resize(ws.size() + 1);
  per.resize(ws.size());
  first[0] = 0;
  for (size_t m = 0; m < ws.size(); ++m) {
    per[m] = decode_piece_rows(ws[m].row_bytes);
    const int64_t rows = std::max<int64_t>(ws[m].rows, 0);
    first[m + 1] = first[m] + (rows + per[m] - 1) / per[m];
  }
  const int64_t count = first[ws.size()];
  const int nt = pool != nullptr ? static_cast<int>(std::min<int64_t>(pool->size(), count)) : 1;
  const auto run_span = [&](int64_t lo, int64_t hi) {
    size_t m = 0;
    while (lo < hi) {
      while (first[m + 1] <= lo) ++m;
      const int64_t end = std::min(hi, first[m + 1]);  // this matrix's pieces in [lo, hi)
      const matrix_view& w = ws[m];
      const int64_t r0 = (lo - first[m]) * per[m];
      const int64_t r1 = std::min(w.rows, (end - first[m]) * per[m]);
      const size_t row = groups != nullptr ? static_cast<size_t>(groups[m].first) : 0;
      const int64_t rows_n = groups != nullptr ? groups[m].count : n;
      gemm_args g;
      g.w = static_cast<const uint8_t*>(w.data) + static_cast<size_t>(r0) * w.row_bytes;
      g.w_row_bytes = w.row_bytes;
      g.rows = r1 - r0;
      g.cols = w.cols;
      g.a = a + row * a_row_bytes;
      g.a_row_bytes = a_row_bytes;
      g.n = rows_n;
      g.y = ys[m] + r0;
      g.ldy = w.rows;
      g.prep = prep != nullptr ? prep + row * prep_row_bytes : nullptr;
      g.prep_row_bytes = prep_row_bytes;
      g.streamed = true;  // decode's pieces read the matrix itself
      (rows_n > 1 && many != nullptr ? many : matvec)(g);
      lo = end;
    }
  };
  if (nt <= 1) {
    run_span(0, count);
    return;
  }
  // Thread t's run starts at the first piece that begins at or after t / nt of the bytes
  // (decode_share_start gives a piece's first row, or the row count past every matrix).
  thread_local std::vector<int64_t> starts;
  starts.assign(static_cast<size_t>(nt) + 1, count);
  int64_t prev = 0;
  for (int t = 0; t < nt; ++t) {
    const share_point at = decode_share_start(ws, t, nt);
    int64_t i = count;
    if (at.matrix < ws.size())
      i = first[at.matrix] + (at.row + per[at.matrix] - 1) / per[at.matrix];
    prev = std::max(prev, std::min(i, count));
    starts[static_cast<size_t>(t)] = prev;
  }
  thread_local stealing_runs runs_tl;  // the caller's, as `first`
  stealing_runs& runs = runs_tl;
  runs.reset(starts);
  // run_shared, as run_blocks': whoever runs the job takes every piece left.
  pool->run_shared([&](int t, int) {
    if (t >= nt) return;
    int64_t lo = 0, hi = 0;
    while (runs.claim(static_cast<size_t>(t), &lo, &hi)) run_span(lo, hi);
    if (t > 0 && !then.empty()) warm_share(then, t, pool->size(), pool);
  });
}

// The kernel matmul_on runs over decode's pieces for n activation rows (2a there), or null
// where another path takes the product (the whole-product engine, the x16 prefill, row-block
// tasks): matvec for decode and where there is no gemm kernel, the gemm tile below
// x16_min_n rows (batched decode) in the rows layout, below x16_min_n_default in the x16 one
// (`--repack`: the x16 tiles over decode's long runs against 32-row tasks, prefill_seq from
// DRAM, 2 threads, GOPS: n 4 Q4_K 415-532 -> 562-706, Q6_K 211-277 -> 386-440; n 8 Q4_0
// 527-562 -> 550-647, Q4_K 469-530 -> 664-734; n 12 even to +20 %; n 16 and 24 mixed;
// docs/performance.md 2026-12-06 13:02).
gemm_fn pieces_kernel(const matmul_backend& be, const kernel_choice& k, const matrix_view& w,
                      int64_t n) {
  if (whole_product(be, k, n) != nullptr) return nullptr;
  if (n == 1 || k.gemm == nullptr) return k.matvec;
  const int64_t below = w.layout == weight_layout::x16 ? x16_min_n_default : x16_min_n(be, w.type);
  return n < below ? k.gemm : nullptr;
}

// Whether the backend has its own x16 gemm for the type (not the scalar reference's).
bool x16_native(const matmul_backend& be, dtype t) {
  const auto ti = static_cast<size_t>(t);
  return ti < max_dtype_id && be.gemm_x16[ti] != nullptr &&
         be.gemm_x16[ti] != scalar_backend().gemm_x16[ti];
}

// Whether matmul_on interleaves `w` on the fly for n activation rows (see 2b there).
bool x16_on_the_fly(const matmul_backend& be, const matrix_view& w, int64_t n) {
  return n >= x16_min_n(be, w.type) && x16_native(be, w.type) && x16_layout_fits(w);
}

// Whether matmul_on runs the prefill of `w` (n activation rows) through run_x16_prefill: a
// rows-layout matrix interleaved on the fly, or an x16-layout one as it is (past decode's pieces).
bool x16_prefill(const matmul_backend& be, const kernel_choice& k, const matrix_view& w,
                 int64_t n) {
  if (w.layout == weight_layout::rows) return x16_on_the_fly(be, w, n);
  return w.layout == weight_layout::x16 && x16_native(be, w.type) &&
         whole_product(be, k, n) == nullptr && pieces_kernel(be, k, w, n) == nullptr;
}

// Prefill of matrices (one width, one layout) where the backend has x16 kernels for their types:
// tasks are 32-row blocks of every matrix, one task list; in the rows layout each task interleaves
// its rows once into per-thread scratch (a copy of 32 rows, ~1/n of the task's work; the weights
// in memory stay the file's), in the x16 layout (`--repack`) it reads its two groups as they are,
// and it runs the x16 gemm, which needs no per-row shuffles or horizontal sums, over every
// activation slice. `a` holds the n converted rows, `prep` (may be null) their
// gemm_prep_x16 layout, the same for every matrix whose type has one.
void run_x16_prefill(const matmul_backend& be, std::span<const matrix_view> ws,
                     std::span<float* const> ys, const uint8_t* a, size_t arb, const uint8_t* prep,
                     size_t prb, int64_t n, thread_pool* pool) {
  constexpr int64_t row_block = 32, act_block = 64;
  struct block {
    size_t m;
    int64_t r0;
  };
  thread_local std::vector<block> blocks;
  blocks.clear();
  for (size_t m = 0; m < ws.size(); ++m)
    for (int64_t r0 = 0; r0 < ws[m].rows; r0 += row_block) blocks.push_back({m, r0});
  const std::vector<block>& todo = blocks;
  const bool few = n <= streamed_few_max_n && be.x16_prefetch_to;
  // Per thread, where few: the rows-layout block it takes next (set by prefetch_block before the
  // block before it runs), and the block whose first requested_bytes the last tile requested.
  static thread_local const uint8_t* next_rows = nullptr;
  static thread_local const uint8_t* requested_rows = nullptr;
  static thread_local size_t requested_bytes = 0;
  const auto do_block = [&](int64_t i) {
    const block& t = todo[static_cast<size_t>(i)];
    const matrix_view& w = ws[t.m];
    const auto ti = static_cast<size_t>(w.type);
    const gemm_fn gx = be.gemm_x16[ti];
    const bool wants_prep = be.gemm_prep_x16[ti] != nullptr;
    const int64_t rows = std::min(row_block, w.rows - t.r0);
    matrix_view part = w;
    part.data = static_cast<const uint8_t*>(w.data) + static_cast<size_t>(t.r0) * w.row_bytes;
    part.rows = rows;
    const auto* packed = static_cast<const uint8_t*>(part.data);  // x16 groups as they are
    const uint8_t* after = nullptr;  // the rows of the thread's next block, where few
    if (w.layout == weight_layout::rows) {
      uint8_t* copy = scratch<scratch_tag::x16>(static_cast<size_t>(rows) * w.row_bytes);
      if (few) {
        // The copy's lines were requested by the tile of the block before (prefetch_to) unless
        // this is a run's first block; this block's tile requests the next block's.
        const size_t bytes = static_cast<size_t>(rows) * w.row_bytes;
        after = next_rows;
        next_rows = nullptr;
        interleave(part, copy, nullptr, requested_rows == part.data && requested_bytes >= bytes);
        requested_rows = after, requested_bytes = bytes;
      } else {
        interleave(part, copy, nullptr);
      }
      packed = copy;
    }
    gemm_fn gemm = gx;
    if (!few && be.x16_expand[ti] != nullptr) {  // unpacked once for all n activation rows
      uint8_t* wide =
          scratch<scratch_tag::x16_expanded>(be.x16_expand[ti](nullptr, rows, w.cols, nullptr));
      be.x16_expand[ti](packed, rows, w.cols, wide);
      packed = wide;
      gemm = be.gemm_x16_expanded[ti];
    }
    for (int64_t j0 = 0; j0 < n; j0 += act_block) {
      gemm_args g;
      g.w = packed;
      g.w_row_bytes = w.row_bytes;
      g.rows = rows;
      g.cols = w.cols;
      g.a = a + static_cast<size_t>(j0) * arb;
      g.a_row_bytes = arb;
      g.n = std::min(act_block, n - j0);
      g.y = ys[t.m] + j0 * w.rows + t.r0;
      g.ldy = w.rows;
      if (wants_prep && prep != nullptr)
        g.prep = prep + static_cast<size_t>(j0) * prb, g.prep_row_bytes = prb;
      g.streamed = w.layout != weight_layout::rows || after != nullptr;
      g.prefetch_to = after;
      gemm(g);
    }
  };
  // The weight rows of block i, requested while the block before it is worked on: all at once
  // here, or rows-layout ones for a few activation rows by the tile of the block before, spread
  // over its compute (gemm_args::prefetch_to; all at once, then copied, then multiplied with
  // memory idle, zero-copy batched decode read ~20 GB/s: docs/performance.md 2026-12-04 20:40).
  const auto prefetch_block = [&](int64_t i) {
    const block& t = todo[static_cast<size_t>(i)];
    const matrix_view& w = ws[t.m];
    if (w.layout == weight_layout::rows && few) {
      next_rows = static_cast<const uint8_t*>(w.data) + static_cast<size_t>(t.r0) * w.row_bytes;
      return;
    }
    prefetch_bytes(static_cast<const uint8_t*>(w.data) + static_cast<size_t>(t.r0) * w.row_bytes,
                   static_cast<size_t>(std::min(row_block, w.rows - t.r0)) * w.row_bytes);
  };
  run_blocks(pool, static_cast<int64_t>(todo.size()), prefetch_block, do_block);
}

// Whether matmul_many can run `ws` as one x16 prefill (run_x16_prefill) for n activation rows:
// two or more matrices of one width and layout, each taken by the x16 path on its own, whose
// types share the activation format and at most one gemm_prep_x16 layout (Q4_K with Q6_K), which
// goes to *prep (null where none of them has one).
bool shared_x16_prefill(const matmul_backend& be, std::span<const matrix_view> ws,
                        std::span<float* const> ys, int64_t n, gemm_prep_fn* prep_out) {
  if (ws.size() < 2 || ws.size() != ys.size()) return false;
  gemm_prep_fn prep = nullptr;
  for (const matrix_view& w : ws) {
    if (w.layout != ws[0].layout || w.cols != ws[0].cols || w.rows <= 0) return false;
    if (act_format_for(w.type) != act_format_for(ws[0].type)) return false;
    const kernel_choice k = choose(be, w);
    if (k.matvec == nullptr || k.gemm == nullptr) return false;
    if (whole_product(be, k, n) != nullptr) return false;
    if (!x16_prefill(be, k, w, n)) return false;
    const gemm_prep_fn p = be.gemm_prep_x16[static_cast<size_t>(w.type)];
    if (p != nullptr && prep != nullptr && p != prep) return false;
    if (p != nullptr) prep = p;
  }
  *prep_out = prep;
  return true;
}

}  // namespace

bool matmul_rounds_to_bf16(const matmul_backend& be, const matrix_view& w, int64_t n) {
  return bf16_product(be, choose(be, w), n);
}

int matmul_order_class(const matmul_backend& be, const matrix_view& w, int64_t n) {
  const kernel_choice k = choose(be, w);
  if (bf16_product(be, k, n)) return 3;
  if (whole_product(be, k, n) != nullptr) return 1;
  if (n > 1 && k.gemm != nullptr && w.layout == weight_layout::rows && x16_on_the_fly(be, w, n))
    return 2;
  return 0;
}

void matmul_on(const matmul_backend& be, const matrix_view& w, const float* x, int64_t n, float* y,
               thread_pool* pool, std::span<const matrix_view> then) {
  if (n <= 0 || w.rows <= 0) return;
  const kernel_choice k = choose(be, w);
  const gemm_fn matvec = k.matvec, gemm = k.gemm;
  if (matvec == nullptr) return;
  if (const big_gemm_fn big = whole_product(be, k, n)) {
    big(w, x, n, y, pool);
    return;
  }

  // 1. Convert the activation rows once.
  const size_t arb = act_row_bytes(k.af, w.cols);
  const uint8_t* a = convert_rows(k, x, n, w.cols, pool);

  if (const gemm_fn piece_fn = pieces_kernel(be, k, w, n)) {
    // 2a. Decode, and batched decode of a few rows: the output rows in decode's pieces
    // (multiples of 16 rows), each thread reading long runs of the matrix; the gemm tile where
    // n > 1, each weight chunk unpacked once for the n rows. (In 32-row tasks taken in turns the
    // threads' streams kept breaking: 8 rows of qwen3-0.6b Q4_0 from DRAM ran 25 % slower.)
    float* const out[] = {y};
    size_t prb = 0;
    const uint8_t* prep = prepare_rows(k, a, arb, n, w.cols, pool, &prb);
    run_matvecs(piece_fn, {&w, 1}, out, a, arb, prep, prb, n, pool, then);
    return;
  }

  gemm_args base;
  base.w_row_bytes = w.row_bytes;
  base.cols = w.cols;
  base.a_row_bytes = arb;
  base.ldy = w.rows;
  const auto* wbytes = static_cast<const uint8_t*>(w.data);
  constexpr int64_t row_block = 32, act_block = 64;

  // 2b. Prefill where the backend has x16 kernels for the type: a rows-layout matrix interleaved
  // on the fly, or an x16-layout one as it is.
  if (x16_prefill(be, k, w, n)) {
    kernel_choice kx = k;
    kx.gemm_prep = be.gemm_prep_x16[static_cast<size_t>(w.type)];
    size_t prb = 0;
    const uint8_t* prep = prepare_rows(kx, a, arb, n, w.cols, pool, &prb);
    float* const out[] = {y};
    run_x16_prefill(be, {&w, 1}, out, a, arb, prep, prb, n, pool);
    return;
  }

  // The gemm kernel's own activation layout, once for all tasks.
  const uint8_t* prep = prepare_rows(k, a, arb, n, w.cols, pool, &base.prep_row_bytes);

  // 2c. Prefill / batched decode: tasks are blocks of weight rows; inside a task the gemm kernel
  // sweeps activation rows in slices that stay in L2, reusing each weight block across them.
  const int64_t n_tasks = (w.rows + row_block - 1) / row_block;
  const auto prefetch_block = [&](int64_t i) {
    const int64_t r0 = i * row_block;
    prefetch_bytes(wbytes + static_cast<size_t>(r0) * w.row_bytes,
                   static_cast<size_t>(std::min(row_block, w.rows - r0)) * w.row_bytes);
  };
  run_blocks(pool, n_tasks, prefetch_block, [&](int64_t i) {
    const int64_t r0 = i * row_block;
    for (int64_t j0 = 0; j0 < n; j0 += act_block) {
      gemm_args g = base;
      g.rows = std::min(row_block, w.rows - r0);
      g.w = wbytes + static_cast<size_t>(r0) * w.row_bytes;
      g.a = a + static_cast<size_t>(j0) * arb;
      g.n = std::min(act_block, n - j0);
      g.y = y + j0 * w.rows + r0;
      if (prep != nullptr) g.prep = prep + static_cast<size_t>(j0) * base.prep_row_bytes;
      gemm(g);
    }
  });
}

void matmul(const matrix_view& w, const float* x, int64_t n, float* y, thread_pool* pool,
            std::span<const matrix_view> then) {
  matmul_on(best_backend(), w, x, n, y, pool, then);
}

void matmul_many_on(const matmul_backend& be, std::span<const matrix_view> ws, const float* x,
                    int64_t n, std::span<float* const> ys, thread_pool* pool,
                    std::span<const matrix_view> then) {
  bool fuse = n >= 1 && ws.size() > 1 && ws.size() == ys.size();
  for (const matrix_view& w : ws)
    fuse = fuse && w.rows > 0 && w.type == ws[0].type && w.layout == ws[0].layout &&
           w.cols == ws[0].cols;
  // Fused where matmul_on would run each matrix over decode's pieces (2a there).
  const kernel_choice k = fuse ? choose(be, ws[0]) : kernel_choice{};
  const gemm_fn piece_fn = fuse ? pieces_kernel(be, k, ws[0], n) : nullptr;
  gemm_prep_fn shared_prep = nullptr;
  if (piece_fn == nullptr && shared_x16_prefill(be, ws, ys, n, &shared_prep)) {
    // Prefill: the activation converted (and laid out for the kernels) once for all matrices,
    // and all their row blocks one task list.
    kernel_choice kx = choose(be, ws[0]);
    const size_t arb = act_row_bytes(kx.af, ws[0].cols);
    const uint8_t* a = convert_rows(kx, x, n, ws[0].cols, pool);
    kx.gemm_prep = shared_prep;
    size_t prb = 0;
    const uint8_t* prep = prepare_rows(kx, a, arb, n, ws[0].cols, pool, &prb);
    run_x16_prefill(be, ws, ys, a, arb, prep, prb, n, pool);
    return;
  }
  if (piece_fn == nullptr) {
    for (size_t i = 0; i < ws.size() && i < ys.size(); ++i)
      matmul_on(be, ws[i], x, n, ys[i], pool,
                i + 1 < ws.size() ? std::span<const matrix_view>(&ws[i + 1], 1) : then);
    return;
  }
  const size_t arb = act_row_bytes(k.af, ws[0].cols);
  const uint8_t* a = convert_rows(k, x, n, ws[0].cols, pool);
  size_t prb = 0;
  const uint8_t* prep = prepare_rows(k, a, arb, n, ws[0].cols, pool, &prb);
  run_matvecs(piece_fn, ws, ys, a, arb, prep, prb, n, pool, then);
}

void matmul_many(std::span<const matrix_view> ws, const float* x, int64_t n,
                 std::span<float* const> ys, thread_pool* pool, std::span<const matrix_view> then) {
  matmul_many_on(best_backend(), ws, x, n, ys, pool, then);
}

void matmul_grouped_on(const matmul_backend& be, std::span<const matrix_view> ws, const float* x,
                       std::span<const matmul_rows> groups, std::span<float* const> ys,
                       thread_pool* pool, std::span<const matrix_view> then) {
  if (ws.empty() || ws.size() != ys.size() || groups.size() != ws.size()) return;
  const int64_t cols = ws[0].cols;
  // One job where every matrix shares type, layout and width and runs over decode's pieces for
  // its rows, through one kernel for one row and one for more.
  bool fuse = ws.size() > 1;
  for (const matrix_view& w : ws)
    fuse = fuse && w.rows > 0 && w.type == ws[0].type && w.layout == ws[0].layout && w.cols == cols;
  const kernel_choice k = fuse ? choose(be, ws[0]) : kernel_choice{};
  gemm_fn one = nullptr, many = nullptr;
  int64_t x_rows = 0;
  for (size_t i = 0; i < ws.size() && fuse; ++i) {
    const matmul_rows& r = groups[i];
    if (r.first < 0 || r.count < 1) return;
    x_rows = std::max(x_rows, r.first + r.count);
    const gemm_fn f = pieces_kernel(be, k, ws[i], r.count);
    gemm_fn& slot = r.count == 1 ? one : many;
    if (f == nullptr || (slot != nullptr && slot != f)) fuse = false;
    slot = f;
  }
  if (!fuse) {
    for (size_t i = 0; i < ws.size(); ++i)
      matmul_on(be, ws[i], x + groups[i].first * ws[i].cols, groups[i].count, ys[i], pool,
                i + 1 < ws.size() ? std::span<const matrix_view>(&ws[i + 1], 1) : then);
    return;
  }
  // Every activation row converted once (a few on the calling thread: a pool job would cost more
  // than the work).
  thread_pool* conv = x_rows >= 16 ? pool : nullptr;
  const size_t arb = act_row_bytes(k.af, cols);
  const uint8_t* a = convert_rows(k, x, x_rows, cols, conv);
  size_t prb = 0;
  const uint8_t* prep = prepare_rows(k, a, arb, x_rows, cols, conv, &prb);
  run_matvecs(one != nullptr ? one : many, ws, ys, a, arb, prep, prb, 1, pool, then, groups.data(),
              many);
}

void matmul_grouped(std::span<const matrix_view> ws, const float* x,
                    std::span<const matmul_rows> groups, std::span<float* const> ys,
                    thread_pool* pool, std::span<const matrix_view> then) {
  matmul_grouped_on(best_backend(), ws, x, groups, ys, pool, then);
}

bool matmul_supports(dtype t) {
  const auto ti = static_cast<size_t>(t);
  return ti < max_dtype_id && scalar_backend().matvec[ti] != nullptr;
}

const char* matmul_backend_name() {
  return best_backend().name;
}

namespace ref {
void matmul(const matrix_view& w, const float* x, int64_t n, float* y) {
  matmul_on(scalar_backend(), w, x, n, y, nullptr);
}
}  // namespace ref

}  // namespace uma::kernels
