// Implementation of catalog.h: CSV rows -> validated hardware/model specs, custom hardware specs,
// and id resolution with suggestions.
#include "planner/catalog.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <set>

#include "planner/claim.h"
#include "planner/csv.h"

namespace uma::planner {

int64_t model_spec::attention_layers() const {
  switch (attention) {
    case attention_kind::sliding:
      return n_layers - sliding_layers;
    case attention_kind::hybrid_linear:
      // Qwen3-Next / Qwen3.5 family: one full-attention layer in every 4 (full_attention_interval
      // 4); the others are Gated DeltaNet layers with a fixed-size state.
      return (n_layers + 3) / 4;
    default:
      return n_layers;
  }
}

const hardware_spec* catalog::find_hardware(std::string_view id) const {
  for (const auto& h : hardware) {
    if (h.id == id) return &h;
  }
  return nullptr;
}

const model_spec* catalog::find_model(std::string_view id) const {
  for (const auto& m : models) {
    if (m.id == id) return &m;
  }
  return nullptr;
}

std::optional<double> parse_number(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  if (s.empty()) return std::nullopt;
  if (s.front() == '+') s.remove_prefix(1);
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

namespace {

// Field access for one CSV row with errors that name the line, id and column.
struct row_reader {
  const csv_table& t;
  size_t r;
  std::string what;  // "hardware.csv line 7 (apple-m1)"

  std::string text(std::string_view col) const {
    auto c = t.column(col);
    return c ? t.rows[r][*c] : std::string();
  }
  result<double> required(std::string_view col) const {
    std::string s = text(col);
    if (s.empty()) return make_error("{}: missing required number '{}'", what, col);
    auto v = parse_number(s);
    if (!v) return make_error("{}: '{}' is not a number: '{}'", what, col, s);
    if (*v <= 0) return make_error("{}: '{}' must be positive, got {}", what, col, s);
    return *v;
  }
  result<std::optional<double>> optional_num(std::string_view col) const {
    std::string s = text(col);
    if (s.empty()) return std::optional<double>();
    auto v = parse_number(s);
    if (!v) return make_error("{}: '{}' is not a number: '{}'", what, col, s);
    if (*v < 0) return make_error("{}: '{}' must not be negative, got {}", what, col, s);
    return std::optional<double>(*v);
  }
  result<int64_t> count(std::string_view col, bool need) const {
    std::string s = text(col);
    if (s.empty()) {
      if (need) return make_error("{}: missing required number '{}'", what, col);
      return int64_t{0};
    }
    auto v = parse_number(s);
    if (!v || *v != std::floor(*v) || std::fabs(*v) > 1e15) {
      return make_error("{}: '{}' is not a whole number: '{}'", what, col, s);
    }
    if (*v < 0) return make_error("{}: '{}' must not be negative, got {}", what, col, s);
    if (need && *v == 0) return make_error("{}: '{}' must be positive", what, col);
    return static_cast<int64_t>(*v);
  }
};

status require_columns(const csv_table& t, std::string_view file,
                       std::initializer_list<std::string_view> cols) {
  for (auto c : cols) {
    if (!t.column(c)) return make_error("{}: missing column '{}'", file, c);
  }
  return {};
}

status check_source(const row_reader& rr) {
  std::string src = rr.text("source_url");
  if (src.rfind("http://", 0) != 0 && src.rfind("https://", 0) != 0) {
    return make_error("{}: source_url must be an http(s) URL, got '{}'", rr.what, src);
  }
  return {};
}

status check_id(const row_reader& rr, const std::string& id, std::set<std::string>& seen) {
  if (id.empty()) return make_error("{}: empty id", rr.what);
  for (char c : id) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_')) {
      return make_error("{}: id '{}' has a character other than [A-Za-z0-9._-]", rr.what, id);
    }
  }
  if (!seen.insert(id).second) return make_error("{}: duplicate id '{}'", rr.what, id);
  return {};
}

}  // namespace

