#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace wsp::util {

// Edit distance, for "did you mean" suggestions.
std::size_t levenshtein(std::string_view a, std::string_view b);

// The candidate closest to `word`, if it is close enough to be a plausible typo.
std::optional<std::string> closest_match(std::string_view word, std::span<const std::string> candidates);

// Shell-style glob on a '/'-separated relative path: '*' and '?' stay within one
// path segment, '**' spans segments, "[abc]" classes; matching ignores ASCII case
// because cameras write .JPG and configs say *.jpg.
bool glob_match(std::string_view pattern, std::string_view path);

// `text` with ASCII letters in lower case: HTTP header names, host names and
// other protocol words, never a person's text.
std::string ascii_lower(std::string_view text);

// `text` with its first letter in upper case (ASCII only: other scripts are left as written).
std::string capitalised(std::string text);

}  // namespace wsp::util
