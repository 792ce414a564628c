// Implementation of claim.h. Matching scores each catalog entry by the rarity-weighted name tokens
// it shares with the text, minus half the weight of its numeric tokens the text does not mention
// (so "Llama 3.3 70B" prefers llama-3.3-70b over llama-3.1-70b).
#include "planner/claim.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <regex>
#include <set>

namespace uma::planner {

namespace {

bool is_digitish(char c) {
  return std::isdigit(static_cast<unsigned char>(c)) || c == '.';
}

// Splits an alphanumeric word into letter and digit runs, then glues runs back together unless
// one side is a letter run of 3+ characters: "m5max" -> m5 max, "70b" stays, "rtx4090" -> rtx 4090.
void split_word(const std::string& w, std::vector<std::string>& out) {
  std::vector<std::string> runs;
  for (char c : w) {
    bool d = is_digitish(c);
    if (runs.empty() || is_digitish(runs.back().back()) != d) {
      runs.emplace_back(1, c);
    } else {
      runs.back().push_back(c);
    }
  }
  auto long_letters = [](const std::string& r) { return !is_digitish(r[0]) && r.size() >= 3; };
  std::string cur;
  for (size_t i = 0; i < runs.size(); ++i) {
    if (!cur.empty() && (long_letters(runs[i]) || long_letters(runs[i - 1]))) {
      out.push_back(cur);
      cur.clear();
    }
    cur += runs[i];
  }
  if (!cur.empty()) out.push_back(cur);
}

bool has_digit(const std::string& t) {
  return std::any_of(t.begin(), t.end(), [](char c) { return std::isdigit(c); });
}

struct entry_tokens {
  std::set<std::string> tokens;
};

// Tokens of one catalog entry: its id, its name, and for hardware the memory size ("128gb").
template <class T>
std::vector<entry_tokens> tokens_of(const std::vector<T>& items, bool hardware) {
  std::vector<entry_tokens> out;
  for (const auto& it : items) {
    entry_tokens e;
    for (auto& t : name_tokens(it.id)) e.tokens.insert(t);
    for (auto& t : name_tokens(it.name)) e.tokens.insert(t);
    if constexpr (std::is_same_v<T, hardware_spec>) {
      if (hardware) e.tokens.insert(fmt::format("{}gb", it.memory_gb));
    }
    out.push_back(std::move(e));
  }
  return out;
}

match_result best_match(const std::vector<entry_tokens>& entries, std::string_view text) {
  match_result r;
  auto q = name_tokens(text);
  std::set<std::string> query(q.begin(), q.end());
  if (query.empty()) return r;
  std::map<std::string, int> df;
  for (const auto& e : entries) {
    for (const auto& t : e.tokens) ++df[t];
  }
  double n = static_cast<double>(entries.size());
  auto weight = [&](const std::string& t) { return std::log(1.0 + n / df[t]); };
  double best = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    double score = 0;
    int matched = 0, rarest_df = 1 << 30;
    for (const auto& t : entries[i].tokens) {
      if (query.count(t)) {
        score += weight(t);
        rarest_df = std::min(rarest_df, df[t]);
        ++matched;
      } else if (has_digit(t)) {
        score -= 0.5 * weight(t);
      }
    }
    // A single common word ("apple", "llama") is not a match.
    bool distinctive = matched >= 2 || (matched == 1 && rarest_df <= 2);
    if (!distinctive || score <= 0) continue;
    if (score > best + 1e-9) {
      best = score;
      r.entry = i;
      r.alternatives.clear();
    } else if (std::fabs(score - best) <= 1e-9 && r.entry) {
      r.alternatives.push_back(i);
    }
  }
  r.score = best;
  return r;
}

std::string lower(std::string_view s) {
  std::string out;
  for (char c : s) out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  return out;
}

std::string trim(std::string s) {
  size_t a = s.find_first_not_of(" \t\r\n,.;:");
  if (a == std::string::npos) return "";
  size_t b = s.find_last_not_of(" \t\r\n,.;:");
  return s.substr(a, b - a + 1);
}

}  // namespace

std::vector<std::string> name_tokens(std::string_view text) {
  std::string s = lower(text);
  std::vector<std::string> out;
  std::string word;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool keep = std::isalnum(static_cast<unsigned char>(c)) ||
                (c == '.' && i > 0 && i + 1 < s.size() &&
                 std::isdigit(static_cast<unsigned char>(s[i - 1])) &&
                 std::isdigit(static_cast<unsigned char>(s[i + 1])));
    if (keep) {
      word.push_back(c);
    } else if (!word.empty()) {
      split_word(word, out);
      word.clear();
    }
  }
  if (!word.empty()) split_word(word, out);
  return out;
}

