// qwen3 architecture (dense Qwen3): the llama layer with a per-head RMSNorm of q and k before RoPE
// (weights of head_dim), NEOX RoPE, no biases. n_head * head_dim may differ from n_embd
// (Qwen3-0.6B: 16 x 128 = 2048 vs 1024), hence attention.key_length.
//
//   per layer: q = rope_neox(rms_norm_per_head(wq . norm(x)) * q_norm)
//              k = rope_neox(rms_norm_per_head(wk . norm(x)) * k_norm)
//              x += wo . attn(q, k, wv . norm(x))
//              x += w_down . (silu(w_gate . norm(x)) * (w_up . norm(x)))
#include "gguf/gguf.h"
#include "model/arch.h"
#include "model/blocks.h"

namespace uma::model {

namespace {

status configure(const gguf::file&, model_config& c) {
  c.rope_style = kernels::rope_style::neox;
  c.qk_norm = true;
  return {};
}

}  // namespace

const arch_def qwen3_arch = {"qwen3", arch_id::qwen3, configure, pre_norm_layer};

}  // namespace uma::model
