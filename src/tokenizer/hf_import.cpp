// Import of Hugging Face tokenizer.json / tokenizer_config.json into a vocab, and export of a vocab
// as GGUF tokenizer metadata with the exact keys llama.cpp reads.
#include "tokenizer/hf_import.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "gguf/writer.h"
#include "tokenizer/pretokenize.h"

namespace uma::tok {

namespace {

using json = nlohmann::json;

result<json> read_json(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error("cannot open {}", path);
  std::stringstream ss;
  ss << in.rdbuf();
  json j = json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return make_error("{} is not valid JSON", path);
  return j;
}

// Collects every Split regex and whether a ByteLevel pre-tokenizer uses its own (GPT-2) regex.
void collect_pre(const json& p, std::vector<std::string>& regexes, bool& byte_level,
                 bool& byte_level_regex, bool& metaspace) {
  if (!p.is_object()) return;
  std::string type = p.value("type", "");
  if (type == "Sequence" && p.contains("pretokenizers") && p["pretokenizers"].is_array()) {
    for (const auto& c : p["pretokenizers"])
      collect_pre(c, regexes, byte_level, byte_level_regex, metaspace);
  } else if (type == "Split") {
    const auto& pat = p.value("pattern", json::object());
    if (pat.is_object() && pat.contains("Regex") && pat["Regex"].is_string())
      regexes.push_back(pat["Regex"].get<std::string>());
  } else if (type == "ByteLevel") {
    byte_level = true;
    if (p.value("use_regex", true)) byte_level_regex = true;
  } else if (type == "Metaspace") {
    metaspace = true;
  }
}

// Maps a split regex to the llama.cpp pre-tokenizer name that uses it.
std::string pre_name_for_regex(const std::string& re) {
  static const char* candidates[] = {"llama-bpe", "qwen2", "gpt-2"};
  for (const char* name : candidates) {
    auto pats = pretokenizer_patterns(name);
    if (pats.size() == 1 && pats[0] == re) return name;
  }
  // GPT-2's full pattern (with the trailing "|\s+").
  if (re == R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)")
    return "gpt-2";
  return {};
}

std::string token_name(const json& cfg, const char* key) {
  if (!cfg.contains(key)) return {};
  const json& t = cfg[key];
  if (t.is_string()) return t.get<std::string>();
  if (t.is_object() && t.contains("content") && t["content"].is_string())
    return t["content"].get<std::string>();
  return {};
}

bool template_adds_bos(const json& post, const std::string& bos) {
  if (!post.is_object() || bos.empty()) return false;
  std::string type = post.value("type", "");
  if (type == "Sequence" && post.contains("processors") && post["processors"].is_array()) {
    for (const auto& p : post["processors"])
      if (template_adds_bos(p, bos)) return true;
    return false;
  }
  if (type != "TemplateProcessing" || !post.contains("single") || !post["single"].is_array() ||
      post["single"].empty())
    return false;
  const json& first = post["single"][0];
  return first.is_object() && first.contains("SpecialToken") &&
         first["SpecialToken"].value("id", "") == bos;
}

}  // namespace

result<vocab> load_hf_tokenizer_impl(const std::string& path);

result<vocab> load_hf_tokenizer(const std::string& path) {
  // nlohmann::json throws on a value of the wrong type (e.g. "type": 5); report it as an error.
  try {
    return load_hf_tokenizer_impl(path);
  } catch (const nlohmann::json::exception& e) {
    return make_error("{}: unexpected JSON structure: {}", path, e.what());
  }
}

result<vocab> load_hf_tokenizer_impl(const std::string& path) {
  UMA_ASSIGN(json j, read_json(path));
  if (!j.is_object() || !j.contains("model") || !j["model"].is_object())
    return make_error("{}: no \"model\" object (not a tokenizer.json?)", path);
  const json& model = j["model"];
  std::string mtype = model.value("type", "");
  if (mtype != "BPE")
    return make_error("{}: tokenizer model \"{}\" is not supported (only BPE)", path, mtype);
  if (!model.contains("vocab") || !model["vocab"].is_object())
    return make_error("{}: model.vocab is missing", path);

  vocab v;
  std::vector<std::string> regexes;
  bool byte_level = false, byte_level_regex = false, metaspace = false;
  if (j.contains("pre_tokenizer"))
    collect_pre(j["pre_tokenizer"], regexes, byte_level, byte_level_regex, metaspace);
  const bool byte_fallback = model.value("byte_fallback", false);
  if (byte_level) {
    v.kind = vocab_kind::bpe;
    if (regexes.size() == 1) {
      v.pre = pre_name_for_regex(regexes[0]);
      if (v.pre.empty())
        return make_error("{}: unrecognised pre-tokenizer regex {}", path, regexes[0]);
    } else if (regexes.empty() && byte_level_regex) {
      v.pre = "gpt-2";
    } else {
      return make_error("{}: unsupported pre-tokenizer combination ({} split regexes)", path,
                        regexes.size());
    }
  } else if (byte_fallback || metaspace) {
    v.kind = vocab_kind::spm;
    v.pre = "default";
  } else {
    return make_error("{}: BPE without a ByteLevel or Metaspace pre-tokenizer is not supported",
                      path);
  }
  if (j.contains("normalizer") && j["normalizer"].is_object()) {
    std::string nt = j["normalizer"].value("type", "");
    if (nt == "NFC") {
      v.normalize_nfc = true;
    } else if (v.kind == vocab_kind::bpe) {
      return make_error("{}: normalizer \"{}\" is not supported", path, nt);
    }
  }
  v.ignore_merges = model.value("ignore_merges", false);

  // Tokens: model.vocab plus added_tokens, by id.
  int64_t max_id = -1;
  for (const auto& [text, idj] : model["vocab"].items()) {
    if (!idj.is_number_integer())
      return make_error("{}: vocab entry \"{}\" has no integer id", path, text);
    max_id = std::max<int64_t>(max_id, idj.get<int64_t>());
  }
  const json empty_arr = json::array();
  const json& added =
      j.contains("added_tokens") && j["added_tokens"].is_array() ? j["added_tokens"] : empty_arr;
  for (const auto& a : added) {
    if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() ||
        !a.contains("content") || !a["content"].is_string())
      return make_error("{}: malformed added_tokens entry", path);
    max_id = std::max<int64_t>(max_id, a["id"].get<int64_t>());
  }
  if (max_id < 0 || max_id > 10'000'000)
    return make_error("{}: bad vocabulary size {}", path, max_id + 1);
  const size_t n = static_cast<size_t>(max_id + 1);
  v.tokens.assign(n, std::string());
  v.types.assign(n, token_type::unused);
  std::vector<bool> filled(n, false);
  for (const auto& [text, idj] : model["vocab"].items()) {
    int64_t id = idj.get<int64_t>();
    if (id < 0) return make_error("{}: negative token id for \"{}\"", path, text);
    v.tokens[static_cast<size_t>(id)] = text;
    v.types[static_cast<size_t>(id)] = token_type::normal;
    filled[static_cast<size_t>(id)] = true;
  }
  v.lstrip.assign(n, 0);
  v.rstrip.assign(n, 0);
  for (const auto& a : added) {
    int64_t id = a["id"].get<int64_t>();
    if (id < 0) return make_error("{}: negative added token id", path);
    auto i = static_cast<size_t>(id);
    v.tokens[i] = a["content"].get<std::string>();
    v.types[i] = a.value("special", false) ? token_type::control : token_type::user_defined;
    v.lstrip[i] = a.value("lstrip", false);
    v.rstrip[i] = a.value("rstrip", false);
    filled[i] = true;
  }
  for (size_t i = 0; i < n; ++i) {
    if (!filled[i]) v.tokens[i] = "[PAD" + std::to_string(i) + "]";
  }
  if (v.kind == vocab_kind::spm) {
    // Byte tokens, and scores so that earlier merges (lower ids) win, as converters do.
    v.scores.assign(n, 0.0f);
    for (size_t i = 0; i < n; ++i) {
      const std::string& t = v.tokens[i];
      if (v.types[i] == token_type::normal && t.size() == 6 && t.compare(0, 3, "<0x") == 0 &&
          t[5] == '>')
        v.types[i] = token_type::byte;
      v.scores[i] = -static_cast<float>(i);
    }
    v.add_space_prefix = true;
  }
  if (v.kind == vocab_kind::bpe && model.contains("merges") && model["merges"].is_array()) {
    v.merges.reserve(model["merges"].size());
    for (const auto& m : model["merges"]) {
      if (m.is_string()) {
        v.merges.push_back(m.get<std::string>());
      } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
        v.merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
      } else {
        return make_error("{}: malformed merge entry", path);
      }
    }
  }

  // tokenizer_config.json: special tokens and the chat template.
  auto find_id = [&](const std::string& text) -> int32_t {
    if (text.empty()) return no_token;
    for (size_t i = 0; i < n; ++i)
      if (v.tokens[i] == text) return static_cast<int32_t>(i);
    return no_token;
  };
  std::filesystem::path cfg_path =
      std::filesystem::path(path).parent_path() / "tokenizer_config.json";
  json cfg = json::object();
  if (std::filesystem::exists(cfg_path)) {
    UMA_ASSIGN(cfg, read_json(cfg_path.string()));
    if (!cfg.is_object()) return make_error("{}: not a JSON object", cfg_path.string());
  }
  std::string bos = token_name(cfg, "bos_token"), eos = token_name(cfg, "eos_token");
  v.bos = find_id(bos);
  v.eos = find_id(eos);
  v.pad = find_id(token_name(cfg, "pad_token"));
  v.unk = find_id(token_name(cfg, "unk_token"));
  if (v.unk == no_token && model.contains("unk_token") && model["unk_token"].is_string())
    v.unk = find_id(model["unk_token"].get<std::string>());
  v.eot = find_end_of_turn(v);
  v.eom = find_id("<|eom_id|>");
  if (v.unk != no_token) v.types[static_cast<size_t>(v.unk)] = token_type::unknown;
  v.add_bos = cfg.contains("add_bos_token") && cfg["add_bos_token"].is_boolean()
                  ? cfg["add_bos_token"].get<bool>()
                  : template_adds_bos(j.value("post_processor", json()), bos);
  v.add_eos = cfg.contains("add_eos_token") && cfg["add_eos_token"].is_boolean() &&
              cfg["add_eos_token"].get<bool>();
  if (v.add_bos && v.bos == no_token) v.add_bos = false;
  if (v.add_eos && v.eos == no_token) v.add_eos = false;
  v.clean_spaces = cfg.value("clean_up_tokenization_spaces", false);
  if (cfg.contains("chat_template")) {
    const json& ct = cfg["chat_template"];
    if (ct.is_string()) {
      v.chat_template = ct.get<std::string>();
    } else if (ct.is_array()) {
      for (const auto& e : ct)
        if (e.is_object() && e.value("name", "") == "default" && e.contains("template") &&
            e["template"].is_string())
          v.chat_template = e["template"].get<std::string>();
    }
  }
  status st = v.validate();
  if (!st.ok()) return make_error("{}: {}", path, st.message());
  return v;
}

