// Vocabulary validation, the tokenizer.json importer, the GGUF metadata writer (round trip through
// uma::gguf), decoding and the streaming decoder, and the `uma tokenize` CLI.
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "gguf/writer.h"
#include "tokenizer/unicode.h"
#include "tokenizer_test_util.h"

namespace {

using namespace uma;
using tok::token_type;

tok::vocab tiny_bpe() {
  tok::vocab v;
  v.kind = tok::vocab_kind::bpe;
  v.pre = "gpt-2";
  v.tokens = {"a", "b", "ab", "<|s|>"};
  v.types = {token_type::normal, token_type::normal, token_type::normal, token_type::control};
  v.merges = {"a b"};
  v.bos = 3;
  return v;
}

TEST(TokenizerVocab, ValidVocabularyEncodes) {
  auto t = tok::tokenizer::create(tiny_bpe());
  ASSERT_TRUE(t.ok()) << t.message();
  EXPECT_EQ(t->encode("abab"), (std::vector<int32_t>{2, 2}));
  EXPECT_EQ(t->encode("ba"), (std::vector<int32_t>{1, 0}));
  EXPECT_EQ(t->encode("<|s|>ab"), (std::vector<int32_t>{3, 2}));
}

TEST(TokenizerVocab, SpecialIdBeyondVocabIsAnError) {
  auto v = tiny_bpe();
  v.eos = 4;
  auto st = v.validate();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("eos"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("outside"), std::string::npos) << st.message();
}

TEST(TokenizerVocab, MergeNamingUnknownTokenIsAnError) {
  auto v = tiny_bpe();
  v.merges.push_back("a zz");
  auto st = v.validate();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("zz"), std::string::npos) << st.message();
  v = tiny_bpe();
  v.merges = {"ab"};  // not "left right"
  EXPECT_FALSE(v.validate().ok());
  EXPECT_FALSE(tok::tokenizer::create(v).ok());
}

TEST(TokenizerVocab, MismatchedArrayLengthsAreErrors) {
  auto v = tiny_bpe();
  v.types.pop_back();
  EXPECT_NE(v.validate().message().find("token_type"), std::string::npos);
  v = tiny_bpe();
  v.scores = {0.f, 1.f};
  EXPECT_NE(v.validate().message().find("scores"), std::string::npos);
}

// The vocabulary of a GGUF whose metadata `fill` writes (through uma's writer and parser).
result<tok::vocab> vocab_of_gguf(const std::function<void(gguf::writer&)>& fill) {
  gguf::writer w;
  fill(w);
  auto bytes = w.write_to_memory();
  if (!bytes.ok()) return make_error("writing: {}", bytes.message());
  auto f = gguf::file::parse(*bytes);
  if (!f.ok()) return make_error("parsing: {}", f.message());
  return tok::load_vocab(*f);
}

TEST(TokenizerVocab, GgufWithMismatchedTokenTypesIsRejected) {
  auto v = vocab_of_gguf([](gguf::writer& w) {
    w.set_string("tokenizer.ggml.model", "gpt2");
    w.set_array_string("tokenizer.ggml.tokens", {"a", "b"});
    w.set_array_i32("tokenizer.ggml.token_type", std::vector<int32_t>{1});
  });
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.message().find("token_type"), std::string::npos) << v.message();
}

TEST(TokenizerVocab, GgufWithBadSpecialIdIsRejected) {
  auto v = vocab_of_gguf([](gguf::writer& w) {
    w.set_string("tokenizer.ggml.model", "gpt2");
    w.set_array_string("tokenizer.ggml.tokens", {"a", "b"});
    w.set_u32("tokenizer.ggml.eos_token_id", 7);
  });
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.message().find("outside the vocabulary"), std::string::npos) << v.message();
}