result<std::vector<hardware_spec>> parse_hardware_csv(std::string_view text) {
  auto parsed = parse_csv(text);
  if (!parsed) return make_error("hardware.csv: {}", parsed.message());
  const csv_table& t = *parsed;
  UMA_TRY(require_columns(t, "hardware.csv",
                          {"id", "name", "kind", "memory_gb", "mem_bandwidth_gbs", "source_url"}));
  std::vector<hardware_spec> out;
  std::set<std::string> seen;
  for (size_t r = 0; r < t.rows.size(); ++r) {
    row_reader rr{t, r, ""};
    hardware_spec h;
    h.id = rr.text("id");
    rr.what = fmt::format("hardware.csv line {} ({})", t.row_lines[r], h.id);
    UMA_TRY(check_id(rr, h.id, seen));
    h.name = rr.text("name");
    if (h.name.empty()) return make_error("{}: empty name", rr.what);
    h.vendor = rr.text("vendor");
    h.kind = rr.text("kind");
    UMA_ASSIGN(h.memory_gb, rr.required("memory_gb"));
    UMA_ASSIGN(h.bandwidth_gbs, rr.required("mem_bandwidth_gbs"));
    UMA_ASSIGN(h.fp16_tflops, rr.optional_num("fp16_tflops"));
    UMA_ASSIGN(h.int8_tops, rr.optional_num("int8_tops"));
    UMA_ASSIGN(h.price_usd, rr.optional_num("price_usd"));
    UMA_ASSIGN(h.power_typical_w, rr.optional_num("power_w_typical_inference"));
    UMA_ASSIGN(h.power_max_w, rr.optional_num("power_w_max"));
    UMA_ASSIGN(auto year, rr.optional_num("year"));
    if (year) h.year = static_cast<int>(*year);
    h.interconnect = rr.text("interconnect");
    h.source_url = rr.text("source_url");
    h.notes = rr.text("notes");
    UMA_TRY(check_source(rr));
    out.push_back(std::move(h));
  }
  if (out.empty()) return make_error("hardware.csv: no rows");
  return out;
}

namespace {

result<attention_kind> attention_from_text(const row_reader& rr, const std::string& a) {
  if (a == "gqa" || a == "mha") return attention_kind::gqa;
  if (a == "mla") return attention_kind::mla;
  if (a == "gqa+sliding" || a == "sliding") return attention_kind::sliding;
  if (a == "hybrid-linear") return attention_kind::hybrid_linear;
  return make_error("{}: unknown attention '{}' (gqa, mla, gqa+sliding, hybrid-linear)", rr.what,
                    a);
}

status validate_model(const row_reader& rr, const model_spec& m) {
  if (m.params_active > m.params_total) {
    return make_error("{}: params_active_b exceeds params_total_b", rr.what);
  }
  if (m.n_kv_heads > m.n_heads) return make_error("{}: n_kv_heads exceeds n_heads", rr.what);
  if (m.attention == attention_kind::mla && (m.kv_lora_rank == 0 || m.qk_rope_head_dim == 0)) {
    return make_error("{}: mla attention needs kv_lora_rank and qk_rope_head_dim", rr.what);
  }
  if (m.attention == attention_kind::sliding) {
    if (m.sliding_window == 0 || m.sliding_layers == 0) {
      return make_error("{}: sliding attention needs sliding_window and sliding_layers", rr.what);
    }
    if (m.sliding_layers > m.n_layers) {
      return make_error("{}: sliding_layers exceeds n_layers", rr.what);
    }
  }
  if (m.n_experts_active > m.n_experts) {
    return make_error("{}: n_experts_active exceeds n_experts", rr.what);
  }
  if ((m.n_experts > 0) != (m.n_experts_active > 0)) {
    return make_error("{}: n_experts and n_experts_active must both be set for MoE", rr.what);
  }
  if (m.n_dense_layers > m.n_layers)
    return make_error("{}: n_dense_layers exceeds n_layers", rr.what);
  return {};
}

}  // namespace

