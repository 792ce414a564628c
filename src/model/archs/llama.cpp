// llama architecture (Llama 2/3/3.1/3.2, Mistral, TinyLlama...): pre-norm decoder, GQA, RoPE on
// adjacent pairs, SwiGLU MLP. Llama 3.1+ frequency scaling comes as the `rope_freqs.weight` tensor
// (n_rot/2 divisors), bound by model/weights.cpp. Output matrix tied or untied. With
// `llama.expert_count` (Mixtral) the MLP is a mixture of experts, as qwen3moe's (softmax over the
// router, top expert_used_count renormalized; 3-D ffn_*_exps tensors).
//
//   x = token_embd[tok]
//   per layer: x += wo . attn(rope(wq . norm(x)), rope(wk . norm(x)), wv . norm(x))
//              x += w_down . (silu(w_gate . norm(x)) * (w_up . norm(x)))
//   logits = output . norm(x)
#include "gguf/gguf.h"
#include "model/arch.h"
#include "model/blocks.h"

namespace uma::model {

namespace {

status configure(const gguf::file&, model_config& c) {
  c.rope_style = kernels::rope_style::normal;
  return {};
}

}  // namespace

const arch_def llama_arch = {"llama", arch_id::llama, configure, pre_norm_layer};

}  // namespace uma::model
