// Shared blocks of the production forward pass; see blocks.h.
#include "model/blocks.h"

#include <algorithm>
#include <cmath>

#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "model/model.h"
#include "util/thread_pool.h"

namespace uma::model {

void norm_rows(forward_state& st, const float* in, const float* weight, int64_t width, float* out) {
  for (int64_t t = 0; t < st.n; ++t) {
    kernels::rms_norm(in + t * width, weight, width, st.c.norm_eps, out + t * width);
  }
}

void matmul(forward_state& st, const matrix_ref& m, const float* x, float* y) {
  kernels::matmul(m.view(), x, st.n, y, st.pool);
}

namespace {

void add_bias(forward_state& st, float* y, const float* bias, int64_t width) {
  if (!bias) return;
  for (int64_t t = 0; t < st.n; ++t) kernels::add(bias, y + t * width, width);
}

// Attention of one (token, head): scores against the cached keys of the token's sequence up to its
// own position, softmax, weighted sum of the cached values. K/V are read through the block table.
void attend_one(forward_state& st, int64_t il, int64_t t, int64_t h, float* scores) {
  const model_config& c = st.c;
  kv_cache& cache = st.cache;
  const int seq = st.b.seq_ids[static_cast<size_t>(t)];
  const int64_t pos = st.b.positions[static_cast<size_t>(t)];
  const int64_t kvh = h / (c.n_head / c.n_head_kv);
  const float* q = st.buf.q.data() + t * c.q_width() + h * c.head_dim;
  float* out = st.buf.attn.data() + t * (c.n_head * c.head_dim_v) + h * c.head_dim_v;
  const float scale = c.attn_scale > 0.f ? c.attn_scale : 1.f / std::sqrt(float(c.head_dim));
  const int64_t first =
      c.layer_is_sliding(il) ? std::max<int64_t>(0, pos - c.sliding_window + 1) : 0;
  const int64_t tpb = cache.tokens_per_block();
  const auto& table = cache.block_table(seq);

  for (int64_t j = first; j <= pos;) {
    const int32_t blk = table[static_cast<size_t>(j / tpb)];
    const uint16_t* kb = cache.k_block(il, blk) + kvh * c.head_dim;
    const int64_t end = std::min(pos + 1, (j / tpb + 1) * tpb);
    for (; j < end; ++j) {
      scores[j - first] = kernels::dot_f16(q, kb + (j % tpb) * c.kv_width(), c.head_dim) * scale;
    }
  }
  const int64_t n_keys = pos + 1 - first;
  kernels::softmax(scores, n_keys);
  std::fill(out, out + c.head_dim_v, 0.f);
  for (int64_t j = first; j <= pos;) {
    const int32_t blk = table[static_cast<size_t>(j / tpb)];
    const uint16_t* vb = cache.v_block(il, blk) + kvh * c.head_dim_v;
    const int64_t end = std::min(pos + 1, (j / tpb + 1) * tpb);
    for (; j < end; ++j) {
      kernels::axpy_f16(scores[j - first], vb + (j % tpb) * c.v_width(), out, c.head_dim_v);
    }
  }
}

}  // namespace

void attention_block(forward_state& st, int64_t il) {
  const model_config& c = st.c;
  const layer_weights& l = st.w.layers[static_cast<size_t>(il)];
  forward_buffers& buf = st.buf;
  const int64_t qw = c.q_width(), kw = c.kv_width(), vw = c.v_width();

  matmul(st, l.wq, buf.xn.data(), buf.q.data());
  matmul(st, l.wk, buf.xn.data(), buf.k.data());
  matmul(st, l.wv, buf.xn.data(), buf.v.data());
  add_bias(st, buf.q.data(), l.bq, qw);
  add_bias(st, buf.k.data(), l.bk, kw);
  add_bias(st, buf.v.data(), l.bv, vw);

  kernels::rope_params rp;
  rp.n_rot = c.n_rot;
  rp.freq_base = c.layer_is_sliding(il) ? c.rope_freq_base_local : c.rope_freq_base;
  rp.freq_scale = c.rope_freq_scale;
  rp.freq_factors = st.w.rope_freqs;
  rp.style = c.rope_style;
  for (int64_t t = 0; t < st.n; ++t) {
    float* q = buf.q.data() + t * qw;
    float* k = buf.k.data() + t * kw;
    if (l.q_norm) {
      for (int64_t h = 0; h < c.n_head; ++h) {
        kernels::rms_norm(q + h * c.head_dim, l.q_norm, c.head_dim, c.norm_eps, q + h * c.head_dim);
      }
      for (int64_t h = 0; h < c.n_head_kv; ++h) {
        kernels::rms_norm(k + h * c.head_dim, l.k_norm, c.head_dim, c.norm_eps, k + h * c.head_dim);
      }
    }
    const int64_t pos = st.b.positions[static_cast<size_t>(t)];
    kernels::rope(q, c.n_head, c.head_dim, pos, rp);
    kernels::rope(k, c.n_head_kv, c.head_dim, pos, rp);
    // Append K/V (F16) at this token's position (blocks reserved by model::forward).
    const int seq = st.b.seq_ids[static_cast<size_t>(t)];
    kernels::f32_to_f16_row(k, st.cache.k_row(il, seq, pos), kw);
    kernels::f32_to_f16_row(buf.v.data() + t * vw, st.cache.v_row(il, seq, pos), vw);
  }

  // Attention over (token, head) pairs, in parallel.
  const int64_t max_ctx = st.cache.max_context();
  auto work = [&](int thread, int64_t begin, int64_t end) {
    float* scores = buf.scores.data() + static_cast<size_t>(thread) * static_cast<size_t>(max_ctx);
    for (int64_t i = begin; i < end; ++i) attend_one(st, il, i / c.n_head, i % c.n_head, scores);
  };
  if (st.pool && st.n * c.n_head > 1) {
    st.pool->parallel_for(st.n * c.n_head, 1, work);
  } else {
    work(0, 0, st.n * c.n_head);
  }

  matmul(st, l.wo, buf.attn.data(), buf.o.data());
  add_bias(st, buf.o.data(), l.bo, c.n_embd);
}

void mlp_block(forward_state& st, int64_t il) {
  const model_config& c = st.c;
  const layer_weights& l = st.w.layers[static_cast<size_t>(il)];
  forward_buffers& buf = st.buf;
  matmul(st, l.w_gate, buf.xn.data(), buf.gate.data());
  matmul(st, l.w_up, buf.xn.data(), buf.up.data());
  if (c.gelu) {
    kernels::gelu_mul(buf.gate.data(), buf.up.data(), buf.gate.data(), st.n * c.n_ff);
  } else {
    kernels::silu_mul(buf.gate.data(), buf.up.data(), buf.gate.data(), st.n * c.n_ff);
  }
  matmul(st, l.w_down, buf.gate.data(), buf.o.data());
}

void add_residual(forward_state& st) {
  kernels::add(st.buf.o.data(), st.buf.x.data(), st.n * st.c.n_embd);
}

void pre_norm_layer(forward_state& st, int64_t il) {
  const layer_weights& l = st.w.layers[static_cast<size_t>(il)];
  const int64_t e = st.c.n_embd;
  norm_rows(st, st.buf.x.data(), l.attn_norm, e, st.buf.xn.data());
  attention_block(st, il);
  add_residual(st);
  norm_rows(st, st.buf.x.data(), l.ffn_norm, e, st.buf.xn.data());
  mlp_block(st, il);
  add_residual(st);
}

}  // namespace uma::model
