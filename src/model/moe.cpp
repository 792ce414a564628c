// The mixture-of-experts MLP (qwen3moe, llama with experts): the router's choice per token and
// the experts over their tokens' rows (model/blocks.h: route_experts, moe_block).
#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "model/blocks.h"
#include "model/weights.h"
#include "util/aligned.h"

namespace uma::model {

void route_experts(const float* logits, int64_t n_expert, int64_t k, float* p, int32_t* ids,
                   float* w) {
  float mx = -INFINITY;
  for (int64_t e = 0; e < n_expert; ++e) mx = std::max(mx, logits[e]);
  float sum = 0;
  for (int64_t e = 0; e < n_expert; ++e) sum += (p[e] = std::exp(logits[e] - mx));
  for (int64_t e = 0; e < n_expert; ++e) p[e] /= sum;
  for (int64_t j = 0; j < k; ++j) {
    int32_t best = -1;
    for (int64_t e = 0; e < n_expert; ++e) {
      bool taken = false;
      for (int64_t i = 0; i < j; ++i) taken = taken || ids[i] == e;
      if (!taken && (best < 0 || p[e] > p[best])) best = static_cast<int32_t>(e);
    }
    ids[j] = best;
  }
  std::sort(ids, ids + k);
  float chosen = 0;
  for (int64_t j = 0; j < k; ++j) chosen += p[ids[j]];
  for (int64_t j = 0; j < k; ++j) w[j] = p[ids[j]] / chosen;
}

namespace {

// Batches of fewer tokens than this (batched decode) run their experts as two jobs
// (matmul_grouped), each expert over its few tokens' rows; larger ones (prefill) expert by expert
// through the prefill kernels. (Each token's (token, expert) pairs read apart measured slower:
// qwen3-30b-a3b Q4_0, 8 sequences 28.8-29.5 tok/s against 32.5-35.8 expert by expert, 4:
// 25.9-27.2 against 27.3-28.0; experts two tokens share are read twice that way.)
constexpr int64_t moe_grouped_tokens = 16;

// Work space of moe_block (the calling thread's), grown on demand.
struct moe_scratch {
  aligned_vector<float> logits, p, x, gate, up, y;
  std::vector<int32_t> ids;   // (n, k) each token's experts, ascending
  std::vector<float> w;       // (n, k) their weights
  std::vector<int32_t> rows;  // an expert's (token, slot) pairs: token * k + slot
  std::vector<int64_t> first, count;
};

template <class V>
void grow_to(V& v, int64_t n) {
  if (static_cast<int64_t>(v.size()) < n) v.resize(static_cast<size_t>(n));
}

}  // namespace

// buf.o = the mixture of experts on buf.xn (qwen3moe, archs/qwen3moe.cpp). Each token's experts
// add their outputs in ascending expert id, in decode and in prefill alike. Decode (one token):
// all its experts' gate and up rows in one matmul_grouped job, then their downs, each of its own
// row, in another (eight jobs of one expert each: qwen3-30b-a3b Q4_0's median token 34.8-35.4 ms
// against 33.6 ms, docs/performance.md). Batches of several tokens: each expert over the tokens
// that chose it (gathered; batched decode as two jobs, prefill expert by expert), the outputs
// scattered back.
void moe_block(forward_state& st, int64_t il) {
  const model_config& c = st.c;
  const layer_weights& l = st.w.layers[static_cast<size_t>(il)];
  forward_buffers& buf = st.buf;
  const int64_t n = st.n, e = c.n_embd, k = c.n_expert_used, ne = c.n_expert, f = c.n_ff_exp;
  thread_local moe_scratch ms;
  grow_to(ms.logits, n * ne);
  grow_to(ms.p, ne);
  grow_to(ms.ids, n * k);
  grow_to(ms.w, n * k);
  {
    const op_scope time(st.timeline, op_timeline::gate_up);
    matmul(st, l.ffn_gate_inp, buf.xn.data(), ms.logits.data());
  }
  for (int64_t t = 0; t < n; ++t)
    route_experts(ms.logits.data() + t * ne, ne, k, ms.p.data(), ms.ids.data() + t * k,
                  ms.w.data() + t * k);
  std::fill(buf.o.begin(), buf.o.begin() + n * e, 0.f);
  std::array<kernels::matrix_view, 3> after{};
  const size_t n_after = after_mlp(st, il, after);

  // The used experts (ascending id), each over its activation rows: gate and up into ms.gate /
  // ms.up, then down (of the SiLU product's rows) into ms.y.
  thread_local std::vector<kernels::matrix_view> gu, downs;
  thread_local std::vector<float*> gu_out, ys;
  thread_local std::vector<kernels::matmul_rows> gu_rows, own;
  gu.clear(), gu_out.clear(), gu_rows.clear(), downs.clear(), ys.clear(), own.clear();
  const auto use = [&](int64_t x, kernels::matmul_rows in, int64_t at) {
    gu.push_back(l.gate_exps.expert(x).view());
    gu.push_back(l.up_exps.expert(x).view());
    gu_out.push_back(ms.gate.data() + at * f);
    gu_out.push_back(ms.up.data() + at * f);
    gu_rows.push_back(in);
    gu_rows.push_back(in);
    downs.push_back(l.down_exps.expert(x).view());
    ys.push_back(ms.y.data() + at * e);
    own.push_back({at, in.count});
  };
  // Gate and up of every used expert in one job (its rows of x), the SiLU products of the
  // `rows` rows, then every down in another.
  const auto two_jobs = [&](const float* x, int64_t rows) {
    {
      const op_scope time(st.timeline, op_timeline::gate_up);
      kernels::matmul_grouped(gu, x, gu_rows, gu_out, st.pool, downs);
    }
    for (int64_t i = 0; i < rows; ++i)
      kernels::silu_mul(ms.gate.data() + i * f, ms.up.data() + i * f, ms.gate.data() + i * f, f);
    const op_scope time(st.timeline, op_timeline::down);
    kernels::matmul_grouped(downs, ms.gate.data(), own, ys, st.pool, {after.data(), n_after});
  };

  const int64_t np = n * k;
  grow_to(ms.gate, np * f);
  grow_to(ms.up, np * f);
  grow_to(ms.y, np * e);
  if (n == 1) {
    // Decode: the token's experts, each reading its one row.
    for (int64_t j = 0; j < k; ++j) use(ms.ids[static_cast<size_t>(j)], {0, 1}, j);
    two_jobs(buf.xn.data(), k);
    for (int64_t j = 0; j < k; ++j) {
      const float wt = ms.w[static_cast<size_t>(j)];
      const float* y = ms.y.data() + j * e;
      for (int64_t i = 0; i < e; ++i) buf.o[static_cast<size_t>(i)] += wt * y[i];
    }
    return;
  }

  // Each expert's (token, slot) pairs, tokens ascending: expert x's are rows[first[x] ..
  // first[x + 1]), and its tokens' rows are gathered there in ms.x.
  ms.count.assign(static_cast<size_t>(ne), 0);
  for (int64_t i = 0; i < np; ++i) ++ms.count[static_cast<size_t>(ms.ids[static_cast<size_t>(i)])];
  ms.first.assign(static_cast<size_t>(ne) + 1, 0);
  for (int64_t x = 0; x < ne; ++x)
    ms.first[static_cast<size_t>(x + 1)] =
        ms.first[static_cast<size_t>(x)] + ms.count[static_cast<size_t>(x)];
  grow_to(ms.rows, np);
  {
    std::vector<int64_t> at(ms.first.begin(), ms.first.end() - 1);
    for (int64_t i = 0; i < np; ++i)
      ms.rows[static_cast<size_t>(at[static_cast<size_t>(ms.ids[static_cast<size_t>(i)])]++)] =
          static_cast<int32_t>(i);
  }
  grow_to(ms.x, np * e);
  for (int64_t i = 0; i < np; ++i)
    std::copy_n(buf.xn.data() + (ms.rows[static_cast<size_t>(i)] / k) * e, e, ms.x.data() + i * e);
  for (int64_t x = 0; x < ne; ++x) {
    const int64_t m = ms.count[static_cast<size_t>(x)], at = ms.first[static_cast<size_t>(x)];
    if (m > 0) use(x, {at, m}, at);
  }
  if (n < moe_grouped_tokens) {
    // Batched decode: the two jobs (the rows tiles take each expert's few rows; an expert's
    // weights are read once).
    two_jobs(ms.x.data(), np);
  } else {
    // Prefill: expert by expert (each one's rows through the prefill kernels).
    for (size_t g = 0; g < downs.size(); ++g) {
      const kernels::matmul_rows r = own[g];
      float* const out[] = {gu_out[2 * g], gu_out[2 * g + 1]};
      {
        const op_scope time(st.timeline, op_timeline::gate_up);
        kernels::matmul_many({&gu[2 * g], 2}, ms.x.data() + r.first * e, r.count, out, st.pool);
      }
      for (int64_t i = r.first; i < r.first + r.count; ++i)
        kernels::silu_mul(ms.gate.data() + i * f, ms.up.data() + i * f, ms.gate.data() + i * f, f);
      const op_scope time(st.timeline, op_timeline::down);
      kernels::matmul(downs[g], ms.gate.data() + r.first * f, r.count, ys[g], st.pool);
    }
  }
  // Each pair's output into its token's row, experts in ascending id.
  for (int64_t i = 0; i < np; ++i) {
    const int32_t r = ms.rows[static_cast<size_t>(i)];
    const float wt = ms.w[static_cast<size_t>(r)];
    float* o = buf.o.data() + (r / k) * e;
    const float* y = ms.y.data() + i * e;
    for (int64_t j = 0; j < e; ++j) o[j] += wt * y[j];
  }
}

}  // namespace uma::model
