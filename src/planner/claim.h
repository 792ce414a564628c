// Fuzzy matching of free text to catalog entries ("M5 Max 128GB" -> apple-m5-max-40c) and parsing
// of performance claims for `uma plan check "Llama 3.3 70B Q4_K_M at 25 tok/s on M5 Max 128GB"`.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "planner/catalog.h"
#include "planner/quant.h"
#include "util/status.h"

namespace uma::planner {

struct match_result {
  std::optional<size_t> entry;  // index into the catalog vector; empty when nothing matched
  double score = 0;
  std::vector<size_t> alternatives;  // other entries that scored the same
};

// Lower-case name tokens: "Llama-3.3-70B" -> {llama, 3.3, 70b}; "M5Max" -> {m5, max}.
std::vector<std::string> name_tokens(std::string_view text);
match_result match_hardware(const catalog& cat, std::string_view text);
match_result match_model(const catalog& cat, std::string_view text);

struct parsed_claim {
  std::string text;
  double tps = 0;                       // the claimed decode tok/s
  const quant_format* quant = nullptr;  // stated format, or the default when absent
  bool quant_stated = false;
  size_t model = 0, hardware = 0;  // catalog indices
  int nodes = 1;                   // "on 2x M3 Ultra": a pipeline of that many machines
  std::string model_text, hardware_text;
  std::vector<size_t> model_alternatives, hardware_alternatives;
};

// Errors say what could not be found ("no tok/s figure", "no model recognised in ...").
result<parsed_claim> parse_claim(const catalog& cat, std::string_view text,
                                 const quant_format* default_quant);

}  // namespace uma::planner
