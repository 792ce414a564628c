// Shared blocks of the production forward pass; see blocks.h.
#include "model/blocks.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <vector>

#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "model/model.h"
#include "util/prefetch.h"
#include "util/thread_pool.h"

namespace uma::model {

namespace {

// Runs fn(t) for every token of the batch, over the pool when the batch is large enough that the
// hand-off pays (prefill); on the calling thread otherwise (decode).
template <class F>
void for_tokens(forward_state& st, const F& fn) {
  if (st.pool != nullptr && st.n >= 16) {
    st.pool->parallel_for(st.n, 1, [&](int, int64_t a, int64_t e) {
      for (int64_t t = a; t < e; ++t) fn(t);
    });
  } else {
    for (int64_t t = 0; t < st.n; ++t) fn(t);
  }
}

// The batch's RoPE angles for these parameters (see forward_state).
const float* rope_angles(forward_state& st, const kernels::rope_params& rp) {
  if (!st.rope_valid || st.rope_base != rp.freq_base || st.rope_scale != rp.freq_scale ||
      st.rope_factors != rp.freq_factors || st.rope_n_rot != rp.n_rot) {
    st.buf.rope.resize(static_cast<size_t>(st.n * rp.n_rot));
    float* cs = st.buf.rope.data();
    for_tokens(st, [&](int64_t t) {
      kernels::rope_angles(st.b.positions[static_cast<size_t>(t)], rp, cs + t * rp.n_rot,
                           cs + t * rp.n_rot + rp.n_rot / 2);
    });
    st.rope_valid = true;
    st.rope_base = rp.freq_base, st.rope_scale = rp.freq_scale;
    st.rope_factors = rp.freq_factors, st.rope_n_rot = rp.n_rot;
  }
  return st.buf.rope.data();
}

}  // namespace

void norm_rows(forward_state& st, const float* in, const float* weight, int64_t width, float* out) {
  for_tokens(st, [&](int64_t t) {
    kernels::rms_norm(in + t * width, weight, width, st.c.norm_eps, out + t * width);
  });
}

void matmul(forward_state& st, const matrix_ref& m, const float* x, float* y,
            std::span<const kernels::matrix_view> then) {
  kernels::matmul(m.view(), x, st.n, y, st.pool, then);
}

namespace {

void add_bias(forward_state& st, float* y, const float* bias, int64_t width) {
  if (!bias) return;
  for (int64_t t = 0; t < st.n; ++t) kernels::add(bias, y + t * width, width);
}

// Flash-style attention, one task per (run of up to `len` consecutive tokens of one sequence,
// KV head): the task's queries (its tokens x the query heads sharing that KV head) walk the
// sequence's cached K/V blocks through the block table once, with an online softmax, so each
// K/V row is read (and, in prefill, widened to f32) once per task instead of once per (token,
// head).
struct attn_run {
  int64_t t0, t1;  // tokens [t0, t1) of the batch: one sequence, consecutive positions
};

// Into `runs` (cleared; the caller's vector keeps its capacity from token to token).
void attention_runs(const batch& b, int64_t n, int64_t len, std::vector<attn_run>& runs) {
  runs.clear();
  for (int64_t t = 0; t < n; ++t) {
    const auto i = static_cast<size_t>(t);
    if (!runs.empty()) {
      attn_run& r = runs.back();
      const auto last = static_cast<size_t>(t - 1);
      if (t - r.t0 < len && b.seq_ids[i] == b.seq_ids[last] &&
          b.positions[i] == b.positions[last] + 1) {
        r.t1 = t + 1;
        continue;
      }
    }
    runs.push_back({t, t + 1});
  }
}

// Whether every run is of another sequence.
bool runs_of_distinct_sequences(const batch& b, const std::vector<attn_run>& runs) {
  if (runs.size() <= 1) return true;
  thread_local std::vector<int> seqs;
  seqs.clear();
  for (const attn_run& r : runs) seqs.push_back(b.seq_ids[static_cast<size_t>(r.t0)]);
  std::sort(seqs.begin(), seqs.end());
  return std::adjacent_find(seqs.begin(), seqs.end()) == seqs.end();
}

// The run length: each task reads its sequence's whole K/V history, so the longer the runs the
// fewer passes over it (a 3500-token qwen3-0.6b prompt: runs of 16 read ~44 GB of F16 K/V and
// widened it all to f32; with 64 the prompt ran 8-11 % faster, docs/performance.md). Shorter runs
// where 64 would leave fewer than 8 tasks per thread, so that many threads still balance
// (causal runs differ in length).
int64_t attention_run_length(const forward_state& st) {
  const int64_t threads = st.pool != nullptr ? st.pool->size() : 1;
  int64_t len = 64;
  while (len > 16 && (st.n + len - 1) / len * st.c.n_head_kv < 8 * threads) len /= 2;
  return len;
}

// attend_run's gathers of the run's query rows and scatters of its output rows: the tokens this
// many ahead are requested (a hint: results do not depend on it).
constexpr int64_t attn_rows_ahead = 8;

// Per-thread work space of attend_run, grown on demand; the float arrays 64-byte aligned for the
// kernel's 512-bit loads (util/aligned.h).
struct attn_scratch {
  aligned_vector<float> q, o, row_max, row_sum, kv;
  aligned_vector<float> acc_o, acc_max, acc_sum;  // the parts folded so far (attend_run)
  std::vector<int32_t> lo, hi;
  std::vector<uint8_t> q8;    // the queries quantized, for a Q8_0 cache
  std::vector<uint16_t> qbf;  // the queries rounded to bf16, for BF16 products
};

// The K/V spans a (run, KV head) task walks: up to span_blocks blocks whose rows follow one
// another in the cache (kv_cache::follows_in_memory: ids that follow within a chunk), as many as
// the vector kernels take (4 of 16 tokens), so the per-call softmax bookkeeping and the prefetch
// hand-off spread over more keys. Span boundaries depend only on the block table (a multiple of
// span_blocks, or where the rows stop following), never on the queries, so a row's sums run the
// same whether it is computed in prefill or in decode.
struct kv_spans {
  kv_spans(const forward_state& st, int64_t il, const attn_run& run)
      : cache(st.cache),
        table(st.cache.blocks(il, st.b.seq_ids[static_cast<size_t>(run.t0)])),
        layer(il),
        tpb(st.cache.tokens_per_block()),
        span_blocks(std::max<int64_t>(1, kernels::attn_vector_keys / tpb)),
        pos_last(st.b.positions[static_cast<size_t>(run.t1 - 1)]),
        b_last(pos_last / tpb) {
    const model_config& c = st.c;
    const int64_t pos0 = st.b.positions[static_cast<size_t>(run.t0)];
    sliding = c.layer_is_sliding(il);
    window = c.sliding_window;
    first = first_key(pos0) / tpb;
    while (first > 0 && follows(first)) --first;
  }
  int64_t first_key(int64_t pos) const {
    return sliding ? std::max<int64_t>(0, pos - window + 1) : int64_t{0};
  }
  bool follows(int64_t b) const {
    return b % span_blocks != 0 && cache.follows_in_memory(layer, table[b - 1], table[b]);
  }
  // One past the last block of the span that starts at block b.
  int64_t end(int64_t b) const {
    int64_t e = b + 1;
    while (e <= b_last && e < table.count && follows(e)) ++e;
    return e;
  }
  // Keys in the span [b0, b1).
  int64_t keys(int64_t b0, int64_t b1) const {
    return std::min((b1 - b0) * tpb, pos_last + 1 - b0 * tpb);
  }
  const kv_cache& cache;
  const kv_cache::block_map table;  // the sequence's blocks for this layer
  int64_t layer, tpb, span_blocks, pos_last, b_last, first = 0, window = 0;
  bool sliding = false;
};

// A task's first span of K and V rows for KV head kvh (what a thread prefetches before it).
struct kv_span {
  const uint8_t* k = nullptr;
  const uint8_t* v = nullptr;
  int64_t nk = 0;
};
// From block blo on (a part's task: see attend_run).
kv_span first_span(const forward_state& st, int64_t il, const attn_run& run, int64_t kvh,
                   int64_t blo = 0) {
  const kv_spans sp(st, il, run);
  const int64_t b = std::max(sp.first, blo);
  if (b > sp.b_last) return {};
  const int32_t blk = sp.table[b];
  return {st.cache.k_head(il, blk, kvh), st.cache.v_head(il, blk, kvh), sp.keys(b, sp.end(b))};
}

// Blocks an attention part spans: forward_state::attn_part_keys in whole spans, so that a span
// never crosses a part's end (spans end at multiples of span_blocks).
int64_t part_blocks(const forward_state& st, const kv_spans& sp) {
  const int64_t keys = std::clamp<int64_t>(st.attn_part_keys, 1, int64_t{1} << 40);
  const int64_t b = (keys + sp.tpb - 1) / sp.tpb;
  return (b + sp.span_blocks - 1) / sp.span_blocks * sp.span_blocks;
}

// A run's m query rows over some of its keys: their running maxima, sums of e^(score - max) and
// unnormalised outputs (m rows of dv).
struct attn_state {
  float* mx;
  float* sum;
  float* o;
};

// The thread's state for m rows folded over parts (attend_run, finish_parts), grown on demand.
attn_state acc_state(attn_scratch& ws, int64_t m, int64_t dv) {
  ws.acc_o.resize(static_cast<size_t>(m * dv));
  ws.acc_max.resize(static_cast<size_t>(m));
  ws.acc_sum.resize(static_cast<size_t>(m));
  return {ws.acc_max.data(), ws.acc_sum.data(), ws.acc_o.data()};
}

void clear_state(const attn_state& a, int64_t m, int64_t dv) {
  std::fill(a.mx, a.mx + m, -INFINITY);
  std::fill(a.sum, a.sum + m, 0.f);
  std::fill(a.o, a.o + m * dv, 0.f);
}

// Folds b, the rows' state over a later part of the keys, into a: their softmax over both. A row
// that saw no key in b keeps a's state, one that saw none in a takes b's as it is (so the first
// fold into a cleared state copies). Not inlined: one code for every fold, so that a split
// task's parts folded by attention_block and one task walking all its parts give the same floats.
[[gnu::noinline]] void fold_state(const attn_state& a, const attn_state& b, int64_t m, int64_t dv) {
  for (int64_t i = 0; i < m; ++i) {
    if (b.mx[i] == -INFINITY) continue;
    float* oa = a.o + i * dv;
    const float* ob = b.o + i * dv;
    if (a.mx[i] == -INFINITY) {
      a.mx[i] = b.mx[i], a.sum[i] = b.sum[i];
      std::copy(ob, ob + dv, oa);
      continue;
    }
    const float mx = std::max(a.mx[i], b.mx[i]);
    const float ca = std::exp(a.mx[i] - mx), cb = std::exp(b.mx[i] - mx);
    a.mx[i] = mx;
    a.sum[i] = a.sum[i] * ca + b.sum[i] * cb;
    for (int64_t e = 0; e < dv; ++e) oa[e] = oa[e] * ca + ob[e] * cb;
  }
}

// The run's rows for KV head kvh normalised into buf.attn (every row saw its own key: sum >= 1).
void write_rows(forward_state& st, const attn_run& run, int64_t kvh, const attn_state& a) {
  const model_config& c = st.c;
  const int64_t group = c.n_head / c.n_head_kv, m = (run.t1 - run.t0) * group;
  const int64_t dv = c.head_dim_v, ow = c.n_head * dv;
  for (int64_t i = 0; i < m; ++i) {
    const int64_t t = run.t0 + i / group, h = kvh * group + i % group;
    float* out = st.buf.attn.data() + t * ow + h * dv;
    if (i % group == 0 && t + attn_rows_ahead < run.t1)
      prefetch_range(out + attn_rows_ahead * ow, static_cast<size_t>(4 * group * dv), true);
    const float inv = 1.f / a.sum[i];
    for (int64_t e = 0; e < dv; ++e) out[e] = a.o[i * dv + e] * inv;
  }
}

// Requests every line of a span's K and V rows.
void prefetch_span(const kv_span& s, const kv_cache& cache) {
  if (s.k == nullptr) return;
  const int64_t tiles = (s.nk + kernels::kv_key_tile - 1) / kernels::kv_key_tile;
  prefetch_range(s.k, static_cast<size_t>(tiles * cache.k_tile_bytes()));
  prefetch_range(s.v, static_cast<size_t>(s.nk * cache.v_row_bytes()));
}

// Run `run`'s query rows for KV head kvh against its keys in blocks [blo, bhi) (clipped to those
// the run sees), part by part (part_blocks): each part's online softmax from a cleared state, the
// parts folded in order (fold_state), so a row's floats depend only on its keys, never on how the
// parts were shared out. `part` null: the rows normalised into buf.attn; else their state over
// these blocks there (a split task's single part, folded by attention_block). `after`: the first
// span of the task this thread runs next (prefetched during the last span).
void attend_run(forward_state& st, int64_t il, const attn_run& run, int64_t kvh, attn_scratch& ws,
                const kv_span& after, int64_t blo = 0, int64_t bhi = INT64_MAX,
                const attn_state* part = nullptr) {
  const model_config& c = st.c;
  kv_cache& cache = st.cache;
  const int64_t group = c.n_head / c.n_head_kv;  // query heads per KV head
  const int64_t m = (run.t1 - run.t0) * group;   // query rows: (token, head) pairs
  const int64_t d = c.head_dim, dv = c.head_dim_v;
  const float scale = c.attn_scale > 0.f ? c.attn_scale : 1.f / std::sqrt(float(d));
  const kv_spans sp(st, il, run);
  const int64_t tpb = sp.tpb;
  ws.q.resize(static_cast<size_t>(m * d));
  ws.o.resize(static_cast<size_t>(m * dv));
  float* const wq = ws.q.data();
  ws.row_max.resize(static_cast<size_t>(m));
  ws.row_sum.resize(static_cast<size_t>(m));
  ws.lo.resize(static_cast<size_t>(m));
  ws.hi.resize(static_cast<size_t>(m));
  ws.kv.resize(static_cast<size_t>(sp.span_blocks * tpb * (d + dv)));
  float* const wkv = ws.kv.data();
  const attn_state cur{ws.row_max.data(), ws.row_sum.data(), ws.o.data()};
  attn_state acc;
  if (part != nullptr) {
    acc = *part;
  } else {
    acc = acc_state(ws, m, dv);
  }
  clear_state(acc, m, dv);
  // Row i = (token t0 + i / group, head kvh * group + i % group); queries pre-scaled. A token's
  // group is d x group contiguous floats, the tokens q_width apart: in prefill they come from
  // beyond the L2 (the QKV matmul's output for the whole batch), so the rows a few tokens ahead
  // are requested while these are copied.
  const int64_t qw = c.q_width();
  for (int64_t i = 0; i < m; ++i) {
    const int64_t t = run.t0 + i / group, h = kvh * group + i % group;
    const float* q = st.buf.q.data() + t * qw + h * d;
    if (i % group == 0 && t + attn_rows_ahead < run.t1)
      prefetch_range(q + attn_rows_ahead * qw, static_cast<size_t>(4 * group * d));
    for (int64_t e = 0; e < d; ++e) wq[i * d + e] = q[e] * scale;
  }
  const int64_t pos0 = st.b.positions[static_cast<size_t>(run.t0)];
  if (cache.format() == kernels::kv_format::q8_0) {  // once for all the spans
    ws.q8.resize(static_cast<size_t>(m * kernels::attn_q8_row_bytes(d)));
    kernels::attn_quantize_queries(wq, m, d, d, ws.q8.data());
  }
  // BF16 products (prefill: more than 8 rows): the queries rounded once for all the spans.
  const bool bf16 = st.attn_bf16 && m > 8;
  if (bf16 && cache.format() == kernels::kv_format::f16) {
    ws.qbf.resize(static_cast<size_t>(m * d));
    kernels::attn_bf16_queries(wq, m, d, d, ws.qbf.data());
  }

  kernels::attn_block_args a;
  a.q = wq, a.m = m, a.ldq = d, a.d = d, a.dv = dv;
  a.kv = cache.format();
  a.ldk = d, a.ldv = dv;  // a head's rows are contiguous in its block
  a.lo = ws.lo.data(), a.hi = ws.hi.data();
  a.ldo = dv, a.scratch = wkv;
  a.q8 = cache.format() == kernels::kv_format::q8_0 ? ws.q8.data() : nullptr;
  a.bf16 = bf16;
  a.qbf = bf16 && cache.format() == kernels::kv_format::f16 ? ws.qbf.data() : nullptr;
  const int64_t pb = part_blocks(st, sp);
  const int64_t b_end = std::min(sp.b_last + 1, bhi);
  bool first = true;
  for (int64_t b0 = std::max(sp.first, blo); b0 < b_end;) {
    const int64_t p_end = std::min(b_end, (b0 / pb + 1) * pb);  // this part's blocks: [b0, p_end)
    // The first part straight into acc (folding it into the cleared acc would copy it as it is),
    // the others into cur and folded.
    const attn_state& into = first ? acc : cur;
    if (!first) clear_state(cur, m, dv);
    a.row_max = into.mx, a.row_sum = into.sum, a.o = into.o;
    for (int64_t b1 = sp.end(b0); b0 < p_end;) {
      const int64_t b2 = b1 < b_end ? sp.end(b1) : b1;  // the next span is [b1, b2)
      const int64_t j0 = b0 * tpb;
      const int32_t blk = sp.table[b0];
      a.k = cache.k_head(il, blk, kvh);
      a.v = cache.v_head(il, blk, kvh);
      a.nk = sp.keys(b0, b1);
      if (b1 < b_end) {
        const int32_t next = sp.table[b1];
        a.k_next = cache.k_head(il, next, kvh);
        a.v_next = cache.v_head(il, next, kvh);
        a.nk_next = sp.keys(b1, b2);
      } else {
        a.k_next = after.k, a.v_next = after.v, a.nk_next = after.nk;
      }
      for (int64_t i = 0; i < m; ++i) {
        const int64_t pos = pos0 + i / group;
        // Within [0, nk]: a row whose window starts past this span sees none of it (lo == hi).
        const int64_t lo = std::clamp<int64_t>(sp.first_key(pos) - j0, 0, a.nk);
        const int64_t hi = std::clamp<int64_t>(pos + 1 - j0, lo, a.nk);
        ws.lo[static_cast<size_t>(i)] = static_cast<int32_t>(lo);
        ws.hi[static_cast<size_t>(i)] = static_cast<int32_t>(hi);
      }
      kernels::attn_block(a);
      b0 = b1, b1 = b2;
    }
    if (!first) fold_state(acc, cur, m, dv);
    first = false;
  }
  if (part == nullptr) write_rows(st, run, kvh, acc);
}

// One part of a split (run, KV head) task (attention_block): the run's blocks [blo, blo +
// part_blocks), its rows' state in slot floats at `at` of the caller's part buffer. The
// (run, head)'s first part (`first`, its index) also counts them (`count`) and how many are done.
struct part_task {
  int64_t run, kvh, blo, at, first;
  int32_t count;
  mutable int32_t done;  // counted through std::atomic_ref by the threads that finish parts
};

std::atomic<uint64_t> part_tasks_run{0};

int64_t part_blocks_of(const forward_state& st, int64_t il, const attn_run& run) {
  return part_blocks(st, kv_spans(st, il, run));
}

// The tasks of every (run, KV head)'s parts, latest runs first, each head's parts in order;
// returns the floats their slots take.
int64_t plan_parts(const forward_state& st, int64_t il, const std::vector<attn_run>& runs,
                   std::vector<part_task>& parts) {
  const model_config& c = st.c;
  const int64_t group = c.n_head / c.n_head_kv, dv = c.head_dim_v;
  int64_t at = 0;
  for (auto r = static_cast<int64_t>(runs.size()) - 1; r >= 0; --r) {
    const attn_run& run = runs[static_cast<size_t>(r)];
    const kv_spans sp(st, il, run);
    const int64_t pb = part_blocks(st, sp), m = (run.t1 - run.t0) * group;
    const int64_t p0 = sp.first / pb, p1 = sp.b_last / pb;
    for (int64_t kvh = 0; kvh < c.n_head_kv; ++kvh) {
      const auto first = static_cast<int64_t>(parts.size());
      for (int64_t p = p0; p <= p1; ++p) {
        parts.push_back({r, kvh, p * pb, at, first, static_cast<int32_t>(p1 - p0 + 1), 0});
        at += m * (dv + 2);
      }
    }
  }
  return at;
}

// Part p's slot in `slots`: its rows' maxima, sums, then outputs.
attn_state part_slot(const forward_state& st, float* slots, const attn_run& run,
                     const part_task& p) {
  const int64_t m = (run.t1 - run.t0) * (st.c.n_head / st.c.n_head_kv);
  float* base = slots + p.at;
  return {base, base + m, base + 2 * m};
}

// Folds a (run, head)'s parts in order and writes its rows.
void finish_parts(forward_state& st, float* slots, const attn_run& run, const part_task& head,
                  const std::vector<part_task>& parts, attn_scratch& ws) {
  const int64_t m = (run.t1 - run.t0) * (st.c.n_head / st.c.n_head_kv), dv = st.c.head_dim_v;
  const attn_state acc = acc_state(ws, m, dv);
  clear_state(acc, m, dv);
  for (int32_t k = 0; k < head.count; ++k)
    fold_state(acc, part_slot(st, slots, run, parts[static_cast<size_t>(head.first + k)]), m, dv);
  write_rows(st, run, head.kvh, acc);
}

}  // namespace

void attention_block(forward_state& st, int64_t il) {
  const model_config& c = st.c;
  const layer_weights& l = st.w.layers[static_cast<size_t>(il)];
  forward_buffers& buf = st.buf;
  const int64_t qw = c.q_width(), kw = c.kv_width(), vw = c.v_width();

  const kernels::matrix_view qkv[] = {l.wq.view(), l.wk.view(), l.wv.view()};
  float* const qkv_out[] = {buf.q.data(), buf.k.data(), buf.v.data()};
  const kernels::matrix_view wo = l.wo.view();
  {
    const op_scope time(st.timeline, op_timeline::qkv);
    kernels::matmul_many(qkv, buf.xn.data(), st.n, qkv_out, st.pool, {&wo, 1});
  }
  add_bias(st, buf.q.data(), l.bq, qw);
  add_bias(st, buf.k.data(), l.bk, kw);
  add_bias(st, buf.v.data(), l.bv, vw);

  kernels::rope_params rp;
  rp.n_rot = c.n_rot;
  rp.freq_base = c.layer_rope_base(il);
  rp.freq_scale = c.layer_rope_scale(il);
  rp.freq_factors = st.w.rope_freqs;
  rp.style = c.rope_style;
  const float* angles = rope_angles(st, rp);
  // One token's KV head kvh: the Q/K norms and RoPE of its query group and key, and its K/V rows
  // appended to the cache (F16, blocks reserved by model::forward) at the token's position. Per
  // head the same operations in the same order, whichever thread runs it.
  const int64_t group = c.n_head / c.n_head_kv;  // query heads per KV head
  const int64_t hd = c.head_dim;
  const auto prep_head = [&](int64_t t, int64_t kvh) {
    float* q = buf.q.data() + t * qw + kvh * group * hd;
    float* k = buf.k.data() + t * kw + kvh * hd;
    if (l.q_norm) {
      for (int64_t h = 0; h < group; ++h)
        kernels::rms_norm(q + h * hd, l.q_norm, hd, c.norm_eps, q + h * hd);
      kernels::rms_norm(k, l.k_norm, hd, c.norm_eps, k);
    }
    const float* cos = angles + t * rp.n_rot;
    const float* sin = cos + rp.n_rot / 2;
    kernels::rope_with(q, group, hd, cos, sin, rp);
    kernels::rope_with(k, 1, hd, cos, sin, rp);
    const auto i = static_cast<size_t>(t);
    const int seq = st.b.seq_ids[i];
    const int64_t pos = st.b.positions[i];
    const kernels::kv_format f = st.cache.format();
    const kv_cache::key_slot ks = st.cache.k_at(il, seq, pos, kvh);
    kernels::f32_to_kv_key(f, k, hd, ks.tile, ks.slot);
    kernels::f32_to_kv_row(f, buf.v.data() + t * vw + kvh * c.head_dim_v,
                           st.cache.v_at(il, seq, pos, kvh), c.head_dim_v);
  };

  // The lines a task's preparation touches, requested ahead: its tokens' Q rows of the head's
  // group and K / V rows (in decode the Q/K/V job wrote them on both threads: most come from the
  // other core's cache, ~250 ns each on the dev VM, and the norms' loops ran them few at a time)
  // and the cache rows the K / V append writes.
  const auto prefetch_prep = [&](const attn_run& run, int64_t kvh) {
    for (int64_t t = run.t0; t < run.t1; ++t) {
      prefetch_range(buf.q.data() + t * qw + kvh * group * hd, static_cast<size_t>(4 * group * hd));
      prefetch_range(buf.k.data() + t * kw + kvh * hd, static_cast<size_t>(4 * hd));
      prefetch_range(buf.v.data() + t * vw + kvh * c.head_dim_v,
                     static_cast<size_t>(4 * c.head_dim_v));
      const auto i = static_cast<size_t>(t);
      const int seq = st.b.seq_ids[i];
      const int64_t pos = st.b.positions[i];
      // A key's slot is a column of its tile, a few bytes in every line of it: the tile's lines
      // requested with its first key or the run's.
      const kv_cache::key_slot ks = st.cache.k_at(il, seq, pos, kvh);
      if (ks.slot == 0 || t == run.t0)
        prefetch_range(ks.tile, static_cast<size_t>(st.cache.k_tile_bytes()));
      prefetch_range(st.cache.v_at(il, seq, pos, kvh), static_cast<size_t>(st.cache.v_row_bytes()));
    }
  };

  // Attention: tasks are (run of tokens, KV head) pairs, taken from a shared counter, latest runs
  // (the most keys) first so the threads finish together.
  thread_local std::vector<attn_run> runs_tl;  // the caller's; the workers read it by reference
  std::vector<attn_run>& runs = runs_tl;
  attention_runs(st.b, st.n, attention_run_length(st), runs);
  const auto n_runs = static_cast<int64_t>(runs.size());
  // Where no two runs are of one sequence (decode, batched decode, a prompt of one run), a task
  // reads no rows but its own head's of its own run and the cache's older ones, so each task
  // prepares its own (token, head) rows first: the glue runs on every thread instead of the
  // caller alone. Otherwise (runs of one long prompt read each other's keys) all rows first.
  const bool distinct = runs_of_distinct_sequences(st.b, runs);
  const int64_t n_tasks = n_runs * c.n_head_kv;
  // Decode's tasks are its sequences x KV heads: one sequence of qwen2.5-0.5b has 2, whatever the
  // cores, and at a long context each is a long walk over the cache. Where the tasks are fewer
  // than 4 a thread and a run's keys span several parts (attend_run), each part is a task of its
  // own (its rows' state into a slot) and whoever finishes a (run, head)'s last part folds them
  // in order: the same floats as one task walking all the parts.
  const int threads = st.pool != nullptr ? st.pool->size() : 1;
  thread_local std::vector<part_task> parts_tl;  // the caller's, read by the workers
  thread_local aligned_vector<float> slots_tl;   // the parts' states
  std::vector<part_task>& parts = parts_tl;
  parts.clear();
  if (distinct && threads > 1 && n_tasks < 4 * threads) {
    bool several = false;
    for (const attn_run& r : runs) {
      const kv_spans sp(st, il, r);
      several = several || (r.t1 - r.t0 <= 4 &&
                            sp.first / part_blocks(st, sp) < sp.b_last / part_blocks(st, sp));
    }
    if (several) slots_tl.resize(static_cast<size_t>(plan_parts(st, il, runs, parts)));
  }
  const bool per_task_prep = distinct && parts.empty();
  if (!per_task_prep) {
    for_tokens(st, [&](int64_t t) {
      for (int64_t kvh = 0; kvh < c.n_head_kv; ++kvh) prep_head(t, kvh);
    });
  }
  // A thread claims its next task before it runs one, so that the kernel prefetches that task's
  // first K/V span during this one's last (in decode every task is a few spans at most, and its
  // rows, written tokens ago, come from DRAM); its very first span it requests up front.
  std::atomic<int64_t> next{0};
  const auto task_run = [&](int64_t i) -> const attn_run& {
    return runs[static_cast<size_t>(n_runs - 1 - i / c.n_head_kv)];
  };
  auto work = [&](int, int) {
    static thread_local attn_scratch ws;
    int64_t i = next.fetch_add(1, std::memory_order_relaxed);
    if (per_task_prep && i < n_tasks) prefetch_prep(task_run(i), i % c.n_head_kv);
    kv_span span = i < n_tasks ? first_span(st, il, task_run(i), i % c.n_head_kv) : kv_span{};
    prefetch_span(span, st.cache);
    while (i < n_tasks) {
      const int64_t j = next.fetch_add(1, std::memory_order_relaxed);
      if (per_task_prep && j < n_tasks) prefetch_prep(task_run(j), j % c.n_head_kv);
      const kv_span after =
          j < n_tasks ? first_span(st, il, task_run(j), j % c.n_head_kv) : kv_span{};
      const attn_run& run = task_run(i);
      if (per_task_prep)
        for (int64_t t = run.t0; t < run.t1; ++t) prep_head(t, i % c.n_head_kv);
      attend_run(st, il, run, i % c.n_head_kv, ws, after);
      i = j;
    }
  };
  const auto n_parts = static_cast<int64_t>(parts.size());
  float* const slots = slots_tl.data();
  auto work_parts = [&](int, int) {
    static thread_local attn_scratch ws;
    const auto first_of = [&](int64_t i) {
      const part_task& p = parts[static_cast<size_t>(i)];
      return first_span(st, il, runs[static_cast<size_t>(p.run)], p.kvh, p.blo);
    };
    int64_t i = next.fetch_add(1, std::memory_order_relaxed);
    prefetch_span(i < n_parts ? first_of(i) : kv_span{}, st.cache);
    while (i < n_parts) {
      const int64_t j = next.fetch_add(1, std::memory_order_relaxed);
      const kv_span after = j < n_parts ? first_of(j) : kv_span{};
      const part_task& p = parts[static_cast<size_t>(i)];
      const attn_run& run = runs[static_cast<size_t>(p.run)];
      const attn_state slot = part_slot(st, slots, run, p);
      attend_run(st, il, run, p.kvh, ws, after, p.blo, p.blo + part_blocks_of(st, il, run), &slot);
      // The (run, head)'s last part to finish folds them all (acquire: the others' slots).
      const part_task& head = parts[static_cast<size_t>(p.first)];
      if (std::atomic_ref<int32_t>(head.done).fetch_add(1, std::memory_order_acq_rel) + 1 ==
          head.count)
        finish_parts(st, slots, run, head, parts, ws);
      i = j;
    }
  };
  {
    const op_scope time(st.timeline, op_timeline::attention);
    if (n_parts > 0) {
      st.pool->run_shared(work_parts);
      part_tasks_run.fetch_add(static_cast<uint64_t>(n_parts), std::memory_order_relaxed);
    } else if (st.pool && n_tasks > 1) {
      st.pool->run_shared(work);  // tasks from a counter: whoever runs the job takes them all
    } else {
      work(0, 1);
    }
  }

  // Then the MLP's gate and up (or the router of experts).
  const kernels::matrix_view gate_up[] = {c.moe() ? l.ffn_gate_inp.view() : l.w_gate.view(),
                                          l.w_up.view()};
  {
    const op_scope time(st.timeline, op_timeline::o_proj);
    matmul(st, l.wo, buf.attn.data(), buf.o.data(),
           std::span<const kernels::matrix_view>(gate_up, c.moe() ? 1 : 2));
  }
  add_bias(st, buf.o.data(), l.bo, c.n_embd);
}

uint64_t attention_part_tasks() {
  return part_tasks_run.load(std::memory_order_relaxed);
}

size_t after_mlp(const forward_state& st, int64_t il, std::array<kernels::matrix_view, 3>& then) {
  if (il + 1 < st.c.n_layer) {
    const layer_weights& nl = st.w.layers[static_cast<size_t>(il + 1)];
    then = {nl.wq.view(), nl.wk.view(), nl.wv.view()};
    return 3;
  }
  then[0] = st.w.output.view();
  return 1;
}

void mlp_block(forward_state& st, int64_t il) {
  if (st.c.moe()) {
    moe_block(st, il);
    return;
  }
  const model_config& c = st.c;
  const layer_weights& l = st.w.layers[static_cast<size_t>(il)];
  forward_buffers& buf = st.buf;
  const kernels::matrix_view gate_up[] = {l.w_gate.view(), l.w_up.view()};
  float* const gate_up_out[] = {buf.gate.data(), buf.up.data()};
  const kernels::matrix_view down = l.w_down.view();
  {
    const op_scope time(st.timeline, op_timeline::gate_up);
    kernels::matmul_many(gate_up, buf.xn.data(), st.n, gate_up_out, st.pool, {&down, 1});
  }
  for_tokens(st, [&](int64_t t) {
    float* g = buf.gate.data() + t * c.n_ff;
    const float* u = buf.up.data() + t * c.n_ff;
    if (c.gelu)
      kernels::gelu_mul(g, u, g, c.n_ff);
    else
      kernels::silu_mul(g, u, g, c.n_ff);
  });
  // Then the next layer's Q/K/V, or after the last layer the output matrix.
  std::array<kernels::matrix_view, 3> then{};
  const size_t n_then = after_mlp(st, il, then);
  const op_scope time(st.timeline, op_timeline::down);
  matmul(st, l.w_down, buf.gate.data(), buf.o.data(), {then.data(), n_then});
}

// Token by token over the pool in prefill (a pass over the whole batch on one thread cost 0.6 %
// of a qwen3-0.6b pp512 profile); the same sums either way.
void add_residual(forward_state& st) {
  const int64_t e = st.c.n_embd;
  for_tokens(st,
             [&](int64_t t) { kernels::add(st.buf.o.data() + t * e, st.buf.x.data() + t * e, e); });
}

void add_residual_norm(forward_state& st, const float* weight) {
  const int64_t e = st.c.n_embd;
  for_tokens(st, [&](int64_t t) {
    float* x = st.buf.x.data() + t * e;
    kernels::add(st.buf.o.data() + t * e, x, e);
    kernels::rms_norm(x, weight, e, st.c.norm_eps, st.buf.xn.data() + t * e);
  });
}

// buf.o = rms_norm(buf.o) * post, then buf.x += buf.o and, with `next`, buf.xn = rms_norm(buf.x) *
// next: each token's rows while they are in cache.
void add_post_normed_residual(forward_state& st, const float* post, const float* next) {
  const int64_t e = st.c.n_embd;
  const float eps = st.c.norm_eps;
  for_tokens(st, [&](int64_t t) {
    float* o = st.buf.o.data() + t * e;
    float* x = st.buf.x.data() + t * e;
    kernels::rms_norm(o, post, e, eps, o);
    kernels::add(o, x, e);
    if (next != nullptr) kernels::rms_norm(x, next, e, eps, st.buf.xn.data() + t * e);
  });
}

void sandwich_norm_layer(forward_state& st, int64_t il) {
  const layer_weights& l = st.w.layers[static_cast<size_t>(il)];
  const int64_t e = st.c.n_embd;
  norm_rows(st, st.buf.x.data(), l.attn_norm, e, st.buf.xn.data());
  attention_block(st, il);
  add_post_normed_residual(st, l.post_attn_norm, l.ffn_norm);
  mlp_block(st, il);
  add_post_normed_residual(st, l.post_ffn_norm, nullptr);
}

void pre_norm_layer(forward_state& st, int64_t il) {
  const layer_weights& l = st.w.layers[static_cast<size_t>(il)];
  const int64_t e = st.c.n_embd;
  norm_rows(st, st.buf.x.data(), l.attn_norm, e, st.buf.xn.data());
  attention_block(st, il);
  add_residual_norm(st, l.ffn_norm);
  mlp_block(st, il);
  add_residual(st);
}

}  // namespace uma::model