result<std::vector<model_spec>> parse_models_csv(std::string_view text) {
  auto parsed = parse_csv(text);
  if (!parsed) return make_error("models.csv: {}", parsed.message());
  const csv_table& t = *parsed;
  UMA_TRY(require_columns(t, "models.csv",
                          {"id", "name", "gguf_arch", "params_total_b", "params_active_b",
                           "n_layers", "n_embd", "n_heads", "n_kv_heads", "head_dim", "attention",
                           "vocab_size", "context_length", "source_url"}));
  std::vector<model_spec> out;
  std::set<std::string> seen;
  for (size_t r = 0; r < t.rows.size(); ++r) {
    row_reader rr{t, r, ""};
    model_spec m;
    m.id = rr.text("id");
    rr.what = fmt::format("models.csv line {} ({})", t.row_lines[r], m.id);
    UMA_TRY(check_id(rr, m.id, seen));
    m.name = rr.text("name");
    if (m.name.empty()) return make_error("{}: empty name", rr.what);
    m.family = rr.text("family");
    m.arch = rr.text("gguf_arch");
    if (m.arch.empty()) return make_error("{}: empty gguf_arch", rr.what);
    m.attention_text = rr.text("attention");
    UMA_ASSIGN(m.attention, attention_from_text(rr, m.attention_text));
    UMA_ASSIGN(double total_b, rr.required("params_total_b"));
    UMA_ASSIGN(double active_b, rr.required("params_active_b"));
    m.params_total = total_b * 1e9;
    m.params_active = active_b * 1e9;
    UMA_ASSIGN(m.n_layers, rr.count("n_layers", true));
    UMA_ASSIGN(m.n_embd, rr.count("n_embd", true));
    UMA_ASSIGN(m.n_heads, rr.count("n_heads", true));
    UMA_ASSIGN(m.n_kv_heads, rr.count("n_kv_heads", true));
    UMA_ASSIGN(m.head_dim, rr.count("head_dim", true));
    UMA_ASSIGN(m.kv_lora_rank, rr.count("kv_lora_rank", false));
    UMA_ASSIGN(m.qk_rope_head_dim, rr.count("qk_rope_head_dim", false));
    UMA_ASSIGN(m.v_head_dim, rr.count("v_head_dim", false));
    UMA_ASSIGN(m.sliding_window, rr.count("sliding_window", false));
    UMA_ASSIGN(m.sliding_layers, rr.count("sliding_layers", false));
    UMA_ASSIGN(m.n_experts, rr.count("n_experts", false));
    UMA_ASSIGN(m.n_experts_active, rr.count("n_experts_active", false));
    UMA_ASSIGN(m.n_shared_experts, rr.count("n_shared_experts", false));
    UMA_ASSIGN(m.n_dense_layers, rr.count("n_dense_layers", false));
    UMA_ASSIGN(m.ffn_dim, rr.count("ffn_dim", false));
    UMA_ASSIGN(m.moe_ffn_dim, rr.count("moe_ffn_dim", false));
    UMA_ASSIGN(m.vocab, rr.count("vocab_size", true));
    UMA_ASSIGN(m.context_length, rr.count("context_length", true));
    std::string tied = rr.text("tied_embeddings");
    if (tied != "" && tied != "true" && tied != "false") {
      return make_error("{}: tied_embeddings must be true or false, got '{}'", rr.what, tied);
    }
    m.tied_embeddings = tied == "true";
    m.release = rr.text("release");
    m.source_url = rr.text("source_url");
    m.notes = rr.text("notes");
    UMA_TRY(check_source(rr));
    UMA_TRY(validate_model(rr, m));
    out.push_back(std::move(m));
  }
  if (out.empty()) return make_error("models.csv: no rows");
  return out;
}

