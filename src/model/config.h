// Model hyperparameters read from GGUF metadata (llama.cpp key names, `<arch>.*`), validated for
// consistency before anything is bound or allocated.
#pragma once

#include <cstdint>
#include <string>

#include "kernels/ops.h"
#include "util/status.h"

namespace uma::gguf {
class file;
}

namespace uma::model {

enum class arch_id { llama, qwen2, qwen3, qwen3moe, gemma3 };

struct model_config {
  std::string arch_name;  // general.architecture
  std::string name;       // general.name (may be empty)
  arch_id arch = arch_id::llama;

  int64_t n_vocab = 0;
  int64_t n_embd = 0;  // residual width
  int64_t n_layer = 0;
  int64_t n_head = 0;       // query heads
  int64_t n_head_kv = 0;    // key/value heads (GQA: n_head is a multiple)
  int64_t head_dim = 0;     // key/query width per head (attention.key_length)
  int64_t head_dim_v = 0;   // value width per head (attention.value_length)
  int64_t n_ff = 0;         // feed-forward hidden width
  int64_t n_ctx_train = 0;  // context length the model was trained for
  float norm_eps = 1e-5f;

  // RoPE
  int n_rot = 0;
  float rope_freq_base = 10000.f;
  float rope_freq_scale = 1.f;  // 1 / linear scaling factor
  kernels::rope_style rope_style = kernels::rope_style::normal;

  // Architecture features
  bool qkv_bias = false;            // qwen2
  bool qk_norm = false;             // qwen3, gemma3: per-head RMSNorm of q and k
  bool post_norms = false;          // gemma3: norms after attention and after the MLP
  bool embed_scale = false;         // gemma3: embeddings scaled by sqrt(n_embd)
  bool gelu = false;                // gemma: GELU-tanh gating instead of SiLU
  bool norm_plus_one = false;       // gemma: norm weights stored as (w - 1)? (not for GGUF gemma3)
  float attn_scale = 0.f;           // query scale; 0 = 1/sqrt(head_dim)
  float final_logit_softcap = 0.f;  // logits = cap * tanh(logits / cap) where > 0
  int64_t sliding_window = 0;       // gemma3: window of local layers (0 = none)
  int sliding_pattern = 0;          // gemma3: every sliding_pattern-th layer is global
  float rope_freq_base_local = 10000.f;  // gemma3 local layers
  float rope_freq_scale_local = 1.f;     // gemma3 local layers: no linear scaling

  // Mixture of experts (qwen3moe): every layer's MLP is n_expert experts of width n_ff_exp, of
  // which a router picks n_expert_used per token (softmax over all, the top ones' weights
  // renormalized to sum 1). 0: a dense MLP of width n_ff.
  int64_t n_expert = 0;
  int64_t n_expert_used = 0;
  int64_t n_ff_exp = 0;

  // Special tokens (-1 = none)
  int32_t bos_id = -1;
  int32_t eos_id = -1;
  int32_t eot_id = -1;

  bool moe() const { return n_expert > 0; }
  int64_t q_width() const { return n_head * head_dim; }
  int64_t kv_width() const { return n_head_kv * head_dim; }
  int64_t v_width() const { return n_head_kv * head_dim_v; }
  float layer_rope_base(int64_t il) const {
    return layer_is_sliding(il) ? rope_freq_base_local : rope_freq_base;
  }
  float layer_rope_scale(int64_t il) const {
    return layer_is_sliding(il) ? rope_freq_scale_local : rope_freq_scale;
  }
  bool layer_is_sliding(int64_t il) const {
    return sliding_window > 0 && sliding_pattern > 0 && (il + 1) % sliding_pattern != 0;
  }
};

// Reads and checks the config. Errors name the key and the inconsistency.
result<model_config> read_config(const gguf::file& f);

const char* arch_name(arch_id a);

}  // namespace uma::model
