// What a GGUF file holds at a glance, computed from metadata and tensor infos only (no weights
// are read): architecture, parameter count, bytes per tensor format, context length, tokenizer,
// and the memory needed for the weights and an F16 KV cache. Used by `uma inspect`; reusable by
// anything that needs a model's size without loading it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/gguf.h"

namespace uma::gguf {

struct format_stats {
  dtype type = dtype::f32;
  uint64_t tensors = 0;
  uint64_t elements = 0;
  uint64_t bytes = 0;
};

struct summary {
  uint32_t version = 0;
  uint64_t file_bytes = 0;
  uint64_t n_metadata = 0;
  uint64_t n_tensors = 0;
  uint64_t alignment = 0;
  std::string_view architecture;  // "" when absent
  std::string_view name;          // general.name, "" when absent

  uint64_t parameters = 0;  // sum of tensor elements
  // Mixture of experts (<arch>.expert_count / expert_used_count; absent when dense): the
  // parameters one token uses, each 3-D expert tensor counted for expert_used of expert_count.
  std::optional<uint64_t> n_expert;
  std::optional<uint64_t> n_expert_used;
  uint64_t active_parameters = 0;
  uint64_t weight_bytes = 0;          // sum of tensor data bytes
  std::vector<format_stats> formats;  // one per tensor type present, by type id

  // Hyperparameters (<arch>.*), absent when the file does not say.
  std::optional<uint64_t> context_length;
  std::optional<uint64_t> n_layer;
  std::optional<uint64_t> n_embd;
  std::optional<uint64_t> n_head;        // first layer's when given per layer
  std::optional<uint64_t> n_head_kv;     // first layer's when given per layer
  std::optional<uint64_t> key_length;    // per head; default n_embd / n_head
  std::optional<uint64_t> value_length;  // per head; default key_length

  // Tokenizer.
  std::string_view tokenizer_model;    // tokenizer.ggml.model, "" when absent
  std::string_view tokenizer_pre;      // tokenizer.ggml.pre, "" when absent
  std::optional<uint64_t> vocab_size;  // token count, else <arch>.vocab_size, else embedding rows
  bool chat_template = false;          // tokenizer.chat_template present

  // KV cache (F16 K and V) at kv_context tokens; kv_bytes absent when a needed field is missing
  // (kv_missing says which) or the product overflows.
  std::optional<uint64_t> kv_context;
  std::optional<uint64_t> kv_heads;  // KV heads summed over the layers (when kv_bytes is known)
  std::optional<uint64_t> kv_bytes;
  std::string kv_missing;
};

// `ctx` overrides the context used for the KV cache (default: <arch>.context_length).
summary summarize(const file& f, std::optional<uint64_t> ctx = std::nullopt);

}  // namespace uma::gguf
