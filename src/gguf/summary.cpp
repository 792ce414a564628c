// Implementation of gguf/summary.h. Metadata is untrusted: every hyperparameter is read with a
// type check, zero heads never divide, and sizes are multiplied with overflow checks.
#include "gguf/summary.h"

#include <algorithm>
#include <map>

#include "util/checked.h"

namespace uma::gguf {

namespace {

// A non-negative integer scalar, or element `layer` of a per-layer integer array.
std::optional<uint64_t> uint_or_layer(const file& f, const std::string& key, uint64_t layer = 0) {
  const value* v = f.find(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_array()) return v->as_uint();
  if (v->scalar_elem_size() == 0 || v->elem_type == value_type::f32 ||
      v->elem_type == value_type::f64 || v->elem_type == value_type::boolean || layer >= v->count)
    return std::nullopt;
  int64_t e = v->array_int(layer);
  if (e < 0) return std::nullopt;
  return static_cast<uint64_t>(e);
}

}  // namespace

summary summarize(const file& f, std::optional<uint64_t> ctx) {
  summary s;
  s.version = f.version();
  s.file_bytes = f.bytes().size();
  s.n_metadata = f.metadata().size();
  s.n_tensors = f.tensors().size();
  s.alignment = f.alignment();
  s.architecture = f.architecture();
  s.name = f.get_string("general.name").value_or(std::string_view{});

  std::map<uint32_t, format_stats> by_type;
  for (const auto& t : f.tensors()) {
    auto& st = by_type[static_cast<uint32_t>(t.type)];
    st.type = t.type;
    st.tensors += 1;
    // Bytes lie inside the file, so these sums cannot really overflow; saturate regardless.
    st.elements = checked_add(st.elements, t.n_elements).value_or(UINT64_MAX);
    st.bytes = checked_add(st.bytes, t.n_bytes).value_or(UINT64_MAX);
    s.parameters = checked_add(s.parameters, t.n_elements).value_or(UINT64_MAX);
    s.weight_bytes = checked_add(s.weight_bytes, t.n_bytes).value_or(UINT64_MAX);
  }
  for (const auto& [id, st] : by_type) s.formats.push_back(st);

  const std::string a = std::string(s.architecture) + ".";
  s.active_parameters = s.parameters;
  if (auto ne = f.get_uint(a + "expert_count"); ne && *ne > 0) {
    s.n_expert = ne;
    s.n_expert_used = std::min(*ne, f.get_uint(a + "expert_used_count").value_or(*ne));
    for (const auto& t : f.tensors())
      if (t.n_dims == 3 && static_cast<uint64_t>(t.ne[2]) == *ne)
        s.active_parameters -= t.n_elements - t.n_elements / *ne * *s.n_expert_used;
  }
  s.context_length = f.get_uint(a + "context_length");
  s.n_layer = f.get_uint(a + "block_count");
  s.n_embd = f.get_uint(a + "embedding_length");
  s.n_head = uint_or_layer(f, a + "attention.head_count");
  s.n_head_kv = uint_or_layer(f, a + "attention.head_count_kv");
  if (!s.n_head_kv) s.n_head_kv = s.n_head;
  s.key_length = f.get_uint(a + "attention.key_length");
  if (!s.key_length && s.n_embd && s.n_head && *s.n_head > 0) s.key_length = *s.n_embd / *s.n_head;
  s.value_length = f.get_uint(a + "attention.value_length");
  if (!s.value_length) s.value_length = s.key_length;

  s.tokenizer_model = f.get_string("tokenizer.ggml.model").value_or(std::string_view{});
  s.tokenizer_pre = f.get_string("tokenizer.ggml.pre").value_or(std::string_view{});
  if (const value* t = f.find("tokenizer.ggml.tokens"); t != nullptr && t->is_array())
    s.vocab_size = t->count;
  else if (auto v = f.get_uint(a + "vocab_size"))
    s.vocab_size = v;
  else if (const tensor_info* e = f.find_tensor("token_embd.weight"))
    s.vocab_size = static_cast<uint64_t>(e->ne[1]);
  s.chat_template = f.find("tokenizer.chat_template") != nullptr;

  // KV cache: for each layer, n_head_kv(layer) * (key_length + value_length) * ctx * 2 bytes.
  s.kv_context = ctx ? ctx : s.context_length;
  if (s.architecture.empty())
    s.kv_missing = "general.architecture";
  else if (!s.n_layer)
    s.kv_missing = a + "block_count";
  else if (!s.n_head_kv)
    s.kv_missing = a + "attention.head_count_kv";
  else if (!s.key_length)
    s.kv_missing = a + "attention.key_length";
  else if (!s.kv_context)
    s.kv_missing = a + "context_length";
  if (!s.kv_missing.empty()) return s;
  const std::string kv_key = f.find(a + "attention.head_count_kv") ? a + "attention.head_count_kv"
                                                                   : a + "attention.head_count";
  auto per_token_head = checked_add(*s.key_length, *s.value_length);
  std::optional<uint64_t> heads = 0;  // sum over layers of n_head_kv
  const value* hv = f.find(kv_key);
  const bool per_layer = hv != nullptr && hv->is_array();
  for (uint64_t l = 0; l < *s.n_layer && heads; ++l) {
    auto h = per_layer ? uint_or_layer(f, kv_key, l) : s.n_head_kv;
    if (!h) {
      s.kv_missing = fmt::format("{} for layer {}", kv_key, l);
      return s;
    }
    heads = checked_add(*heads, *h);
    if (!per_layer) {
      heads = checked_mul(*h, *s.n_layer);
      break;
    }
  }
  if (!heads || !per_token_head) {
    s.kv_missing = "a size that fits 64 bits";
    return s;
  }
  s.kv_heads = heads;
  auto b = checked_mul(*heads, *per_token_head);
  if (b) b = checked_mul(*b, *s.kv_context);
  if (b) b = checked_mul(*b, 2);
  s.kv_bytes = b;
  if (!b) s.kv_missing = "a size that fits 64 bits";
  return s;
}

}  // namespace uma::gguf