// Without tokenizer.ggml.eot_token_id (Gemma's GGUF files: only <eos>, id 1) the end of turn is
// the control token named <end_of_turn>, so a chat stops there; a normal text token of that
// spelling is not taken, and a file's own eot_token_id wins.
TEST(TokenizerVocab, GgufWithoutEotFindsTheEndOfTurnByItsText) {
  const auto gemma_like = [](token_type end_of_turn_type) {
    return [end_of_turn_type](gguf::writer& w) {
      w.set_string("tokenizer.ggml.model", "llama");
      w.set_array_string("tokenizer.ggml.tokens",
                         {"<pad>", "<eos>", "<bos>", "<start_of_turn>", "<end_of_turn>", "a"});
      w.set_array_i32("tokenizer.ggml.token_type",
                      std::vector<int32_t>{3, 3, 3, 3, static_cast<int32_t>(end_of_turn_type), 1});
      w.set_u32("tokenizer.ggml.eos_token_id", 1);
      w.set_u32("tokenizer.ggml.bos_token_id", 2);
    };
  };
  auto v = vocab_of_gguf(gemma_like(token_type::control));
  ASSERT_TRUE(v.ok()) << v.message();
  EXPECT_EQ(v->eos, 1);
  EXPECT_EQ(v->eot, 4);
  auto t = tok::tokenizer::create(std::move(*v));
  ASSERT_TRUE(t.ok()) << t.message();
  EXPECT_TRUE(t->is_eog(1));
  EXPECT_TRUE(t->is_eog(4));
  EXPECT_FALSE(t->is_eog(3));
  auto plain = vocab_of_gguf(gemma_like(token_type::normal));
  ASSERT_TRUE(plain.ok()) << plain.message();
  EXPECT_EQ(plain->eot, tok::no_token);
  auto named = vocab_of_gguf([&](gguf::writer& w) {
    gemma_like(token_type::control)(w);
    w.set_u32("tokenizer.ggml.eot_token_id", 3);
  });
  ASSERT_TRUE(named.ok()) << named.message();
  EXPECT_EQ(named->eot, 3);
}

// Each malformed vocabulary field of a GGUF is a clear error naming the field (no crash, no
// silent default); -1 (i32, or u32 0xFFFFFFFF) as a special token id means "none", as llama.cpp
// writes it. (These branches had no test: found with gcov.)
TEST(TokenizerVocab, GgufVocabularyFieldsAreValidated) {
  const auto base = [](gguf::writer& w) {
    w.set_string("tokenizer.ggml.model", "gpt2");
    w.set_array_string("tokenizer.ggml.tokens", {"a", "b", "ab"});
  };
  const auto fails_with = [&](const std::function<void(gguf::writer&)>& fill,
                              std::string_view want) {
    auto v = vocab_of_gguf(fill);
    ASSERT_FALSE(v.ok()) << want;
    EXPECT_NE(v.message().find(want), std::string::npos) << v.message();
  };
  ASSERT_TRUE(vocab_of_gguf(base).ok());
  fails_with([](gguf::writer& w) { w.set_string("tokenizer.ggml.model", "t5"); },
             "unsupported tokenizer.ggml.model \"t5\"");
  fails_with([](gguf::writer& w) { w.set_string("tokenizer.ggml.model", "gpt2"); },
             "tokenizer.ggml.tokens is missing or not an array of strings");
  fails_with(
      [](gguf::writer& w) {
        w.set_string("tokenizer.ggml.model", "gpt2");
        const std::vector<int32_t> ids = {1, 2};
        w.set_array_i32("tokenizer.ggml.tokens", ids);
      },
      "tokenizer.ggml.tokens is missing or not an array of strings");
  // On top of a valid vocabulary (base): one bad field each.
  using field = std::function<void(gguf::writer&)>;
  const std::vector<std::pair<field, std::string_view>> bad = {
      {[](gguf::writer& w) {
         w.set_array_string("tokenizer.ggml.scores", {"1", "2", "3"});
       },
       "tokenizer.ggml.scores is not a numeric array"},
      {[](gguf::writer& w) { w.set_array_f32("tokenizer.ggml.scores", std::vector<float>{0.5f}); },
       "tokenizer.ggml.scores has 1 entries but tokens has 3"},
      {[](gguf::writer& w) {
         w.set_array_f32("tokenizer.ggml.token_type", std::vector<float>{1, 1, 1});
       },
       "tokenizer.ggml.token_type is not an integer array"},
      {[](gguf::writer& w) {
         w.set_array_i32("tokenizer.ggml.token_type", std::vector<int32_t>{1, 9, 1});
       },
       "token 1 has invalid token type 9"},
      {[](gguf::writer& w) {
         w.set_array_i32("tokenizer.ggml.merges", std::vector<int32_t>{0, 1});
       },
       "tokenizer.ggml.merges is not an array of strings"},
      {[](gguf::writer& w) { w.set_array_string("tokenizer.ggml.merges", {"zz a"}); },
       "merge 0 names unknown token \"zz\""},
      {[](gguf::writer& w) {
         w.set_array_string("tokenizer.ggml.merges", {"a b", "b a"});
       },
       "merge 1 produces \"ba\", which is not a token"},
      {[](gguf::writer& w) { w.set_i32("tokenizer.ggml.bos_token_id", -5); },
       "tokenizer.ggml.bos_token_id = -5 is not a valid token id"},
      {[](gguf::writer& w) { w.set_string("tokenizer.ggml.eos_token_id", "2"); },
       "tokenizer.ggml.eos_token_id is not an integer"},
  };
  for (const auto& [set, want] : bad) {
    fails_with(
        [&](gguf::writer& w) {
          base(w);
          set(w);
        },
        want);
  }
  for (const bool as_u32 : {false, true}) {
    auto v = vocab_of_gguf([&](gguf::writer& w) {
      base(w);
      if (as_u32)
        w.set_u32("tokenizer.ggml.eos_token_id", 0xFFFFFFFFu);
      else
        w.set_i32("tokenizer.ggml.eos_token_id", -1);
      w.set_u32("tokenizer.ggml.bos_token_id", 2);
    });
    ASSERT_TRUE(v.ok()) << v.message();
    EXPECT_EQ(v->eos, tok::no_token);
    EXPECT_EQ(v->bos, 2);
  }
}

