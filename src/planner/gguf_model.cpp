// model_from_gguf (catalog.h): a model's shape from its GGUF metadata (<arch>.block_count,
// embedding_length, attention.head_count(_kv), key_length, expert_count, ...) and its exact weight
// bytes from the tensor table, so `uma plan ./model.gguf` needs no catalog row.
#include <algorithm>
#include <filesystem>
#include <map>

#include "gguf/gguf.h"
#include "planner/catalog.h"

namespace uma::planner {

namespace {

// A count that may be stored as a scalar or a per-layer array (the maximum is used).
std::optional<int64_t> count_key(const gguf::file& f, const std::string& key) {
  const gguf::value* v = f.find(key);
  if (!v) return std::nullopt;
  if (v->is_array()) {
    if (v->count == 0 || !v->strs.empty() || !v->items.empty()) return std::nullopt;
    int64_t best = 0;
    for (uint64_t i = 0; i < v->count; ++i) best = std::max(best, v->array_int(i));
    return best;
  }
  auto i = v->as_int();
  if (!i || *i < 0) return std::nullopt;
  return i;
}

// llama.cpp's general.file_type ids for the common presets.
std::string ftype_name(int64_t ft) {
  static const std::map<int64_t, std::string> names = {
      {0, "f32"},     {1, "f16"},     {2, "q4_0"},    {3, "q4_1"},    {7, "q8_0"},
      {8, "q5_0"},    {9, "q5_1"},    {10, "q2_k"},   {11, "q3_k_s"}, {12, "q3_k_m"},
      {13, "q3_k_l"}, {14, "q4_k_s"}, {15, "q4_k_m"}, {16, "q5_k_s"}, {17, "q5_k_m"},
      {18, "q6_k"},   {30, "iq4_xs"}, {32, "bf16"},   {38, "mxfp4"},
  };
  auto it = names.find(ft);
  return it == names.end() ? std::string() : it->second;
}

}  // namespace

result<model_spec> model_from_gguf(const std::string& path) {
  auto opened = gguf::file::open(path);
  if (!opened) return opened.err();  // the reader names the file
  const gguf::file& f = *opened;
  std::string arch(f.architecture());
  if (arch.empty()) return make_error("{}: no general.architecture in the GGUF metadata", path);
  auto key = [&](const char* k) { return arch + "." + k; };

  model_spec m;
  m.id = path;
  m.arch = arch;
  m.family = arch;
  auto name = f.get_string("general.name");
  m.name = name ? std::string(*name) : std::filesystem::path(path).stem().string();
  m.source_url = "file:" + path;

  auto need = [&](const char* k) -> result<int64_t> {
    auto v = count_key(f, key(k));
    if (!v || *v <= 0) return make_error("{}: GGUF metadata lacks a positive {}", path, key(k));
    return *v;
  };
  UMA_ASSIGN(m.n_layers, need("block_count"));
  UMA_ASSIGN(m.n_embd, need("embedding_length"));
  UMA_ASSIGN(m.n_heads, need("attention.head_count"));
  m.n_kv_heads = count_key(f, key("attention.head_count_kv")).value_or(m.n_heads);
  if (m.n_kv_heads <= 0 || m.n_kv_heads > m.n_heads) m.n_kv_heads = m.n_heads;
  m.head_dim = count_key(f, key("attention.key_length")).value_or(m.n_embd / m.n_heads);
  m.v_head_dim = count_key(f, key("attention.value_length")).value_or(0);
  m.ffn_dim = count_key(f, key("feed_forward_length")).value_or(0);
  m.n_experts = count_key(f, key("expert_count")).value_or(0);
  m.n_experts_active = count_key(f, key("expert_used_count")).value_or(0);
  if (m.n_experts_active > m.n_experts) m.n_experts_active = m.n_experts;
  if (m.n_experts == 0) m.n_experts_active = 0;
  m.n_shared_experts = count_key(f, key("expert_shared_count")).value_or(0);
  m.n_dense_layers =
      std::min(m.n_layers, count_key(f, key("leading_dense_block_count")).value_or(0));
  m.moe_ffn_dim = count_key(f, key("expert_feed_forward_length")).value_or(0);
  m.context_length = count_key(f, key("context_length")).value_or(4096);
  if (m.context_length <= 0) m.context_length = 4096;

  m.kv_lora_rank = count_key(f, key("attention.kv_lora_rank")).value_or(0);
  if (m.kv_lora_rank > 0) {
    m.attention = attention_kind::mla;
    m.qk_rope_head_dim = count_key(f, key("rope.dimension_count")).value_or(64);
    m.attention_text = "mla";
  } else if (auto win = count_key(f, key("attention.sliding_window")); win && *win > 0) {
    m.attention = attention_kind::sliding;
    m.sliding_window = *win;
    // Layer patterns: gemma3 has one global layer in 6, gemma2 / gpt-oss alternate, cohere2 has
    // one in 4; otherwise every layer slides (Mistral v0.1).
    if (arch == "gemma3") {
      m.sliding_layers = m.n_layers - m.n_layers / 6;
    } else if (arch == "gemma2" || arch == "gpt-oss") {
      m.sliding_layers = m.n_layers / 2;
    } else if (arch == "cohere2") {
      m.sliding_layers = m.n_layers - m.n_layers / 4;
    } else {
      m.sliding_layers = m.n_layers;
    }
    m.attention_text = "gqa+sliding";
  } else if (arch == "qwen3next" || arch == "qwen35moe" || arch == "qwen35") {
    m.attention = attention_kind::hybrid_linear;
    m.attention_text = "hybrid-linear";
  } else {
    m.attention_text = "gqa";
  }

  // Exact bytes from the tensor table; per decoded token the input embedding is a lookup (unless
  // it doubles as the output head) and each MoE expert tensor is read for k of n experts.
  bool tied = f.find_tensor("output.weight") == nullptr;
  m.tied_embeddings = tied;
  double all = 0, read = 0, params = 0, params_read = 0;
  std::map<std::string, double> bytes_by_type;
  double expert_frac =
      m.n_experts > 0 ? static_cast<double>(m.n_experts_active) / m.n_experts : 1.0;
  for (const auto& t : f.tensors()) {
    double b = static_cast<double>(t.n_bytes), n = static_cast<double>(t.n_elements);
    all += b;
    params += n;
    double frac = 1.0;
    if (t.name == "token_embd.weight") {
      m.vocab = t.ne[1];
      if (!tied) frac = 0.0;
    } else if (t.name.find("_exps") != std::string_view::npos) {
      frac = expert_frac;
    }
    read += b * frac;
    params_read += n * frac;
    if (t.n_dims >= 2) bytes_by_type[std::string(dtype_name(t.type))] += b;
  }
  if (all <= 0) return make_error("{}: the GGUF has no tensor data", path);
  if (m.vocab <= 0) {
    if (const auto* toks = f.find("tokenizer.ggml.tokens"); toks && toks->is_array()) {
      m.vocab = static_cast<int64_t>(toks->count);
    }
  }
  m.params_total = params;
  m.params_active = params_read;
  m.file_weight_bytes = all;
  m.file_read_bytes = read;
  if (auto ft = f.get_int("general.file_type")) m.file_quant = ftype_name(*ft);
  if (m.file_quant.empty() && !bytes_by_type.empty()) {
    m.file_quant =
        std::max_element(bytes_by_type.begin(), bytes_by_type.end(),
                         [](const auto& a, const auto& b) { return a.second < b.second; })
            ->first;
  }
  return m;
}

}  // namespace uma::planner
