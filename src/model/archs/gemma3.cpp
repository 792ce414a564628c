// gemma3 architecture (Gemma 3 270M / 1B / 4B / 12B / 27B, text): embeddings scaled by
// sqrt(n_embd), per-head RMSNorm of q and k, NEOX RoPE, a GELU-tanh gated MLP, and every block's
// output normed again before it joins the residual. Five local layers of every six attend over a
// sliding window (gemma3.attention.sliding_window keys, with RoPE base 10000 and no linear
// scaling); every sixth is global (rope.freq_base, rope.scaling). The converter stores the norm
// weights with Gemma's +1 already added, so they multiply as they are.
//
//   x = token_embd[tok] * sqrt(n_embd)
//   per layer: q = rope_neox(rms_norm_per_head(wq . norm(x)) * q_norm), k likewise
//              x += post_attn_norm(wo . attn(q * scale, k, wv . norm(x)))
//              x += post_ffw_norm(w_down . (gelu_tanh(w_gate . norm(x)) * (w_up . norm(x))))
//   logits = output . norm(x)   (output tied to token_embd unless present)
//
// The query scale is 1 / sqrt(head_dim), except for the 62-layer 27B: 1 / sqrt(n_embd / n_head)
// (its query_pre_attn_scalar, 168, which GGUF does not carry; llama.cpp decides the same way).
// Without a sliding window (models such as Rnj-1) the logits may be soft-capped
// (gemma3.final_logit_softcapping), as llama.cpp's non-windowed gemma3 graph does.
#include <cmath>
#include <string>

#include "gguf/gguf.h"
#include "model/arch.h"
#include "model/blocks.h"

namespace uma::model {

namespace {

constexpr int kGemma3SlidingPattern = 6;  // 5 local layers, then 1 global
constexpr float kGemma3LocalRopeBase = 10000.f;

status configure(const gguf::file& f, model_config& c) {
  c.rope_style = kernels::rope_style::neox;
  c.qk_norm = true;
  c.post_norms = true;
  c.embed_scale = true;
  c.gelu = true;
  if (const gguf::value* v = f.find("gemma3.attention.sliding_window")) {
    auto w = v->as_int();
    if (!w || *w < 0 || *w > (int64_t{1} << 31))
      return make_error(
          "metadata key 'gemma3.attention.sliding_window' must be a non-negative "
          "integer");
    c.sliding_window = *w;
  }
  if (c.sliding_window > 0) {
    c.sliding_pattern = kGemma3SlidingPattern;
    c.rope_freq_base_local = kGemma3LocalRopeBase;
    c.rope_freq_scale_local = 1.f;
  } else if (const gguf::value* v = f.find("gemma3.final_logit_softcapping")) {
    auto cap = v->as_double();
    if (!cap || !std::isfinite(*cap) || *cap < 0)
      return make_error(
          "metadata key 'gemma3.final_logit_softcapping' must be a finite number >= 0");
    c.final_logit_softcap = static_cast<float>(*cap);
  }
  if (c.n_layer == 62) c.attn_scale = 1.f / std::sqrt(static_cast<float>(c.n_embd / c.n_head));
  return {};
}

}  // namespace

const arch_def gemma3_arch = {"gemma3", arch_id::gemma3, configure, sandwich_norm_layer};

}  // namespace uma::model
