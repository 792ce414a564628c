// Tests for the planner's CSV reader: quoting rules (commas, doubled quotes and newlines inside
// quotes), line endings, and clear errors on malformed input.
#include <random>

#include <gtest/gtest.h>

#include "planner/csv.h"

namespace uma::planner {
namespace {

TEST(Csv, QuotedFieldsKeepCommasQuotesAndNewlines) {
  auto t = parse_csv("id,notes,n\na,\"x, y\",1\nb,\"say \"\"hi\"\"\nsecond line\",2\n");
  ASSERT_TRUE(t.ok()) << t.message();
  ASSERT_EQ(t->rows.size(), 2u);
  EXPECT_EQ(t->rows[0][1], "x, y");
  EXPECT_EQ(t->rows[1][1], "say \"hi\"\nsecond line");
  EXPECT_EQ(t->rows[1][2], "2");
  EXPECT_EQ(t->row_lines[0], 2);
  EXPECT_EQ(t->row_lines[1], 3);
  EXPECT_EQ(t->column("n"), 2u);
  EXPECT_FALSE(t->column("missing"));
}

TEST(Csv, CrlfBlankLinesEmptyFieldsAndNoTrailingNewline) {
  auto t = parse_csv("\xEF\xBB\xBFid,a,b\r\n\r\nx,,\r\ny,\"\",3");
  ASSERT_TRUE(t.ok()) << t.message();
  EXPECT_EQ(t->header[0], "id");
  ASSERT_EQ(t->rows.size(), 2u);
  EXPECT_EQ(t->rows[0], (std::vector<std::string>{"x", "", ""}));
  EXPECT_EQ(t->rows[1], (std::vector<std::string>{"y", "", "3"}));
  EXPECT_EQ(t->row_lines[1], 4);
}

TEST(Csv, Errors) {
  auto count = parse_csv("a,b\n1,2,3\n");
  ASSERT_FALSE(count.ok());
  EXPECT_NE(count.message().find("line 2"), std::string::npos) << count.message();
  EXPECT_NE(count.message().find("3 fields"), std::string::npos);

  auto open = parse_csv("a,b\n1,\"never closed\n");
  ASSERT_FALSE(open.ok());
  EXPECT_NE(open.message().find("unterminated"), std::string::npos);

  auto stray = parse_csv("a,b\n1,ab\"c\n");
  ASSERT_FALSE(stray.ok());
  EXPECT_NE(stray.message().find("stray quote"), std::string::npos);

  auto after = parse_csv("a,b\n1,\"x\"y\n");
  ASSERT_FALSE(after.ok());
  EXPECT_NE(after.message().find("after a closing quote"), std::string::npos);

  EXPECT_FALSE(parse_csv("").ok());
  EXPECT_FALSE(parse_csv("a,,b\n").ok());  // empty column name
}

// Random text over the characters that matter: never a crash, and every accepted table is
// rectangular with a non-empty header.
TEST(Csv, RandomInputIsRejectedOrRectangular) {
  std::mt19937 rng(1234);
  const char alphabet[] = {'a', 'b', ',', '"', '\n', '\r', ' '};
  int accepted = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string text(rng() % 40, ' ');
    for (auto& c : text) c = alphabet[rng() % sizeof(alphabet)];
    auto t = parse_csv(text);
    if (!t.ok()) continue;
    ++accepted;
    ASSERT_FALSE(t->header.empty());
    ASSERT_EQ(t->rows.size(), t->row_lines.size());
    for (const auto& row : t->rows) ASSERT_EQ(row.size(), t->header.size()) << text;
  }
  EXPECT_GT(accepted, 0);
}

}  // namespace
}  // namespace uma::planner
