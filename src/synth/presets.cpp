// The preset table (shapes copied from each model's Hugging Face config.json) and the tensor layout
// a preset implies under llama.cpp's tensor naming. Pure functions: nothing here writes files, so
// tests and `uma bench` can reason about a model's size without synthesizing it.
#include <cmath>

#include "synth/synth.h"
#include "tensor/quant_plan.h"
#include "util/checked.h"

namespace uma::synth {
namespace {

constexpr rope_llama3 llama3_scaling{32.0, 1.0, 4.0, 8192};

// clang-format off
constexpr preset kPresets[] = {
    // name, arch, display, source,
    //   vocab, embd, layers, ff, heads, kv heads, head_dim, ctx, eps, theta, tied, qkv_bias, qk_norm, tiny
    {"qwen3-0.6b", "qwen3", "Qwen3 0.6B", "https://huggingface.co/Qwen/Qwen3-0.6B/blob/main/config.json",
     151936, 1024, 28, 3072, 16, 8, 128, 40960, 1e-6, 1000000.0, true, false, true, false, {}},
    {"qwen2.5-0.5b", "qwen2", "Qwen2.5 0.5B", "https://huggingface.co/Qwen/Qwen2.5-0.5B/blob/main/config.json",
     151936, 896, 24, 4864, 14, 2, 64, 32768, 1e-6, 1000000.0, true, true, false, false, {}},
    {"llama-3.2-1b", "llama", "Llama 3.2 1B", "https://huggingface.co/meta-llama/Llama-3.2-1B/blob/main/config.json",
     128256, 2048, 16, 8192, 32, 8, 64, 131072, 1e-5, 500000.0, true, false, false, false, llama3_scaling},
    // gemma3: 5 local layers (sliding window, RoPE base 1e4) to 1 global; q/k norms, post norms.
    {"gemma3-270m", "gemma3", "Gemma 3 270M", "https://ollama.com/library/gemma3:270m (GGUF metadata)",
     262144, 640, 18, 2048, 4, 1, 256, 32768, 1e-6, 1000000.0, true, false, true, false, {}, 512, 0},
    {"gemma3-1b", "gemma3", "Gemma 3 1B", "https://huggingface.co/google/gemma-3-1b-it/blob/main/config.json",
     262144, 1152, 26, 6912, 4, 1, 256, 32768, 1e-6, 1000000.0, true, false, true, false, {}, 512, 0},
    {"gemma3-4b", "gemma3", "Gemma 3 4B", "https://huggingface.co/google/gemma-3-4b-it/blob/main/config.json (text_config)",
     262208, 2560, 34, 10240, 8, 4, 256, 131072, 1e-6, 1000000.0, true, false, true, false, {}, 1024, 8.0},
    // Test-sized variants: same architecture features (qwen3: head_dim * heads != width and q/k norms;
    // qwen2: qkv biases; llama: llama3 rope scaling), rows multiples of 256 so every type applies.
    {"tiny-qwen3", "qwen3", "tiny Qwen3", "uma test shape (qwen3 architecture)",
     512, 256, 2, 768, 4, 2, 128, 4096, 1e-6, 1000000.0, true, false, true, true, {}},
    {"tiny-qwen2", "qwen2", "tiny Qwen2", "uma test shape (qwen2 architecture)",
     512, 256, 2, 512, 4, 2, 64, 4096, 1e-6, 1000000.0, true, true, false, true, {}},
    {"tiny-llama", "llama", "tiny Llama 3", "uma test shape (llama 3 architecture)",
     512, 256, 2, 512, 4, 2, 64, 4096, 1e-5, 500000.0, true, false, false, true, llama3_scaling},
    // gemma3: 6 layers (the sixth global), a 20-token window (not a multiple of the KV cache's
    // 16-token blocks), linear RoPE scaling on the global layer as the 4B+ have.
    {"tiny-gemma3", "gemma3", "tiny Gemma 3", "uma test shape (gemma3 architecture)",
     512, 256, 6, 512, 4, 2, 64, 4096, 1e-6, 1000000.0, true, false, true, true, {}, 20, 8.0},
    // qwen3moe: every layer 128 experts of width 768, 8 used per token; untied output.
    {"qwen3-30b-a3b", "qwen3moe", "Qwen3 30B-A3B", "https://huggingface.co/Qwen/Qwen3-30B-A3B/blob/main/config.json",
     151936, 2048, 48, 6144, 32, 4, 128, 40960, 1e-6, 1000000.0, false, false, true, false, {}, 0, 0,
     128, 8, 768},
    // 8 experts of width 256 (a whole K-quant super-block for ffn_down_exps' rows), 2 used.
    {"tiny-qwen3moe", "qwen3moe", "tiny Qwen3 MoE", "uma test shape (qwen3moe architecture)",
     512, 256, 2, 768, 4, 2, 128, 4096, 1e-6, 1000000.0, false, false, true, true, {}, 0, 0,
     8, 2, 256},
    // Every expert used (4 of 4): the router only weighs them, so the logits are continuous in
    // the hidden state and quantized types compare with the reference on any prompt.
    {"tiny-qwen3moe-all", "qwen3moe", "tiny Qwen3 MoE (every expert used)", "uma test shape (qwen3moe architecture)",
     512, 256, 2, 768, 4, 2, 128, 4096, 1e-6, 1000000.0, false, false, true, true, {}, 0, 0,
     4, 4, 256},
    // llama with experts (Mixtral 8x7B's layout): 8 experts of 14336, 2 used; untied output. Its
    // experts are feed_forward_length wide (no expert_feed_forward_length key, as llama.cpp writes).
    {"mixtral-8x7b", "llama", "Mixtral 8x7B", "https://huggingface.co/mistralai/Mixtral-8x7B-v0.1/blob/main/config.json",
     32000, 4096, 32, 14336, 32, 8, 128, 32768, 1e-5, 1000000.0, false, false, false, false, {}, 0, 0,
     8, 2, 14336},
    {"tiny-llama-moe", "llama", "tiny Llama MoE (Mixtral layout)", "uma test shape (llama architecture with experts)",
     512, 256, 2, 256, 4, 2, 64, 4096, 1e-5, 1000000.0, false, false, false, true, {}, 0, 0,
     4, 2, 256},
    {"tiny-llama-untied", "llama", "tiny Llama 3 (untied)", "uma test shape (llama, separate output.weight)",
     512, 256, 2, 512, 4, 2, 64, 4096, 1e-5, 500000.0, false, false, false, true, llama3_scaling},
};
// clang-format on

constexpr std::string_view kTypeNames[] = {
    "f32",  "f16",  "bf16", "q8_0",   "q4_0",   "q4_1",   "q5_0",   "q5_1",   "q2_k",   "q3_k",
    "q4_k", "q5_k", "q6_k", "q3_k_s", "q3_k_m", "q3_k_l", "q4_k_s", "q4_k_m", "q5_k_s", "q5_k_m"};

}  // namespace

std::span<const preset> presets() {
  return kPresets;
}

const preset* find_preset(std::string_view name) {
  for (const auto& p : kPresets)
    if (p.name == name) return &p;
  return nullptr;
}

std::span<const std::string_view> type_names() {
  return kTypeNames;
}

uint64_t tensor_plan::n_elements() const {
  uint64_t n = 1;
  for (int64_t d : ne) n *= static_cast<uint64_t>(d);
  return n;
}

uint64_t tensor_plan::n_bytes() const {
  return bytes_for(type, n_elements()).value_or(0);
}

uint64_t model_layout::n_elements() const {
  uint64_t n = 0;
  for (const auto& t : tensors) n += t.n_elements();
  return n;
}

uint64_t model_layout::n_params() const {
  uint64_t n = 0;
  for (const auto& t : tensors)
    if (t.role != tensor_role::rope_freqs) n += t.n_elements();
  return n;
}

uint64_t model_layout::n_bytes() const {
  uint64_t n = 0;
  for (const auto& t : tensors) n += t.n_bytes();
  return n;
}

uint64_t param_count(const preset& p, int64_t n_vocab) {
  auto u = [](int64_t v) { return static_cast<uint64_t>(v); };
  const uint64_t q = u(p.n_head * p.head_dim), kv = u(p.n_head_kv * p.head_dim), e = u(p.n_embd);
  uint64_t layer = e * q + 2 * e * kv + q * e + 2 * e;
  if (p.n_expert > 0)
    layer += e * u(p.n_expert) + 3 * e * u(p.n_ff_exp) * u(p.n_expert);  // router, experts
  else
    layer += 3 * e * u(p.n_ff);
  if (p.qkv_bias) layer += q + 2 * kv;
  if (p.qk_norm) layer += 2 * u(p.head_dim);
  if (p.arch == "gemma3") layer += 2 * e;  // post_attention_norm, post_ffw_norm
  uint64_t total = u(p.n_layer) * layer + e + e * u(n_vocab);
  if (!p.tied) total += e * u(n_vocab);
  return total;
}

int64_t model_vocab_size(const preset& p, int64_t tokenizer_tokens, bool has_tokenizer) {
  if (!has_tokenizer) return p.n_vocab;
  if (p.tiny) return tokenizer_tokens;
  return tokenizer_tokens > p.n_vocab ? tokenizer_tokens : p.n_vocab;
}

result<model_layout> plan_layout(const preset& p, std::string_view type, int64_t n_vocab) {
  auto target = parse_quant_target(type);
  bool known = false;
  for (auto n : kTypeNames) known = known || (target && n == target->name);
  if (!known) {
    std::string all;
    for (auto n : kTypeNames) all += (all.empty() ? "" : ", ") + std::string(n);
    return make_error("unknown --type '{}' (one of: {})", type, all);
  }
  if (n_vocab <= 0 || n_vocab > (int64_t{1} << 31)) return make_error("bad vocab size {}", n_vocab);
  model_layout l;
  l.p = &p;
  l.n_vocab = n_vocab;
  l.base_type = target->base;
  l.type_name = target->name;
  l.file_type = target->file_type;
  // The per-tensor type follows `uma quantize`'s rule (tensor/quant_plan.h) applied to f32 weights.
  const quant_model_info info{std::string(p.arch), p.n_layer, p.n_expert, !p.tied};
  auto type_of = [&](const std::string& name, int64_t in) {
    return choose_quant_type(*target, info, quant_tensor_info{name, 2, in, dtype::f32});
  };

  const float norm_noise = 0.02f, bias_std = 0.02f;
  auto weight = [&](std::string name, int64_t in, int64_t out) {
    const dtype t = type_of(name, in);
    const auto stddev = static_cast<float>(1.0 / std::sqrt(double(in)));  // 1 / sqrt(fan_in)
    l.tensors.push_back({std::move(name), t, {in, out}, tensor_role::weight, 0.0f, stddev});
  };
  // A 3-D stack of n_expert matrices (in, out), typed as a 2-D weight of that row length.
  auto experts = [&](std::string name, int64_t in, int64_t out) {
    const dtype t = type_of(name, in);
    const auto stddev = static_cast<float>(1.0 / std::sqrt(double(in)));
    l.tensors.push_back(
        {std::move(name), t, {in, out, p.n_expert}, tensor_role::weight, 0.0f, stddev});
  };
  auto vec = [&](std::string name, int64_t n, tensor_role role) {
    const bool norm = role == tensor_role::norm;
    l.tensors.push_back(
        {std::move(name), dtype::f32, {n}, role, norm ? 1.0f : 0.0f, norm ? norm_noise : bias_std});
  };

  const int64_t q_width = p.n_head * p.head_dim, kv_width = p.n_head_kv * p.head_dim;
  const bool gemma = p.arch == "gemma3";  // norms after attention and after the MLP too
  weight("token_embd.weight", p.n_embd, n_vocab);
  if (p.rope_scaling.factor > 0)
    l.tensors.push_back(
        {"rope_freqs.weight", dtype::f32, {p.head_dim / 2}, tensor_role::rope_freqs, 0.0f, 0.0f});
  for (int64_t i = 0; i < p.n_layer; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    vec(b + "attn_norm.weight", p.n_embd, tensor_role::norm);
    weight(b + "attn_q.weight", p.n_embd, q_width);
    weight(b + "attn_k.weight", p.n_embd, kv_width);
    weight(b + "attn_v.weight", p.n_embd, kv_width);
    if (p.qkv_bias) {
      vec(b + "attn_q.bias", q_width, tensor_role::bias);
      vec(b + "attn_k.bias", kv_width, tensor_role::bias);
      vec(b + "attn_v.bias", kv_width, tensor_role::bias);
    }
    if (p.qk_norm) {
      vec(b + "attn_q_norm.weight", p.head_dim, tensor_role::norm);
      vec(b + "attn_k_norm.weight", p.head_dim, tensor_role::norm);
    }
    weight(b + "attn_output.weight", q_width, p.n_embd);
    if (gemma) vec(b + "post_attention_norm.weight", p.n_embd, tensor_role::norm);
    vec(b + "ffn_norm.weight", p.n_embd, tensor_role::norm);
    if (p.n_expert > 0) {
      // The router stays F32 (`uma quantize` and llama.cpp leave ffn_gate_inp alone).
      weight(b + "ffn_gate_inp.weight", p.n_embd, p.n_expert);
      experts(b + "ffn_gate_exps.weight", p.n_embd, p.n_ff_exp);
      experts(b + "ffn_up_exps.weight", p.n_embd, p.n_ff_exp);
      experts(b + "ffn_down_exps.weight", p.n_ff_exp, p.n_embd);
    } else {
      weight(b + "ffn_gate.weight", p.n_embd, p.n_ff);
      weight(b + "ffn_up.weight", p.n_embd, p.n_ff);
      weight(b + "ffn_down.weight", p.n_ff, p.n_embd);
    }
    if (gemma) vec(b + "post_ffw_norm.weight", p.n_embd, tensor_role::norm);
  }
  vec("output_norm.weight", p.n_embd, tensor_role::norm);
  if (!p.tied) weight("output.weight", p.n_embd, n_vocab);
  return l;
}

}  // namespace uma::synth
