// qwen3moe architecture (Qwen3 mixture of experts: Qwen3-30B-A3B, Qwen3-235B-A22B): the qwen3
// layer (per-head q/k RMSNorm, NEOX RoPE, no biases) whose MLP is `expert_count` SwiGLU experts
// of width `expert_feed_forward_length`, stored as 3-D tensors (ffn_gate_exps / ffn_up_exps /
// ffn_down_exps, one 2-D matrix per expert along ne[2]), and a router `ffn_gate_inp` (n_expert x
// n_embd, kept F32 by llama.cpp's quantizer). Every layer is sparse.
//
//   per layer: x += wo . attn(...)                                  (as qwen3)
//              p = softmax(ffn_gate_inp . norm(x)); E = the expert_used_count largest p
//              x += sum over e in E of (p_e / sum_E p) * down_e . (silu(gate_e . norm(x)) *
//                                                                   (up_e . norm(x)))
// (llama.cpp: build_moe_ffn with softmax gating and normalized weights, no weight scale.)
#include "gguf/gguf.h"
#include "model/arch.h"
#include "model/blocks.h"

namespace uma::model {

namespace {

status configure(const gguf::file&, model_config& c) {
  c.rope_style = kernels::rope_style::neox;
  c.qk_norm = true;
  if (!c.moe()) return make_error("missing metadata key 'qwen3moe.expert_count'");
  return {};
}

}  // namespace

const arch_def qwen3moe_arch = {"qwen3moe", arch_id::qwen3moe, configure, pre_norm_layer};

}  // namespace uma::model
