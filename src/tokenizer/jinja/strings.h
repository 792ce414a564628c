// Python str methods over UTF-8 (code-point semantics), shared by the Jinja filters and the
// str method calls templates make (.strip(), .split(), .startswith(), ...).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace uma::jinja::py {

enum class side { both, left, right };
// str.strip(chars): chars == nullopt strips Unicode whitespace.
std::string strip(std::string_view s, const std::optional<std::string>& chars, side sd);
// str.split(sep, maxsplit) / str.rsplit: sep == nullopt splits on whitespace runs.
std::vector<std::string> split(std::string_view s, const std::optional<std::string>& sep,
                               long maxsplit, bool from_right);
std::vector<std::string> splitlines(std::string_view s, bool keepends);
std::string replace(std::string_view s, std::string_view old, std::string_view repl, long count);
std::string upper(std::string_view s);
std::string lower(std::string_view s);
std::string title(std::string_view s);       // str.title()
std::string capitalize(std::string_view s);  // str.capitalize()
// str.find / str.rfind / str.count in code points; -1 when absent.
long find(std::string_view s, std::string_view sub, bool from_right);
long count(std::string_view s, std::string_view sub);
bool is_cased_upper(uint32_t cp);
bool is_cased_lower(uint32_t cp);

}  // namespace uma::jinja::py