void write_vocab_metadata(const vocab& v, gguf::writer& w) {
  w.set_string("tokenizer.ggml.model", vocab_kind_gguf_name(v.kind));
  w.set_string("tokenizer.ggml.pre", v.pre.empty() ? "default" : v.pre);
  w.set_array_string("tokenizer.ggml.tokens", v.tokens);
  std::vector<int32_t> types(v.types.size());
  for (size_t i = 0; i < types.size(); ++i) types[i] = static_cast<int32_t>(v.types[i]);
  w.set_array_i32("tokenizer.ggml.token_type", types);
  if (!v.scores.empty()) w.set_array_f32("tokenizer.ggml.scores", v.scores);
  if (v.kind == vocab_kind::bpe) w.set_array_string("tokenizer.ggml.merges", v.merges);
  const std::pair<const char*, int32_t> ids[] = {
      {"tokenizer.ggml.bos_token_id", v.bos},       {"tokenizer.ggml.eos_token_id", v.eos},
      {"tokenizer.ggml.eot_token_id", v.eot},       {"tokenizer.ggml.eom_token_id", v.eom},
      {"tokenizer.ggml.unknown_token_id", v.unk},   {"tokenizer.ggml.padding_token_id", v.pad},
      {"tokenizer.ggml.seperator_token_id", v.sep}, {"tokenizer.ggml.cls_token_id", v.cls},
      {"tokenizer.ggml.mask_token_id", v.mask},
  };
  for (auto [key, id] : ids)
    if (id != no_token) w.set_u32(key, static_cast<uint32_t>(id));
  w.set_bool("tokenizer.ggml.add_bos_token", v.add_bos);
  w.set_bool("tokenizer.ggml.add_eos_token", v.add_eos);
  if (v.kind == vocab_kind::spm) w.set_bool("tokenizer.ggml.add_space_prefix", v.add_space_prefix);
  if (!v.chat_template.empty()) w.set_string("tokenizer.chat_template", v.chat_template);
}

}  // namespace uma::tok