TEST(TokenizerHfImport, BadFilesGiveErrors) {
  std::string dir = test::temp_dir();
  std::ofstream(dir + "/bad.json") << "{not json";
  auto r = tok::load_hf_tokenizer(dir + "/bad.json");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("not valid JSON"), std::string::npos);
  std::ofstream(dir + "/wp.json") << R"({"model": {"type": "WordPiece", "vocab": {}}})";
  EXPECT_FALSE(tok::load_hf_tokenizer(dir + "/wp.json").ok());
  EXPECT_FALSE(tok::load_hf_tokenizer(dir + "/missing.json").ok());
  std::ofstream(dir + "/types.json") << R"({"model": {"type": 5, "vocab": []}})";
  r = tok::load_hf_tokenizer(dir + "/types.json");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("unexpected JSON structure"), std::string::npos) << r.message();
  std::ofstream(dir + "/added.json")
      << R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [3]},
            "pre_tokenizer": {"type": "ByteLevel"}})";
  EXPECT_FALSE(tok::load_hf_tokenizer(dir + "/added.json").ok());
}

TEST(TokenizerHfImport, Qwen3MetadataAndGgufRoundTrip) {
  auto v = tok::load_hf_tokenizer(test::npm_tokenizer_json("tokenizer-qwen3"));
  ASSERT_TRUE(v.ok()) << v.message();
  EXPECT_EQ(v->kind, tok::vocab_kind::bpe);
  EXPECT_EQ(v->pre, "qwen2");
  EXPECT_TRUE(v->normalize_nfc);
  EXPECT_EQ(v->tokens[static_cast<size_t>(v->eos)], "<|im_end|>");
  EXPECT_EQ(v->tokens[static_cast<size_t>(v->pad)], "<|endoftext|>");
  EXPECT_EQ(v->types[151644], token_type::control);
  EXPECT_FALSE(v->chat_template.empty());
  EXPECT_FALSE(v->add_bos);

  gguf::writer w;
  tok::write_vocab_metadata(*v, w);
  auto bytes = w.write_to_memory();
  ASSERT_TRUE(bytes.ok()) << bytes.message();
  auto f = gguf::file::parse(*bytes);
  ASSERT_TRUE(f.ok()) << f.message();
  EXPECT_EQ(f->get_string("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(f->get_string("tokenizer.ggml.pre"), "qwen2");
  EXPECT_EQ(f->get_int("tokenizer.ggml.eos_token_id"), v->eos);
  EXPECT_EQ(f->get_string("tokenizer.chat_template"), v->chat_template);
  ASSERT_NE(f->find("tokenizer.ggml.merges"), nullptr);
  EXPECT_EQ(f->find("tokenizer.ggml.merges")->count, v->merges.size());
  auto back = tok::load_vocab(*f);
  ASSERT_TRUE(back.ok()) << back.message();
  EXPECT_EQ(back->tokens, v->tokens);
  EXPECT_EQ(back->types, v->types);
  EXPECT_EQ(back->merges, v->merges);

  auto a = tok::tokenizer::create(std::move(v).value());
  auto b = tok::tokenizer::create(std::move(back).value());
  ASSERT_TRUE(a.ok() && b.ok());
  for (const char* s : {"Hello, world!", "<|im_start|>user\n你好 🦙 1234<|im_end|>",
                        "  code(x)\n\n\tret", "e\u0301t\u00e9"}) {
    EXPECT_EQ(a->encode(s), b->encode(s)) << s;
  }
}

TEST(TokenizerHfImport, Llama3SetsEotAndIgnoreMerges) {
  auto v = tok::load_hf_tokenizer(test::npm_tokenizer_json("tokenizer-llama3"));
  ASSERT_TRUE(v.ok()) << v.message();
  EXPECT_EQ(v->pre, "llama-bpe");
  EXPECT_TRUE(v->ignore_merges);
  EXPECT_EQ(v->bos, 128000);
  // This tokenizer.json's post-processor is plain ByteLevel (no TemplateProcessing), so, like
  // the reference, no BOS is added.
  EXPECT_FALSE(v->add_bos);
  EXPECT_EQ(v->tokens[static_cast<size_t>(v->eot)], "<|eot_id|>");
  auto t = tok::tokenizer::create(std::move(v).value());
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->is_eog(128009));
  EXPECT_FALSE(t->is_eog(128000));
}

TEST(TokenizerHfImport, TemplateProcessingAddsBos) {
  std::string dir = test::temp_dir();
  std::ofstream(dir + "/tokenizer.json") << R"({
    "added_tokens": [{"id": 3, "content": "<s>", "special": true}],
    "normalizer": null,
    "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
    "post_processor": {"type": "TemplateProcessing",
      "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}]},
    "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": [["a", "b"]]}})";
  std::ofstream(dir + "/tokenizer_config.json")
      << R"({"bos_token": "<s>", "chat_template": "{{ x }}"})";
  auto v = tok::load_hf_tokenizer(dir + "/tokenizer.json");
  ASSERT_TRUE(v.ok()) << v.message();
  EXPECT_EQ(v->bos, 3);
  EXPECT_TRUE(v->add_bos);
  EXPECT_EQ(v->chat_template, "{{ x }}");
  auto t = tok::tokenizer::create(std::move(v).value());
  ASSERT_TRUE(t.ok()) << t.message();
  EXPECT_EQ(t->encode("abba", {.add_special = true}), (std::vector<int32_t>{3, 2, 1, 0}));
}