match_result match_hardware(const catalog& cat, std::string_view text) {
  for (size_t i = 0; i < cat.hardware.size(); ++i) {
    if (lower(cat.hardware[i].id) == lower(trim(std::string(text)))) return {i, 1e9, {}};
  }
  return best_match(tokens_of(cat.hardware, true), text);
}

match_result match_model(const catalog& cat, std::string_view text) {
  for (size_t i = 0; i < cat.models.size(); ++i) {
    if (lower(cat.models[i].id) == lower(trim(std::string(text)))) return {i, 1e9, {}};
  }
  return best_match(tokens_of(cat.models, false), text);
}

result<parsed_claim> parse_claim(const catalog& cat, std::string_view text,
                                 const quant_format* default_quant) {
  parsed_claim c;
  c.text = std::string(text);
  if (text.size() > 2000) return make_error("can't parse claim: longer than 2000 characters");
  std::string s = lower(text);

  static const std::regex tps_re(
      R"((\d+(?:\.\d+)?)\s*(?:tok(?:en)?s?\s*/\s*s(?:ec)?\b|t/s\b|tps\b|tok(?:en)?s?\s+(?:per|a)\s+s(?:ec(?:ond)?)?\b))");
  std::smatch m;
  if (!std::regex_search(s, m, tps_re)) {
    return make_error("can't parse claim: no tok/s figure found (write e.g. '25 tok/s') in '{}'",
                      text);
  }
  auto tps = parse_number(m[1].str());
  if (!tps || *tps <= 0) {
    return make_error("can't parse claim: the tok/s figure must be a positive finite number");
  }
  c.tps = *tps;
  s.replace(static_cast<size_t>(m.position(0)), static_cast<size_t>(m.length(0)),
            std::string(static_cast<size_t>(m.length(0)), ' '));

  static const std::regex quant_re(
      R"((?:^|[^a-z0-9_])((?:i?q\d(?:_[a-z0-9]+)*)|bf16|fp16|f16|fp32|f32|fp8|int8|int4|mxfp4|\d+[- ]?bit)(?=$|[^a-z0-9_]))");
  if (std::regex_search(s, m, quant_re)) {
    const quant_format* q = find_quant(m[1].str());
    if (!q) return make_error("can't parse claim: unknown weight format '{}'", m[1].str());
    c.quant = q;
    c.quant_stated = true;
    s.replace(static_cast<size_t>(m.position(1)), static_cast<size_t>(m.length(1)),
              std::string(static_cast<size_t>(m.length(1)), ' '));
  } else {
    c.quant = default_quant ? default_quant : find_quant("q4_k_m");
  }

  size_t on = s.rfind(" on ");
  c.model_text = trim(on == std::string::npos ? s : s.substr(0, on));
  c.hardware_text = trim(on == std::string::npos ? s : s.substr(on + 4));
  // "2x M3 Ultra", "2 x Mac Studio": a pipeline of identical machines.
  static const std::regex nodes_re(R"((?:^|\s)(\d{1,4})\s*[x*]\s+)");
  if (std::regex_search(c.hardware_text, m, nodes_re)) {
    int n = std::stoi(m[1].str());
    if (n < 1 || n > 1024) return make_error("can't parse claim: {} machines is out of range", n);
    c.nodes = n;
    c.hardware_text =
        trim(c.hardware_text.substr(0, static_cast<size_t>(m.position(0))) + " " +
             c.hardware_text.substr(static_cast<size_t>(m.position(0) + m.length(0))));
  }
  auto mm = match_model(cat, c.model_text);
  if (!mm.entry) {
    return make_error(
        "can't parse claim: no catalog model recognised in '{}' (see uma plan "
        "--list-models)",
        c.model_text);
  }
  auto hm = match_hardware(cat, c.hardware_text);
  if (!hm.entry) {
    return make_error(
        "can't parse claim: no catalog hardware recognised in '{}' (see uma plan "
        "--list-hardware)",
        c.hardware_text);
  }
  c.model = *mm.entry;
  c.hardware = *hm.entry;
  c.model_alternatives = mm.alternatives;
  c.hardware_alternatives = hm.alternatives;
  return c;
}

}  // namespace uma::planner
