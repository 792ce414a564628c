// qwen2 architecture (Qwen2, Qwen2.5): the llama layer with biases on the q/k/v projections and
// RoPE on halves (NEOX style). Usually a tied output matrix on the small models.
//
//   per layer: q = wq . norm(x) + bq;  k = wk . norm(x) + bk;  v = wv . norm(x) + bv
//              x += wo . attn(rope_neox(q), rope_neox(k), v)
//              x += w_down . (silu(w_gate . norm(x)) * (w_up . norm(x)))
#include "gguf/gguf.h"
#include "model/arch.h"
#include "model/blocks.h"

namespace uma::model {

namespace {

status configure(const gguf::file&, model_config& c) {
  c.rope_style = kernels::rope_style::neox;
  c.qkv_bias = true;
  return {};
}

}  // namespace

const arch_def qwen2_arch = {"qwen2", arch_id::qwen2, configure, pre_norm_layer};

}  // namespace uma::model