TEST(TokenizerDecode, RoundTripsAndSpecialTokens) {
  const std::string texts[] = {"Hello world", " leading space", "🦙 llamas\n\n\tcode()",
                               "нещо на Български", "3333 numbers 1.5"};
  for (const char* name : {"gpt-2", "qwen3", "llama-spm", "phi-3"}) {
    const auto& t = test::shared_tokenizer(name);
    for (const auto& s : texts) {
      EXPECT_EQ(t.decode(t.encode(s, {.parse_special = false})), s) << name << ": " << s;
    }
  }
  const auto& q = test::shared_tokenizer("qwen3");
  auto ids = q.encode("<|im_start|>hi");
  EXPECT_EQ(q.decode(ids), "hi");
  EXPECT_EQ(q.decode(ids, {.special = true}), "<|im_start|>hi");
  const auto& spm = test::shared_tokenizer("llama-spm");
  EXPECT_EQ(spm.decode(spm.encode("Hello", {.add_special = true})), "Hello");
  EXPECT_EQ(spm.encode("Hello", {.add_special = true})[0], spm.get_vocab().bos);
}

TEST(TokenizerDecode, StreamingNeverSplitsACharacter) {
  const std::string text = "a🦙b ü 你好 😶‍🌫️ end";
  for (const char* name : {"gpt-2", "qwen3", "llama-spm"}) {
    const auto& t = test::shared_tokenizer(name);
    auto ids = t.encode(text, {.parse_special = false});
    tok::stream_decoder d(t);
    std::string all;
    int partial_tokens = 0;
    for (int32_t id : ids) {
      std::string piece = t.token_to_piece(id);
      if (!tok::is_valid_utf8(piece)) ++partial_tokens;
      std::string chunk = d.push(id);
      EXPECT_TRUE(tok::is_valid_utf8(chunk)) << name;
      all += chunk;
    }
    all += d.flush();
    EXPECT_EQ(all, text) << name;
    EXPECT_GT(partial_tokens, 0) << name << ": the text should force split characters";
  }
}

