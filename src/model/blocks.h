// Shared building blocks of the production forward pass (attention, MLP, norms) over a batch of
// tokens from one or more sequences. Architectures (archs/<arch>.cpp) compose these; everything
// heavy goes through src/kernels (matmul over the quantized mmap'd weights, ops).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <vector>

#include "model/config.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "model/weights.h"
#include "util/aligned.h"

namespace uma {
class thread_pool;
}

namespace uma::model {

struct batch;

// Buffers of one forward call, reused across calls (grown, never shrunk).
struct forward_buffers {
  aligned_vector<float> x;       // (n, n_embd) residual stream
  aligned_vector<float> xn;      // (n, n_embd) normed input of a block
  aligned_vector<float> q;       // (n, n_head * head_dim)
  aligned_vector<float> k;       // (n, n_head_kv * head_dim)
  aligned_vector<float> v;       // (n, n_head_kv * head_dim_v)
  aligned_vector<float> attn;    // (n, n_head * head_dim_v) attention output before wo
  aligned_vector<float> o;       // (n, n_embd) block output
  aligned_vector<float> gate;    // (n, n_ff)
  aligned_vector<float> up;      // (n, n_ff)
  aligned_vector<float> scores;  // (n_threads, max_context) attention scores per thread
  aligned_vector<float> rope;    // (n, n_rot) per token: cos then sin of its RoPE pair angles
};

struct forward_state {
  const model_config& c;
  const weights& w;
  kv_cache& cache;
  thread_pool* pool;
  const batch& b;
  int64_t n;  // tokens in the batch
  forward_buffers& buf;
  int n_threads;
  // What buf.rope holds for this call: the angles depend only on the positions and the RoPE
  // parameters, so layers with the same parameters share them (computed once per forward).
  bool rope_valid = false;
  float rope_base = 0.f, rope_scale = 0.f;
  const float* rope_factors = nullptr;
  int rope_n_rot = 0;
  op_timeline* timeline = nullptr;                  // model::set_timeline's, or null
  int64_t attn_part_keys = default_attn_part_keys;  // load_options::attn_part_keys
  bool attn_bf16 = false;  // load_options::attn_bf16 where the CPU has the products
};

// Adds the wall time of its scope to timeline->ns[o] when a timeline is attached (no clock read
// otherwise).
class op_scope {
 public:
  op_scope(op_timeline* t, op_timeline::op o) : t_(t), o_(o) {
    if (t_ != nullptr) t0_ = std::chrono::steady_clock::now();
  }
  ~op_scope() {
    if (t_ != nullptr)
      t_->ns[o_] +=
          std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0_).count();
  }
  op_scope(const op_scope&) = delete;
  op_scope& operator=(const op_scope&) = delete;

 private:
  op_timeline* t_;
  op_timeline::op o_;
  std::chrono::steady_clock::time_point t0_{};
};

// out[t] = rms_norm(in[t]) * weight for each of the n rows of `width` floats.
void norm_rows(forward_state& st, const float* in, const float* weight, int64_t width, float* out);
// y (n, m.rows) = x (n, m.cols) * m^T, through kernels::matmul on the pool; `then` as there (the
// matrices of the next matmul, warmed by the idle threads during the glue in between).
void matmul(forward_state& st, const matrix_ref& m, const float* x, float* y,
            std::span<const kernels::matrix_view> then = {});
// buf.o = attention(buf.xn) for layer il: q/k/v projections (+ biases), per-head q/k norms, RoPE,
// K/V appended to the cache through the block table, causal softmax attention (over a sliding
// window for local layers), output projection.
void attention_block(forward_state& st, int64_t il);
// buf.o = down(act(gate(buf.xn)) * up(buf.xn)) for layer il (SiLU, or GELU-tanh for gemma); for
// a mixture of experts the weighted sum of the routed experts' SwiGLU outputs.
void mlp_block(forward_state& st, int64_t il);
// The matrices that follow layer il's MLP (the `then` hint of its last matmul): the next layer's
// Q/K/V (returns 3), or after the last layer the output matrix (returns 1).
size_t after_mlp(const forward_state& st, int64_t il, std::array<kernels::matrix_view, 3>& then);
// buf.o = the mixture of experts on buf.xn for layer il (model/moe.cpp; mlp_block calls it when
// model_config::moe()).
void moe_block(forward_state& st, int64_t il);
// A router's choice for one token (mixture of experts): p = softmax(logits) over n_expert; ids =
// the k largest p (ties: the lower id) in ascending id; w = their p renormalized to sum 1.
void route_experts(const float* logits, int64_t n_expert, int64_t k, float* p, int32_t* ids,
                   float* w);
// buf.x += buf.o
void add_residual(forward_state& st);
// buf.x += buf.o, then buf.xn = rms_norm(buf.x) * weight, each token's row while it is in cache.
void add_residual_norm(forward_state& st, const float* weight);
// The pre-norm decoder layer of llama, qwen2, qwen3:
//   x += attn(norm(x)); x += mlp(norm(x))
void pre_norm_layer(forward_state& st, int64_t il);
// buf.o = rms_norm(buf.o) * post; buf.x += buf.o; then, unless `next` is null, buf.xn =
// rms_norm(buf.x) * next (a token's rows while they are in cache).
void add_post_normed_residual(forward_state& st, const float* post, const float* next);
// Gemma 3's layer, each block's output normed again before it joins the residual:
//   x += post_attn_norm(attn(norm(x))); x += post_ffn_norm(mlp(norm(x)))
void sandwich_norm_layer(forward_state& st, int64_t il);

}  // namespace uma::model
