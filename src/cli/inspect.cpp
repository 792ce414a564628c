// `uma inspect FILE [--json] [--ctx N] [--kv-type T] [--metadata] [--tensors]`: what a GGUF holds
// and what it needs in memory, without reading the weights. Exit 0 on a readable file; on a
// malformed one, exit 1 with one line on stderr naming the problem.
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "gguf/gguf.h"
#include "gguf/summary.h"
#include "kernels/ops.h"
#include "model/config.h"
#include "model/model.h"
#include "util/checked.h"

namespace uma::cli {
namespace {

using gguf::value;
using gguf::value_type;
using json = nlohmann::ordered_json;

struct inspect_opts {
  std::string path;
  bool json = false;
  bool metadata = false;
  bool tensors = false;
  std::optional<uint64_t> ctx;
  std::string kv_type = "f16";
};

// The KV cache's bytes at the summary's context in the cache's element type: K and V rows of
// key_length / value_length values per KV head and layer (kernels::kv_row_bytes: F16 two bytes a
// value, Q8_0 34 per 32). Absent with what is missing (Q8_0 needs head dims of multiples of 32,
// as model::load does).
struct kv_estimate {
  std::optional<uint64_t> bytes;
  std::string missing;
};
kv_estimate estimate_kv(const gguf::summary& s, kernels::kv_format f) {
  if (!s.kv_bytes || !s.kv_heads) return {std::nullopt, s.kv_missing};
  const uint64_t kd = s.key_length.value_or(0), vd = s.value_length.value_or(0);
  if (!kernels::kv_fits(f, static_cast<int64_t>(kd)) ||
      !kernels::kv_fits(f, static_cast<int64_t>(vd)))
    return {std::nullopt,
            fmt::format("head dims that are multiples of 32 for {} (key {}, value {})",
                        kernels::kv_format_name(f), kd, vd)};
  const auto row = checked_add(kernels::kv_row_bytes(f, static_cast<int64_t>(kd)),
                               kernels::kv_row_bytes(f, static_cast<int64_t>(vd)));
  std::optional<uint64_t> b = row ? checked_mul(*s.kv_heads, *row) : std::nullopt;
  if (b) b = checked_mul(*b, *s.kv_context);
  if (!b) return {std::nullopt, "a size that fits 64 bits"};
  return {b, ""};
}

// The bytes uma's engine reserves for one sequence's KV cache where that differs from every
// layer holding the whole context (sliding-window layers kept in rings:
// model::cache_bytes_for); none for other models, or where the config does not read.
std::optional<uint64_t> windowed_kv(const gguf::file& f, const gguf::summary& s,
                                    const inspect_opts& o) {
  if (!s.kv_context || *s.kv_context > (uint64_t{1} << 40)) return std::nullopt;
  auto c = model::read_config(f);
  if (!c.ok() || c->sliding_window <= 0) return std::nullopt;
  const kernels::kv_format fmt = kv_format_of(o.kv_type);
  if (!kernels::kv_fits(fmt, c->head_dim) || !kernels::kv_fits(fmt, c->head_dim_v))
    return std::nullopt;
  const auto w = static_cast<uint64_t>(
      model::cache_bytes_for(*c, static_cast<int64_t>(*s.kv_context), 1, fmt));
  const kv_estimate full = estimate_kv(s, fmt);
  if (full.bytes && *full.bytes == w) return std::nullopt;  // a context within the windows
  return w;
}

std::string human_bytes(uint64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024 && u < 6) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", b) : fmt::format("{:.2f} {}", v, units[u]);
}

std::string human_count(uint64_t n) {
  const char* units[] = {"", "K", "M", "B", "T"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1000 && u < 4) {
    v /= 1000;
    ++u;
  }
  return u == 0 ? fmt::format("{}", n) : fmt::format("{:.2f}{}", v, units[u]);
}

template <class T>
json opt_json(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

json str_or_null(std::string_view s) {
  return s.empty() ? json(nullptr) : json(std::string(s));
}

// A metadata value as JSON; long arrays are summarized unless `full`.
json value_json(const value& v, bool full) {
  switch (v.type) {
    case value_type::string:
      return std::string(v.str);
    case value_type::boolean:
      return v.u != 0;
    case value_type::f32:
    case value_type::f64:
      return v.f;
    case value_type::array:
      break;
    default:
      if (auto i = v.as_int()) return *i;
      return v.u;
  }
  const uint64_t limit = 16;
  const uint64_t n = full ? v.count : std::min<uint64_t>(v.count, limit);
  json items = json::array();
  for (uint64_t k = 0; k < n; ++k) {
    if (v.elem_type == value_type::string)
      items.push_back(std::string(v.strs[k]));
    else if (v.elem_type == value_type::array)
      items.push_back(value_json(v.items[k], full));
    else if (v.elem_type == value_type::f32 || v.elem_type == value_type::f64)
      items.push_back(v.array_double(k));
    else
      items.push_back(v.array_int(k));
  }
  if (n == v.count) return items;
  return json{{"type", std::string("array of ") + gguf::value_type_name(v.elem_type)},
              {"count", v.count},
              {"first", items}};
}

// One line for a metadata value in the text report.
std::string value_text(const value& v) {
  if (v.type == value_type::string) {
    std::string s = gguf::printable(v.str.substr(0, 60));
    return fmt::format("\"{}\"{}", s,
                       v.str.size() > 60 ? fmt::format("... ({} bytes)", v.str.size()) : "");
  }
  if (!v.is_array()) return value_json(v, false).dump();
  std::string out = fmt::format("[{} x {}]", v.count, gguf::value_type_name(v.elem_type));
  if (v.elem_type != value_type::array && v.count > 0) {
    out += " ";
    for (uint64_t k = 0; k < std::min<uint64_t>(v.count, 4); ++k) {
      if (k) out += ", ";
      if (v.elem_type == value_type::string)
        out += "\"" + gguf::printable(v.strs[k].substr(0, 20)) + "\"";
      else if (v.elem_type == value_type::f32 || v.elem_type == value_type::f64)
        out += fmt::format("{}", v.array_double(k));
      else
        out += fmt::format("{}", v.array_int(k));
    }
    if (v.count > 4) out += ", ...";
  }
  return out;
}

std::string shape(const gguf::tensor_info& t) {
  std::string s;
  for (int d = 0; d < t.n_dims; ++d) s += (d ? " x " : "") + std::to_string(t.ne[d]);
  return s;
}

json report_json(const gguf::file& f, const gguf::summary& s, const inspect_opts& o) {
  json j;
  j["file"] = o.path;
  j["file_bytes"] = s.file_bytes;
  j["gguf_version"] = s.version;
  j["alignment"] = s.alignment;
  j["metadata_count"] = s.n_metadata;
  j["tensor_count"] = s.n_tensors;
  j["architecture"] = str_or_null(s.architecture);
  j["name"] = str_or_null(s.name);
  j["parameters"] = s.parameters;
  j["active_parameters"] = s.active_parameters;
  j["expert_count"] = opt_json(s.n_expert);
  j["expert_used_count"] = opt_json(s.n_expert_used);
  j["formats"] = json::array();
  for (const auto& fs : s.formats)
    j["formats"].push_back({{"type", std::string(dtype_name(fs.type))},
                            {"tensors", fs.tensors},
                            {"elements", fs.elements},
                            {"bytes", fs.bytes}});
  j["context_length"] = opt_json(s.context_length);
  j["hyperparameters"] = {
      {"block_count", opt_json(s.n_layer)},   {"embedding_length", opt_json(s.n_embd)},
      {"head_count", opt_json(s.n_head)},     {"head_count_kv", opt_json(s.n_head_kv)},
      {"key_length", opt_json(s.key_length)}, {"value_length", opt_json(s.value_length)}};
  j["tokenizer"] = {{"model", str_or_null(s.tokenizer_model)},
                    {"pre", str_or_null(s.tokenizer_pre)},
                    {"vocab_size", opt_json(s.vocab_size)},
                    {"chat_template", s.chat_template}};
  const kv_estimate e = estimate_kv(s, kv_format_of(o.kv_type));
  json kv = {
      {"type", o.kv_type}, {"context", opt_json(s.kv_context)}, {"bytes", opt_json(e.bytes)}};
  if (!e.bytes) kv["missing"] = e.missing;
  const auto kept = windowed_kv(f, s, o);
  if (kept) kv["engine_bytes"] = *kept;
  j["memory"] = {
      {"weights_bytes", s.weight_bytes},
      {"kv_cache", kv},
      {"total_bytes", e.bytes ? json(s.weight_bytes + kept.value_or(*e.bytes)) : json(nullptr)}};
  if (o.metadata) {
    json m = json::object();
    for (const auto& [k, v] : f.metadata()) m[std::string(k)] = value_json(v, true);
    j["metadata"] = m;
  }
  if (o.tensors) {
    json ts = json::array();
    for (const auto& t : f.tensors()) {
      json ne = json::array();
      for (int d = 0; d < t.n_dims; ++d) ne.push_back(t.ne[d]);
      ts.push_back({{"name", std::string(t.name)},
                    {"type", std::string(dtype_name(t.type))},
                    {"shape", ne},
                    {"offset", t.offset},
                    {"bytes", t.n_bytes}});
    }
    j["tensors"] = ts;
  }
  return j;
}

std::string opt_text(const std::optional<uint64_t>& v) {
  return v ? std::to_string(*v) : "?";
}

void report_text(const gguf::file& f, const gguf::summary& s, const inspect_opts& o) {
  auto line = [](const char* label, const std::string& text) {
    std::printf("%-16s %s\n", label, text.c_str());
  };
  line("file", fmt::format("{} ({})", o.path, human_bytes(s.file_bytes)));
  line("gguf", fmt::format("v{}, {} metadata keys, {} tensors, alignment {}", s.version,
                           s.n_metadata, s.n_tensors, s.alignment));
  line("architecture", s.architecture.empty() ? "(none)" : gguf::printable(s.architecture));
  if (!s.name.empty()) line("name", gguf::printable(s.name));
  line("parameters", fmt::format("{} ({})", human_count(s.parameters), s.parameters));
  if (s.n_expert)
    line("experts", fmt::format("{}, {} used a token: {} active parameters ({})", *s.n_expert,
                                s.n_expert_used.value_or(0), human_count(s.active_parameters),
                                s.active_parameters));
  line("context length", opt_text(s.context_length));
  if (s.n_layer || s.n_embd || s.n_head)
    line("shape",
         fmt::format("{} layers, embedding {}, heads {} (kv {}), head dim {}/{}",
                     opt_text(s.n_layer), opt_text(s.n_embd), opt_text(s.n_head),
                     opt_text(s.n_head_kv), opt_text(s.key_length), opt_text(s.value_length)));
  line("tokenizer",
       s.tokenizer_model.empty()
           ? std::string("(none)")
           : fmt::format("{}{}, {} tokens", gguf::printable(s.tokenizer_model),
                         s.tokenizer_pre.empty()
                             ? ""
                             : fmt::format(" (pre: {})", gguf::printable(s.tokenizer_pre)),
                         opt_text(s.vocab_size)));
  if (s.tokenizer_model.empty() && s.vocab_size) line("vocab size", opt_text(s.vocab_size));
  line("chat template", s.chat_template ? "yes" : "no");
  if (!s.formats.empty()) {
    std::printf("formats:\n");
    for (const auto& fs : s.formats)
      std::printf("  %-8s %6llu tensors %12s params %12s\n",
                  std::string(dtype_name(fs.type)).c_str(),
                  static_cast<unsigned long long>(fs.tensors), human_count(fs.elements).c_str(),
                  human_bytes(fs.bytes).c_str());
  }
  std::printf("memory:\n");
  std::printf("  %-28s %s\n", "weights", human_bytes(s.weight_bytes).c_str());
  const std::string kv_label =
      fmt::format("KV cache ({}, ctx {})", o.kv_type, opt_text(s.kv_context));
  const kv_estimate e = estimate_kv(s, kv_format_of(o.kv_type));
  if (e.bytes) {
    std::printf("  %-28s %s\n", kv_label.c_str(), human_bytes(*e.bytes).c_str());
    const auto kept = windowed_kv(f, s, o);
    if (kept)
      std::printf("  %-28s %s (sliding-window layers keep a window)\n", "  as uma keeps it",
                  human_bytes(*kept).c_str());
    std::printf("  %-28s %s\n", "total",
                human_bytes(s.weight_bytes + kept.value_or(*e.bytes)).c_str());
  } else {
    std::printf("  %-28s unknown (needs %s)\n", kv_label.c_str(), e.missing.c_str());
  }
  if (o.metadata) {
    std::printf("metadata:\n");
    for (const auto& [k, v] : f.metadata())
      std::printf("  %-44s %-6s %s\n", gguf::printable(k).c_str(), gguf::value_type_name(v.type),
                  value_text(v).c_str());
  }
  if (o.tensors) {
    std::printf("tensors:\n");
    for (const auto& t : f.tensors())
      std::printf("  %-40s %-8s %-24s %s\n", gguf::printable(t.name).c_str(),
                  std::string(dtype_name(t.type)).c_str(), shape(t).c_str(),
                  human_bytes(t.n_bytes).c_str());
  }
}

int run_inspect(const inspect_opts& o) {
  auto f = gguf::file::open(o.path);
  if (!f.ok()) return fail("inspect", f.message());
  if (o.ctx && *o.ctx == 0) return fail("inspect", "--ctx must be at least 1");
  gguf::summary s = gguf::summarize(*f, o.ctx);
  if (o.json) {
    std::string out = report_json(*f, s, o).dump(2, ' ', false, json::error_handler_t::replace);
    std::printf("%s\n", out.c_str());
  } else {
    report_text(*f, s, o);
  }
  return std::fflush(stdout) == 0 ? 0 : fail("inspect", "cannot write output");
}

}  // namespace
}  // namespace uma::cli

UMA_COMMAND(inspect, "print a GGUF's metadata, tensors, memory needs",
            [](CLI::App& app) -> uma::cli::runner {
              auto o = std::make_shared<uma::cli::inspect_opts>();
              app.add_option("file", o->path, "GGUF file")->required();
              app.add_flag("--json", o->json, "machine-readable output");
              app.add_option("--ctx", o->ctx,
                             "context length for the KV cache estimate (default: the model's)");
              uma::cli::add_kv_type_flag(app, &o->kv_type);
              app.add_flag("--metadata", o->metadata, "list every metadata key");
              app.add_flag("--tensors", o->tensors, "list every tensor");
              return [o] { return uma::cli::run_inspect(*o); };
            });
