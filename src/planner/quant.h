// Weight formats the planner sizes models with: bits per weight of each GGUF type or llama.cpp
// preset (K-quant mixes measured from whole files), plus MLX-style "4bit"/"8bit". Figures and their
// origin are documented in docs/planner.md.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace uma::planner {

struct quant_format {
  std::string_view name;  // canonical lower-case name, e.g. "q4_k_m"
  double bpw;             // effective bits per weight over a whole model
  std::string_view note;  // where the figure comes from
};

// All known formats, largest bpw first (used for "best quant that fits" ladders).
const std::vector<quant_format>& quant_formats();
// The ladder tried when looking for the best format that fits: f16 down to q2_k.
const std::vector<const quant_format*>& quant_ladder();
// Case-insensitive; accepts '-' for '_', aliases ("4bit", "int4", "fp16", "q4_k" = q4_k_m, ...).
const quant_format* find_quant(std::string_view name);
// Bytes per element of a KV cache type: f16 (default), f32, q8_0, q4_0; 0 if unknown.
double kv_elem_bytes(std::string_view type);

}  // namespace uma::planner
