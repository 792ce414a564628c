// Tests of render_chat (the API the server uses) and of `uma template` on the command line.
#include <gtest/gtest.h>

#include <fstream>

#include "test_util.h"
#include "tokenizer/chat_template.h"

namespace {

using ojson = nlohmann::ordered_json;

const char* kSimple =
    "{{ bos_token }}{% for m in messages %}<{{ m.role }}>{{ m.content }}</{{ m.role }}>\n"
    "{% endfor %}{% if tools %}tools={{ tools | map(attribute='function.name') | join(',') }}\n"
    "{% endif %}{% if add_generation_prompt %}<assistant>{% endif %}"
    "{% if enable_thinking is defined %}think={{ enable_thinking }}{% endif %}";

TEST(chat_template, renders_messages_tools_and_kwargs) {
  auto t = uma::tok::chat_template::compile(kSimple, "<s>", "</s>");
  ASSERT_TRUE(t.ok()) << t.message();
  auto msgs =
      ojson::parse(R"([{"role": "system", "content": "sys"}, {"role": "user", "content": "hi"}])");
  auto tools = ojson::parse(R"([{"type": "function", "function": {"name": "f1"}},
                               {"type": "function", "function": {"name": "f2"}}])");
  auto r = uma::tok::render_chat(*t, msgs, tools, true, ojson{{"enable_thinking", false}});
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(*r, "<s><system>sys</system>\n<user>hi</user>\ntools=f1,f2\n<assistant>think=False");
  // Compiled once, rendered again with other inputs.
  r = uma::tok::render_chat(*t, msgs, nullptr, false);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(*r, "<s><system>sys</system>\n<user>hi</user>\n");
}

TEST(chat_template, rejects_bad_message_shapes) {
  auto t = uma::tok::chat_template::compile(kSimple);
  ASSERT_TRUE(t.ok());
  auto bad = [&](const char* msgs, const char* tools = "null") {
    auto r = uma::tok::render_chat(*t, ojson::parse(msgs), ojson::parse(tools), false);
    EXPECT_FALSE(r.ok()) << msgs;
    return r.ok() ? std::string() : r.message();
  };
  EXPECT_NE(bad(R"({"role": "user"})").find("array"), std::string::npos);
  EXPECT_NE(bad(R"([{"content": "x"}])").find("messages[0]"), std::string::npos);
  EXPECT_NE(bad(R"([{"role": "user", "content": 5}])").find("content"), std::string::npos);
  EXPECT_NE(bad(R"([{"role": "user", "content": "x", "tool_calls": {}}])").find("tool_calls"),
            std::string::npos);
  EXPECT_NE(bad(R"([{"role": "user", "content": "x"}])", R"({"a": 1})").find("tools"),
            std::string::npos);
}

TEST(chat_template, template_errors_propagate) {
  auto t = uma::tok::chat_template::compile(
      "{% if messages[0].role != 'user' %}{{ raise_exception('first must be user') }}{% endif "
      "%}ok");
  ASSERT_TRUE(t.ok());
  auto r = uma::tok::render_chat(*t, ojson::parse(R"([{"role": "system", "content": "s"}])"),
                                 nullptr, false);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.message(), "raise_exception: first must be user");
  auto bad = uma::tok::chat_template::compile("{% for %}");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("line 1"), std::string::npos) << bad.message();
}

TEST(chat_template, strftime_now_uses_the_fixed_time) {
  auto t = uma::tok::chat_template::compile("{{ strftime_now('%d %b %Y') }}");
  ASSERT_TRUE(t.ok());
  uma::tok::chat_render_options o;
  o.now = 1721952000;  // 2024-07-26 UTC
  auto r = uma::tok::render_chat(*t, ojson::array(), nullptr, false, nullptr, o);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(*r, "26 Jul 2024");
}

void write(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
}

TEST(template_cli, renders_and_reports_errors_on_one_line) {
  std::string dir = uma::test::temp_dir();
  write(dir + "/t.jinja", kSimple);
  write(dir + "/m.json", R"([{"role": "user", "content": "héllo"}])");
  write(dir + "/bad.json", R"([{"role": "user", "content": )");
  write(dir + "/shape.json", R"([{"content": "no role"}])");
  auto r = uma::test::run_uma({"template", "--template", dir + "/t.jinja", "--messages",
                               dir + "/m.json", "--add-generation-prompt", "--bos", "B"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "B<user>héllo</user>\n<assistant>");
  for (const char* f : {"/bad.json", "/shape.json"}) {
    r = uma::test::run_uma({"template", "--template", dir + "/t.jinja", "--messages", dir + f});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.err.find("uma template: error:"), 0u) << r.err;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
  }
  r = uma::test::run_uma(
      {"template", "--template", dir + "/missing.jinja", "--messages", dir + "/m.json"});
  EXPECT_EQ(r.exit_code, 1);
  r = uma::test::run_uma({"template", "--messages", dir + "/m.json"});
  EXPECT_EQ(r.exit_code, 1);
}

TEST(template_cli, batch_mode_renders_every_case) {
  std::string dir = uma::test::temp_dir();
  write(dir + "/t.jinja", kSimple);
  write(dir + "/cases.json",
        R"([{"messages": [{"role": "user", "content": "a"}], "add_generation_prompt": true},
            {"messages": [{"role": "user", "content": "b"}], "kwargs": {"enable_thinking": true}},
            {"messages": "not a list"}])");
  auto r = uma::test::run_uma(
      {"template", "--template", dir + "/t.jinja", "--batch", dir + "/cases.json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto out = ojson::parse(r.out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0]["text"], "<user>a</user>\n<assistant>");
  EXPECT_EQ(out[1]["text"], "<user>b</user>\nthink=True");
  EXPECT_TRUE(out[2].contains("error"));
}

}  // namespace
