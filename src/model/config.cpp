// Reads model_config from GGUF metadata and checks it is self-consistent.
#include "model/config.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "gguf/gguf.h"
#include "model/arch.h"

namespace uma::model {

const char* arch_name(arch_id a) {
  switch (a) {
    case arch_id::llama:
      return "llama";
    case arch_id::qwen2:
      return "qwen2";
    case arch_id::qwen3:
      return "qwen3";
    case arch_id::qwen3moe:
      return "qwen3moe";
    case arch_id::gemma3:
      return "gemma3";
  }
  return "?";
}

const arch_def* find_arch(std::string_view name) {
  for (const arch_def* a : {&llama_arch, &qwen2_arch, &qwen3_arch, &qwen3moe_arch, &gemma3_arch}) {
    if (name == a->name) return a;
  }
  return nullptr;
}

namespace {

// The most experts a layer may have (the largest today's models have is 512).
constexpr int64_t max_experts = 4096;

// Reads `<arch>.<key>` as a positive integer; required unless a default is given.
result<int64_t> get_dim(const gguf::file& f, const std::string& key, int64_t def = -1) {
  const gguf::value* v = f.find(key);
  if (!v) {
    if (def >= 0) return def;
    return make_error("missing metadata key '{}'", key);
  }
  auto i = v->as_int();
  if (!i) return make_error("metadata key '{}' must be an integer", key);
  if (*i <= 0 || *i > (int64_t{1} << 31)) {
    return make_error("metadata key '{}' = {} is out of range", key, *i);
  }
  return *i;
}

result<float> get_float(const gguf::file& f, const std::string& key, float def) {
  const gguf::value* v = f.find(key);
  if (!v) return def;
  auto d = v->as_double();
  if (!d || !std::isfinite(*d)) return make_error("metadata key '{}' must be a finite number", key);
  return static_cast<float>(*d);
}

result<int32_t> get_token_id(const gguf::file& f, const std::string& key, int64_t n_vocab) {
  const gguf::value* v = f.find(key);
  if (!v) return -1;
  auto i = v->as_int();
  if (!i) return make_error("metadata key '{}' must be an integer", key);
  if (*i < 0 || *i >= n_vocab) {
    return make_error("special token '{}' = {} is beyond the vocabulary ({} tokens)", key, *i,
                      n_vocab);
  }
  return static_cast<int32_t>(*i);
}

}  // namespace

result<model_config> read_config(const gguf::file& f) {
  model_config c;
  c.arch_name = std::string(f.architecture());
  if (c.arch_name.empty()) return make_error("not a model: no general.architecture");
  const arch_def* def = find_arch(c.arch_name);
  if (!def) {
    return make_error(
        "unsupported architecture '{}' (supported: llama, qwen2, qwen3, qwen3moe, gemma3)",
        c.arch_name);
  }
  c.arch = def->id;
  if (auto n = f.get_string("general.name")) c.name = std::string(*n);
  const std::string p = c.arch_name + ".";

  UMA_ASSIGN(c.n_embd, get_dim(f, p + "embedding_length"));
  UMA_ASSIGN(c.n_layer, get_dim(f, p + "block_count"));
  UMA_ASSIGN(c.n_ff, get_dim(f, p + "feed_forward_length"));
  UMA_ASSIGN(c.n_head, get_dim(f, p + "attention.head_count"));
  UMA_ASSIGN(c.n_head_kv, get_dim(f, p + "attention.head_count_kv", c.n_head));
  UMA_ASSIGN(c.n_ctx_train, get_dim(f, p + "context_length", 4096));
  if (c.n_embd % c.n_head != 0 && !f.find(p + "attention.key_length")) {
    return make_error("head count {} does not divide the embedding width {}", c.n_head, c.n_embd);
  }
  UMA_ASSIGN(c.head_dim, get_dim(f, p + "attention.key_length", c.n_embd / c.n_head));
  UMA_ASSIGN(c.head_dim_v, get_dim(f, p + "attention.value_length", c.head_dim));
  if (c.n_head % c.n_head_kv != 0) {
    return make_error("key/value head count {} does not divide the head count {}", c.n_head_kv,
                      c.n_head);
  }
  if (c.head_dim % 2 != 0) return make_error("head width {} must be even for RoPE", c.head_dim);
  int64_t n_rot = 0;
  UMA_ASSIGN(n_rot, get_dim(f, p + "rope.dimension_count", c.head_dim));
  if (n_rot > c.head_dim || n_rot % 2 != 0) {
    return make_error("rope.dimension_count {} must be even and at most the head width {}", n_rot,
                      c.head_dim);
  }
  c.n_rot = static_cast<int>(n_rot);
  UMA_ASSIGN(c.norm_eps, get_float(f, p + "attention.layer_norm_rms_epsilon", 1e-5f));
  if (!(c.norm_eps > 0.f)) return make_error("layer_norm_rms_epsilon must be positive");
  UMA_ASSIGN(c.rope_freq_base, get_float(f, p + "rope.freq_base", 10000.f));
  if (!(c.rope_freq_base > 0.f)) return make_error("rope.freq_base must be positive");

  // RoPE scaling: none / linear here; llama3-style scaling comes as rope_freqs.weight.
  if (auto type = f.get_string(p + "rope.scaling.type")) {
    if (*type == "linear") {
      float factor = 1.f;
      UMA_ASSIGN(factor, get_float(f, p + "rope.scaling.factor", 1.f));
      if (!(factor > 0.f)) return make_error("rope.scaling.factor must be positive");
      c.rope_freq_scale = 1.f / factor;
    } else if (*type != "none" && *type != "llama3") {
      return make_error("unsupported rope.scaling.type '{}'", *type);
    }
  } else if (const gguf::value* s = f.find(p + "rope.scale_linear")) {
    auto factor = s->as_double();
    if (!factor || !(*factor > 0)) return make_error("rope.scale_linear must be positive");
    c.rope_freq_scale = static_cast<float>(1.0 / *factor);
  }

  // Vocabulary: <arch>.vocab_size, else the tokenizer's token list, else token_embd's rows.
  if (f.find(p + "vocab_size")) {
    UMA_ASSIGN(c.n_vocab, get_dim(f, p + "vocab_size"));
  } else if (const gguf::value* t = f.find("tokenizer.ggml.tokens"); t && t->is_array()) {
    c.n_vocab = static_cast<int64_t>(t->count);
  } else if (const gguf::tensor_info* e = f.find_tensor("token_embd.weight")) {
    c.n_vocab = e->ne[1];
  }
  if (c.n_vocab <= 0) return make_error("cannot tell the vocabulary size");

  UMA_ASSIGN(c.bos_id, get_token_id(f, "tokenizer.ggml.bos_token_id", c.n_vocab));
  UMA_ASSIGN(c.eos_id, get_token_id(f, "tokenizer.ggml.eos_token_id", c.n_vocab));
  UMA_ASSIGN(c.eot_id, get_token_id(f, "tokenizer.ggml.eot_token_id", c.n_vocab));

  // Experts: read for every architecture; configure refuses them where the MLP is dense.
  if (f.find(p + "expert_count")) {
    UMA_ASSIGN(c.n_expert, get_dim(f, p + "expert_count"));
    if (c.n_expert > max_experts)
      return make_error("expert_count {} is more than uma supports ({})", c.n_expert, max_experts);
    UMA_ASSIGN(c.n_expert_used, get_dim(f, p + "expert_used_count"));
    if (c.n_expert_used > c.n_expert)
      return make_error("expert_used_count {} is more than expert_count {}", c.n_expert_used,
                        c.n_expert);
    // As llama.cpp: without the key a llama expert (Mixtral) is feed_forward_length wide, a
    // qwen3moe one the dense width shared among the experts a token uses.
    const int64_t dflt =
        def->id == arch_id::llama ? c.n_ff : std::max<int64_t>(1, c.n_ff / c.n_expert_used);
    UMA_ASSIGN(c.n_ff_exp, get_dim(f, p + "expert_feed_forward_length", dflt));
  }

  UMA_TRY(def->configure(f, c));
  // Experts: qwen3moe, and llama (Mixtral's layout: softmax gating, top-k renormalized, the
  // same block); the other architectures' MLP is dense here.
  if (c.moe() && c.arch != arch_id::qwen3moe && c.arch != arch_id::llama)
    return make_error("{}.expert_count is set, but uma runs {} with a dense MLP only", c.arch_name,
                      c.arch_name);
  return c;
}

}  // namespace uma::model