result<catalog> load_catalog(std::string_view hardware_csv, std::string_view models_csv) {
  catalog c;
  UMA_ASSIGN(c.hardware, parse_hardware_csv(hardware_csv));
  UMA_ASSIGN(c.models, parse_models_csv(models_csv));
  return c;
}

result<catalog> builtin_catalog() {
  return load_catalog(embedded_hardware_csv(), embedded_models_csv());
}

result<hardware_spec> parse_custom_hardware(std::string_view spec) {
  constexpr std::string_view prefix = "custom:";
  if (spec.substr(0, prefix.size()) != prefix) {
    return make_error("custom hardware must start with 'custom:'");
  }
  std::string_view rest = spec.substr(prefix.size());
  hardware_spec h;
  h.id = std::string(spec);
  h.kind = "custom";
  h.vendor = "user";
  h.source_url = "user-supplied";
  bool have_mem = false, have_bw = false;
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    size_t eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0 || eq + 1 == item.size()) {
      return make_error("malformed custom hardware item '{}': expected key=value", item);
    }
    std::string_view key = item.substr(0, eq), val = item.substr(eq + 1);
    if (key == "name") {
      h.name = std::string(val);
      continue;
    }
    if (key == "link") {
      h.interconnect = std::string(val);
      continue;
    }
    auto v = parse_number(val);
    if (!v) return make_error("custom hardware '{}': '{}' is not a number", key, val);
    if (*v <= 0) return make_error("custom hardware '{}' must be positive, got {}", key, val);
    if (key == "mem") {
      h.memory_gb = *v;
      have_mem = true;
    } else if (key == "bw") {
      h.bandwidth_gbs = *v;
      have_bw = true;
    } else if (key == "tflops") {
      h.fp16_tflops = *v;
    } else if (key == "int8") {
      h.int8_tops = *v;
    } else if (key == "price") {
      h.price_usd = *v;
    } else if (key == "watts") {
      h.power_typical_w = *v;
    } else {
      return make_error(
          "unknown custom hardware key '{}' (mem, bw, tflops, int8, price, watts, name, link)",
          key);
    }
  }
  if (!have_mem || !have_bw) {
    return make_error("custom hardware needs mem=GiB and bw=GB/s, e.g. custom:mem=128,bw=614");
  }
  if (h.name.empty()) h.name = fmt::format("custom {} GB, {} GB/s", h.memory_gb, h.bandwidth_gbs);
  return h;
}

result<hardware_spec> resolve_hardware(const catalog& cat, std::string_view id) {
  if (id.substr(0, 7) == "custom:") return parse_custom_hardware(id);
  if (const auto* h = cat.find_hardware(id)) return *h;
  auto guess = match_hardware(cat, id);
  if (guess.entry) {
    return make_error("unknown hardware id '{}' (did you mean '{}'? see uma plan --list-hardware)",
                      id, cat.hardware[*guess.entry].id);
  }
  return make_error("unknown hardware id '{}' (see uma plan --list-hardware)", id);
}

result<model_spec> resolve_model(const catalog& cat, std::string_view id_or_path) {
  if (const auto* m = cat.find_model(id_or_path)) return *m;
  std::string path(id_or_path);
  bool looks_like_file = path.size() > 5 && path.substr(path.size() - 5) == ".gguf";
  std::error_code ec;
  if (looks_like_file || std::filesystem::is_regular_file(path, ec)) return model_from_gguf(path);
  auto guess = match_model(cat, id_or_path);
  if (guess.entry) {
    return make_error("unknown model '{}' (did you mean '{}'? see uma plan --list-models)",
                      id_or_path, cat.models[*guess.entry].id);
  }
  return make_error(
      "unknown model '{}': not a catalog id (see uma plan --list-models) nor a "
      ".gguf file",
      id_or_path);
}

}  // namespace uma::planner
