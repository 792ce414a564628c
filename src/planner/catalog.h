// Hardware and model catalogs for `uma plan`: rows of data/hardware.csv and data/models.csv (built
// into the binary, see embed_data.cmake), a user's `custom:` hardware, or a model read from a GGUF.
// Every catalog row keeps its source_url so reports can cite it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace uma::planner {

inline constexpr double gib = 1024.0 * 1024.0 * 1024.0;

struct hardware_spec {
  std::string id, name, vendor, kind;  // kind: laptop, desktop, gpu, server, custom
  double memory_gb = 0;                // GiB (RAM is sold in binary sizes: "128GB" = 128 GiB)
  double bandwidth_gbs = 0;            // GB/s (decimal), memory read bandwidth
  std::optional<double> fp16_tflops;   // dense fp16 compute
  std::optional<double> int8_tops;     // dense int8 compute
  std::optional<double> price_usd;
  std::optional<double> power_typical_w;  // measured while running an LLM
  std::optional<double> power_max_w;
  std::string interconnect;
  std::optional<int> year;
  std::string source_url, notes;

  double memory_bytes() const { return memory_gb * gib; }
  // Power to use for energy: the measured inference figure, else the maximum.
  std::optional<double> power_w() const { return power_typical_w ? power_typical_w : power_max_w; }
};

enum class attention_kind { gqa, mla, sliding, hybrid_linear };

struct model_spec {
  std::string id, name, family, arch;
  std::string attention_text;  // as written in the catalog ("gqa+sliding", ...)
  attention_kind attention = attention_kind::gqa;
  double params_total = 0;   // parameters (count, not billions)
  double params_active = 0;  // per token (MoE: routed experts used + shared parts)
  int64_t n_layers = 0, n_embd = 0, n_heads = 0, n_kv_heads = 0, head_dim = 0;
  int64_t kv_lora_rank = 0, qk_rope_head_dim = 0, v_head_dim = 0;  // MLA
  int64_t sliding_window = 0, sliding_layers = 0;                  // sliding-window attention
  int64_t n_experts = 0, n_experts_active = 0, n_shared_experts = 0, n_dense_layers = 0;
  int64_t ffn_dim = 0, moe_ffn_dim = 0;
  int64_t vocab = 0, context_length = 0;
  bool tied_embeddings = false;
  std::string release, source_url, notes;

  // Set when the model comes from a GGUF file: exact bytes of its own weights.
  std::optional<double> file_weight_bytes;  // all tensors
  std::optional<double> file_read_bytes;    // read per decoded token (one sequence)
  std::string file_quant;                   // e.g. "q4_k" (the dominant weight type)

  bool is_moe() const { return n_experts > 0 && n_experts_active > 0; }
  // Layers that keep a KV cache growing with the context (the others: windowed or fixed state).
  int64_t attention_layers() const;
};

struct catalog {
  std::vector<hardware_spec> hardware;
  std::vector<model_spec> models;

  const hardware_spec* find_hardware(std::string_view id) const;  // exact id, nullptr if none
  const model_spec* find_model(std::string_view id) const;        // exact id, nullptr if none
};

// Parse and validate each table: required columns present, required numbers present and
// positive, optional numbers non-negative, a source_url on every row, unique ids.
result<std::vector<hardware_spec>> parse_hardware_csv(std::string_view text);
result<std::vector<model_spec>> parse_models_csv(std::string_view text);
result<catalog> load_catalog(std::string_view hardware_csv, std::string_view models_csv);

// The catalogs compiled into the binary (data/*.csv at build time).
std::string_view embedded_hardware_csv();
std::string_view embedded_models_csv();
result<catalog> builtin_catalog();

// "custom:mem=128,bw=614[,tflops=F][,int8=T][,price=USD][,watts=W][,name=TEXT][,link=NAME]":
// mem in GiB and bw in GB/s are required; every number must be positive.
result<hardware_spec> parse_custom_hardware(std::string_view spec);
// A catalog id or a custom: spec; unknown ids get a "did you mean" hint.
result<hardware_spec> resolve_hardware(const catalog& cat, std::string_view id);
// A catalog id, or a path to a .gguf file (its shape is read from the metadata).
result<model_spec> resolve_model(const catalog& cat, std::string_view id_or_path);
// Reads a model's shape and exact weight bytes from a GGUF file.
result<model_spec> model_from_gguf(const std::string& path);

// Strict number parsing: the whole string must be a finite number.
std::optional<double> parse_number(std::string_view s);

}  // namespace uma::planner
