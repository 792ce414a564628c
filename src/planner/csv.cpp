// Implementation of csv.h: a small state machine over the bytes, one record at a time.
#include "planner/csv.h"

namespace uma::planner {

std::optional<size_t> csv_table::column(std::string_view name) const {
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] == name) return i;
  }
  return std::nullopt;
}

namespace {

// Reads one record starting at `pos`; advances `pos` past its line ending and `line` past every
// newline consumed (including those inside quotes).
result<std::vector<std::string>> read_record(std::string_view text, size_t& pos, int& line) {
  std::vector<std::string> fields;
  std::string field;
  const int start_line = line;
  bool quoted = false;       // inside a quoted section
  bool was_quoted = false;   // this field began with a quote
  bool after_quote = false;  // just closed a quoted section; only , or end may follow
  while (pos < text.size()) {
    char c = text[pos];
    if (quoted) {
      if (c == '"') {
        if (pos + 1 < text.size() && text[pos + 1] == '"') {
          field.push_back('"');
          pos += 2;
          continue;
        }
        quoted = false;
        after_quote = true;
        ++pos;
        continue;
      }
      if (c == '\n') ++line;
      field.push_back(c);
      ++pos;
      continue;
    }
    if (c == ',') {
      fields.push_back(std::move(field));
      field.clear();
      was_quoted = after_quote = false;
      ++pos;
      continue;
    }
    if (c == '\r' && pos + 1 < text.size() && text[pos + 1] == '\n') ++pos;
    if (c == '\n' || c == '\r') {
      ++pos;
      ++line;
      fields.push_back(std::move(field));
      return fields;
    }
    if (after_quote) {
      return make_error("line {}: unexpected character '{}' after a closing quote", line, c);
    }
    if (c == '"') {
      if (!field.empty() || was_quoted) {
        return make_error("line {}: stray quote inside an unquoted field", line);
      }
      quoted = was_quoted = true;
      ++pos;
      continue;
    }
    field.push_back(c);
    ++pos;
  }
  if (quoted) return make_error("line {}: unterminated quoted field", start_line);
  fields.push_back(std::move(field));
  return fields;
}

bool blank(const std::vector<std::string>& rec) {
  return rec.size() == 1 && rec[0].empty();
}

}  // namespace

result<csv_table> parse_csv(std::string_view text) {
  // A UTF-8 byte-order mark is not part of the first column name.
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  csv_table t;
  size_t pos = 0;
  int line = 1;
  while (pos < text.size()) {
    int rec_line = line;
    UMA_ASSIGN(auto rec, read_record(text, pos, line));
    if (blank(rec)) continue;
    if (t.header.empty()) {
      for (const auto& h : rec) {
        if (h.empty()) return make_error("line {}: empty column name in the header", rec_line);
      }
      t.header = std::move(rec);
      continue;
    }
    if (rec.size() != t.header.size()) {
      return make_error("line {}: {} fields, the header has {}", rec_line, rec.size(),
                        t.header.size());
    }
    t.rows.push_back(std::move(rec));
    t.row_lines.push_back(rec_line);
  }
  if (t.header.empty()) return make_error("empty CSV: no header line");
  return t;
}

}  // namespace uma::planner
