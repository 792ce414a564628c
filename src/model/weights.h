// Weight binding: GGUF tensors (llama.cpp names) checked against the config and exposed as views
// into the mapping. Shared by the production forward and the reference forward.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/matmul.h"
#include "model/config.h"
#include "tensor/dtype.h"
#include "util/status.h"

namespace uma {
class thread_pool;
}
namespace uma::gguf {
class file;
struct tensor_info;
}  // namespace uma::gguf

namespace uma::model {

// A bound matrix: `rows` rows of `cols` elements in its stored format (ggml: ne[0] = cols).
struct matrix_ref {
  const gguf::tensor_info* info = nullptr;
  dtype type = dtype::f32;
  const void* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  size_t row_bytes = 0;
  kernels::weight_layout layout = kernels::weight_layout::rows;  // x16 after interleave_weights

  explicit operator bool() const { return data != nullptr; }
  kernels::matrix_view view() const { return {type, data, rows, cols, row_bytes, layout}; }
  // Row r of a rows-layout matrix (the token embedding is never interleaved).
  const void* row(int64_t r) const {
    return static_cast<const char*>(data) + static_cast<size_t>(r) * row_bytes;
  }
  uint64_t bytes() const { return static_cast<uint64_t>(rows) * row_bytes; }
};

// A bound 3-D tensor of experts (ggml: ne[0] = cols, ne[1] = rows, ne[2] = experts): `all` views
// the experts' matrices as one stack of count x rows rows, expert e's matrix its rows [e x rows,
// (e + 1) x rows).
struct expert_ref {
  matrix_ref all;
  int64_t count = 0;
  int64_t rows = 0;  // of one expert

  explicit operator bool() const { return static_cast<bool>(all); }
  matrix_ref expert(int64_t e) const {
    matrix_ref m = all;
    m.data = all.row(e * rows);
    m.rows = rows;
    return m;
  }
  uint64_t bytes() const { return all.bytes(); }
};

struct layer_weights {
  const float* attn_norm = nullptr;       // (n_embd)
  matrix_ref wq;                          // (q_width, n_embd)
  matrix_ref wk;                          // (kv_width, n_embd)
  matrix_ref wv;                          // (v_width, n_embd)
  matrix_ref wo;                          // (n_embd, n_head * head_dim_v)
  const float* bq = nullptr;              // (q_width) qwen2
  const float* bk = nullptr;              // (kv_width)
  const float* bv = nullptr;              // (v_width)
  const float* bo = nullptr;              // (n_embd) optional
  const float* q_norm = nullptr;          // (head_dim) qwen3
  const float* k_norm = nullptr;          // (head_dim)
  const float* post_attn_norm = nullptr;  // (n_embd) gemma3
  const float* ffn_norm = nullptr;        // (n_embd)
  matrix_ref w_gate;                      // (n_ff, n_embd)
  matrix_ref w_up;                        // (n_ff, n_embd)
  matrix_ref w_down;                      // (n_embd, n_ff)
  const float* post_ffn_norm = nullptr;   // (n_embd) gemma3
  // Mixture of experts (model_config::moe(), instead of w_gate / w_up / w_down).
  matrix_ref ffn_gate_inp;  // (n_expert, n_embd) the router
  expert_ref gate_exps;     // n_expert x (n_ff_exp, n_embd)
  expert_ref up_exps;       // n_expert x (n_ff_exp, n_embd)
  expert_ref down_exps;     // n_expert x (n_embd, n_ff_exp)
};

struct weights {
  matrix_ref token_embd;               // (n_vocab, n_embd)
  const float* output_norm = nullptr;  // (n_embd)
  matrix_ref output;                   // (n_vocab, n_embd); == token_embd when tied
  bool tied_output = false;
  const float* rope_freqs = nullptr;  // (n_rot / 2) llama 3.1 frequency divisors, or null
  std::vector<layer_weights> layers;

  // 1-D tensors stored as F16/BF16 are converted to F32 here at load (a few KB).
  std::vector<std::vector<float>> owned;
  // Matrices copied to the x16 layout (load_options::repack): one anonymous mapping, each matrix
  // 64-byte aligned in it; and their bytes.
  struct region_unmap {
    size_t bytes = 0;
    void operator()(uint8_t* p) const;
  };
  std::unique_ptr<uint8_t, region_unmap> interleaved{nullptr, region_unmap{}};
  uint64_t interleaved_bytes = 0;
};

// Binds every tensor (what is required follows the config: qkv_bias, qk_norm, post_norms);
// errors name the tensor and what is wrong (missing, shape, type).
result<std::unique_ptr<weights>> bind_weights(const gguf::file& f, const model_config& c);

// Copies every matrix the CPU's backend has an x16 kernel for (kernels::interleave_supported:
// the legacy 32-element formats and Q2_K .. Q6_K, with rows % 16 == 0) into that layout, or with
// `all` false only those of the types whose decode it measured faster that way
// (kernels::repack_faster), then drops the process's pages of the originals from the mapping. The
// token embedding keeps its rows view (one row is read per token); a tied output matrix gets the
// interleaved copy. Not zero-copy: opt-in (load_options::repack).
void interleave_weights(weights& w, const gguf::file& f, thread_pool* pool, bool all = true);
// The bytes interleave_weights(w, ..., all) would copy.
uint64_t repack_bytes(const weights& w, bool all);

// Bytes read per decoded token (see model::weight_bytes).
uint64_t decode_bytes(const weights& w, const model_config& c);

}  // namespace uma::model
