#pragma once
// How both backends store a list of keywords in one text column.

#include <string>
#include <vector>

namespace wsp::catalog {

// Keywords are stored one per line: a keyword may hold spaces and commas
// ("first dance", "Smith, Anna") but never a line break.
inline std::string join_words(const std::vector<std::string>& words) {
  std::string joined;
  for (const auto& word : words) {
    if (!joined.empty()) joined.push_back('\n');
    joined += word;
  }
  return joined;
}

inline std::vector<std::string> split_words(const std::string& joined) {
  std::vector<std::string> words;
  std::size_t start = 0;
  while (start < joined.size()) {
    auto end = joined.find('\n', start);
    if (end == std::string::npos) end = joined.size();
    if (end > start) words.push_back(joined.substr(start, end - start));
    start = end + 1;
  }
  return words;
}

}  // namespace wsp::catalog
