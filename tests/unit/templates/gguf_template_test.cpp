// `uma template -m MODEL.gguf`: the template comes from tokenizer.chat_template and bos/eos from
// tokenizer.ggml.tokens[bos/eos ids]; checked on a written GGUF and on a real one (phi-3 vocab).
#include <gtest/gtest.h>

#include <fstream>

#include "gguf/gguf.h"
#include "gguf/writer.h"
#include "test_util.h"
#include "tokenizer/chat_template.h"

namespace {

void write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
}

TEST(gguf_template, template_and_special_tokens_come_from_the_model) {
  std::string dir = uma::test::temp_dir();
  uma::gguf::writer w;
  w.set_string("general.architecture", "llama");
  w.set_array_string("tokenizer.ggml.tokens",
                     std::vector<std::string>{"<unk>", "<|bos|>", "<|eos|>"});
  w.set_u32("tokenizer.ggml.bos_token_id", 1);
  w.set_u32("tokenizer.ggml.eos_token_id", 2);
  w.set_string("tokenizer.chat_template",
               "{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}{{ eos_token }}"
               "{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}");
  ASSERT_TRUE(w.write(dir + "/m.gguf").ok());
  write_text(dir + "/msgs.json", R"([{"role": "user", "content": "hi"}])");
  auto r = uma::test::run_uma({"template", "-m", dir + "/m.gguf", "--messages", dir + "/msgs.json",
                               "--add-generation-prompt"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "<|bos|>[user]hi<|eos|>[assistant]");

  uma::gguf::writer no_tmpl;
  no_tmpl.set_string("general.architecture", "llama");
  ASSERT_TRUE(no_tmpl.write(dir + "/none.gguf").ok());
  r = uma::test::run_uma({"template", "-m", dir + "/none.gguf", "--messages", dir + "/msgs.json"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no tokenizer.chat_template"), std::string::npos) << r.err;
}

TEST(gguf_template, real_model_file_matches_the_extracted_template) {
  std::string model = uma::test::shared_data("vocab/ggml-vocab-phi-3.gguf");
  auto f = uma::gguf::file::open(model);
  ASSERT_TRUE(f.ok()) << f.message();
  auto src = f->get_string("tokenizer.chat_template");
  ASSERT_TRUE(src.has_value());
  auto t = uma::tok::chat_template::from_gguf(*f);
  ASSERT_TRUE(t.ok()) << t.message();
  EXPECT_EQ(t->bos_token(), "<s>");

  std::string dir = uma::test::temp_dir();
  write_text(dir + "/t.jinja", std::string(*src));
  write_text(dir + "/msgs.json",
             R"([{"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi!"},
                 {"role": "user", "content": "Bye"}])");
  auto via_model = uma::test::run_uma(
      {"template", "-m", model, "--messages", dir + "/msgs.json", "--add-generation-prompt"});
  auto via_file = uma::test::run_uma({"template", "--template", dir + "/t.jinja", "--messages",
                                      dir + "/msgs.json", "--add-generation-prompt", "--bos", "<s>",
                                      "--eos", t->eos_token()});
  ASSERT_EQ(via_model.exit_code, 0) << via_model.err;
  ASSERT_EQ(via_file.exit_code, 0) << via_file.err;
  EXPECT_EQ(via_model.out, via_file.out);
  EXPECT_NE(via_model.out.find("<|user|>\nHello<|end|>"), std::string::npos) << via_model.out;
}

}  // namespace
