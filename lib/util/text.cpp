#include "util/text.hpp"

#include <algorithm>
#include <cctype>
#include <vector>


namespace wsp::util {

std::size_t levenshtein(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::optional<std::string> closest_match(std::string_view word, std::span<const std::string> candidates) {
  std::optional<std::string> best;
  std::size_t best_distance = std::max<std::size_t>(2, word.size() / 3) + 1;
  for (const auto& candidate : candidates) {
    auto distance = levenshtein(word, candidate);
    // A known key that the typed word merely extends ("api_key" for "api_key_env").
    if (candidate.starts_with(word) || word.starts_with(candidate)) distance = std::min<std::size_t>(distance, 2);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  return best;
}

namespace {

char fold(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

bool match_class(std::string_view pattern, std::size_t& p, char c) {
  // pattern[p] == '['; on return p is past ']'.
  std::size_t i = p + 1;
  bool negate = i < pattern.size() && (pattern[i] == '!' || pattern[i] == '^');
  if (negate) ++i;
  bool matched = false;
  bool first = true;
  for (; i < pattern.size() && (pattern[i] != ']' || first); ++i, first = false) {
    if (i + 2 < pattern.size() && pattern[i + 1] == '-' && pattern[i + 2] != ']') {
      if (fold(c) >= fold(pattern[i]) && fold(c) <= fold(pattern[i + 2])) matched = true;
      i += 2;
    } else if (fold(pattern[i]) == fold(c)) {
      matched = true;
    }
  }
  p = i + 1;
  return matched != negate;
}

bool glob_at(std::string_view pattern, std::size_t p, std::string_view path, std::size_t s) {
  while (p < pattern.size()) {
    char pc = pattern[p];
    if (pc == '*') {
      bool globstar = p + 1 < pattern.size() && pattern[p + 1] == '*';
      if (globstar) {
        p += 2;
        // "**/" also matches zero folders.
        if (p < pattern.size() && pattern[p] == '/') {
          if (glob_at(pattern, p + 1, path, s)) return true;
        }
        for (std::size_t k = s; k <= path.size(); ++k)
          if (glob_at(pattern, p, path, k)) return true;
        return false;
      }
      ++p;
      for (std::size_t k = s; k <= path.size(); ++k) {
        if (glob_at(pattern, p, path, k)) return true;
        if (k < path.size() && path[k] == '/') break;
      }
      return false;
    }
    if (s >= path.size()) return false;
    if (pc == '?') {
      if (path[s] == '/') return false;
    } else if (pc == '[') {
      if (path[s] == '/' || !match_class(pattern, p, path[s])) return false;
      ++s;
      continue;
    } else if (fold(pc) != fold(path[s])) {
      return false;
    }
    ++p;
    ++s;
  }
  return s == path.size();
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view path) { return glob_at(pattern, 0, path, 0); }

std::string capitalised(std::string text) {
  if (!text.empty() && text.front() >= 'a' && text.front() <= 'z') text.front() = static_cast<char>(text.front() - 'a' + 'A');
  return text;
}

std::string ascii_lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

}  // namespace wsp::util
