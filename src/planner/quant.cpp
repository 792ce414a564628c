// The table behind quant.h. K-quant presets are mixes (attention/ffn_down/output get more bits), so
// their effective bits per weight come from llama.cpp's own file sizes for Llama-3-8B (8.03e9
// params; `llama-quantize --help`: "Q4_K_M 4.58G" etc., G = GiB): bpw = GiB * 2^30 * 8 / 8.03e9.
// Pure block types use their block layout (bytes per block * 8 / elements per block).
#include "planner/quant.h"

#include <cctype>

namespace uma::planner {

namespace {

constexpr std::string_view kpreset = "llama.cpp preset, file size of Llama-3-8B";

const std::vector<quant_format> table = {
    {"f32", 32.0, "4 bytes per weight"},
    {"f16", 16.0, "2 bytes per weight"},
    {"bf16", 16.0, "2 bytes per weight"},
    {"q8_0", 8.5, "block of 32: 32 int8 + f16 scale"},
    {"8bit", 8.5, "MLX 8-bit, group 64: 8 bits + f16 scale and bias per 64"},
    {"fp8", 8.0, "1 byte per weight (e4m3; block scales ignored)"},
    {"q6_k", 6.57, kpreset},
    {"q5_k_m", 5.70, kpreset},
    {"q5_k_s", 5.57, kpreset},
    {"q5_0", 5.57, kpreset},
    {"q4_k_m", 4.90, kpreset},
    {"q4_k_s", 4.67, kpreset},
    {"q4_0", 4.5, "block of 32: 16 bytes + f16 scale"},
    {"4bit", 4.5, "MLX 4-bit, group 64: 4 bits + f16 scale and bias per 64"},
    {"iq4_nl", 4.5, "llama.cpp: 4.50 bpw"},
    {"iq4_xs", 4.25, "llama.cpp: 4.25 bpw"},
    {"mxfp4", 4.25, "block of 32: 16 bytes + e8m0 scale"},
    {"q3_k_l", 4.31, kpreset},
    {"q3_k_m", 4.00, kpreset},
    {"q3_k_s", 3.65, kpreset},
    {"iq3_m", 3.66, "llama.cpp: 3.66 bpw mix"},
    {"iq3_xxs", 3.06, "llama.cpp: 3.06 bpw"},
    {"q2_k", 3.17, kpreset},
    {"iq2_xs", 2.31, "llama.cpp: 2.31 bpw"},
    {"iq2_xxs", 2.06, "llama.cpp: 2.06 bpw"},
    {"iq1_m", 1.75, "llama.cpp: 1.75 bpw"},
};

struct alias {
  std::string_view from, to;
};
const alias aliases[] = {
    {"fp32", "f32"},  {"float32", "f32"}, {"fp16", "f16"},   {"float16", "f16"}, {"half", "f16"},
    {"q8", "q8_0"},   {"int8", "8bit"},   {"8_bit", "8bit"}, {"f8", "fp8"},      {"e4m3", "fp8"},
    {"q6", "q6_k"},   {"q5_k", "q5_k_m"}, {"q5", "q5_k_m"},  {"q4_k", "q4_k_m"}, {"q4", "4bit"},
    {"int4", "4bit"}, {"4_bit", "4bit"},  {"w4", "4bit"},    {"q3_k", "q3_k_m"}, {"q3", "q3_k_m"},
    {"q2", "q2_k"},
};

std::string normalize(std::string_view s) {
  std::string out;
  for (char c : s) {
    char l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.push_back(l == '-' || l == ' ' ? '_' : l);
  }
  return out;
}

}  // namespace

const std::vector<quant_format>& quant_formats() {
  return table;
}

const std::vector<const quant_format*>& quant_ladder() {
  static const std::vector<const quant_format*> ladder = {
      find_quant("f16"),    find_quant("q8_0"),   find_quant("q6_k"), find_quant("q5_k_m"),
      find_quant("q4_k_m"), find_quant("q3_k_m"), find_quant("q2_k"), find_quant("iq2_xxs"),
  };
  return ladder;
}

const quant_format* find_quant(std::string_view name) {
  std::string n = normalize(name);
  for (const auto& a : aliases) {
    if (n == a.from) {
      n = std::string(a.to);
      break;
    }
  }
  for (const auto& q : table) {
    if (q.name == n) return &q;
  }
  return nullptr;
}

double kv_elem_bytes(std::string_view type) {
  std::string n = normalize(type);
  if (n == "f16" || n == "fp16" || n == "bf16") return 2.0;
  if (n == "f32" || n == "fp32") return 4.0;
  if (n == "q8_0" || n == "q8") return 34.0 / 32.0;
  if (n == "q4_0" || n == "q4") return 18.0 / 32.0;
  return 0.0;
}

}  // namespace uma::planner