TEST(TokenizerDecode, StreamingReplacesImpossibleBytes) {
  const auto& t = test::shared_tokenizer("llama-spm");
  auto byte = [&](int b) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "<0x%02X>", b);
    return t.find_token(hex);
  };
  tok::stream_decoder d(t);
  EXPECT_EQ(d.push(byte(0xF0)), "");
  EXPECT_EQ(d.push(byte(0x9F)), "");
  EXPECT_EQ(d.push(byte(0x41)),
            "\xEF\xBF\xBD"
            "A");  // the sequence can no longer complete
  EXPECT_EQ(d.push(byte(0xE2)), "");
  EXPECT_EQ(d.flush(), "\xEF\xBF\xBD");  // truncated at the end
}

TEST(TokenizeCli, JsonIdsAndErrors) {
  const std::string model = test::npm_tokenizer_json("tokenizer-qwen3");
  auto r = test::run_uma({"tokenize", "-m", model, "--json", "--text", "Hello world"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "{\"ids\":[9707,1879],\"pieces\":[\"Hello\",\" world\"]}\n");
  r = test::run_uma({"tokenize", "-m", test::shared_data("vocab/ggml-vocab-gpt-2.gguf"), "--text",
                     "Hello world"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "15496\n995\n");
  std::string f = test::temp_dir() + "/in.txt";
  std::ofstream(f) << "<|im_start|>";
  r = test::run_uma({"tokenize", "-m", model, "--file", f});
  EXPECT_EQ(r.out, "151644\n");
  r = test::run_uma({"tokenize", "-m", model, "--file", f, "--no-special"});
  EXPECT_NE(r.out, "151644\n");
  r = test::run_uma({"tokenize", "-m", "/nonexistent.gguf", "--text", "x"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("uma tokenize: error:"), std::string::npos) << r.err;
  r = test::run_uma({"tokenize", "-m", model});
  EXPECT_EQ(r.exit_code, 1);
}

TEST(TemplateCli, RendersTheChatTemplateOfATokenizerJson) {
  // `uma template -m` takes what `uma tokenize -m` takes: the template of a tokenizer.json comes
  // from the tokenizer_config.json beside it.
  const std::string model = test::npm_tokenizer_json("tokenizer-qwen3");
  const std::string dir = test::temp_dir();
  std::ofstream(dir + "/m.json") << R"([{"role": "user", "content": "hi"}])";
  auto r = test::run_uma(
      {"template", "-m", model, "--messages", dir + "/m.json", "--add-generation-prompt"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", 0), 0u) << r.out;
  std::ofstream(dir + "/junk.bin") << "neither GGUF nor JSON";
  r = test::run_uma({"template", "-m", dir + "/junk.bin", "--messages", dir + "/m.json"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.find("uma template: error:"), 0u) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
}

}  // namespace
