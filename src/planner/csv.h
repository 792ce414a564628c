// RFC 4180 CSV reader for the planner's catalogs (data/hardware.csv, data/models.csv, or a user's
// own copies): quoted fields may hold commas, doubled quotes and newlines. Errors name the line.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "util/status.h"

namespace uma::planner {

struct csv_table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;  // every row has header.size() fields
  std::vector<int> row_lines;                  // 1-based source line where each row starts

  // Column index by name, nullopt when absent.
  std::optional<size_t> column(std::string_view name) const;
};

// Parses `text` (CRLF or LF). The first record is the header; blank lines are skipped; a row
// with a different field count than the header, an unterminated quote, or a stray quote inside
// an unquoted field is an error.
result<csv_table> parse_csv(std::string_view text);

}  // namespace uma::planner
