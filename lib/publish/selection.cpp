#include "publish/selection.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace wsp::publish {
namespace {

std::string lower(std::string text) {
  for (auto& c : text)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return text;
}

std::string joined(const std::vector<std::string>& words, std::string_view separator) {
  std::string out;
  for (const auto& word : words) out += (out.empty() ? "" : std::string(separator)) + word;
  return out;
}

}  // namespace

std::optional<std::string> left_out_because(const config::PublishTarget::Select& policy, const SelectionFacts& facts) {
  const int rating = facts.rating.value_or(0);
  if (rating < 0) return "rejected";
  if (policy.min_rating && rating < *policy.min_rating) {
    return rating == 0 ? fmt::format("unrated, {} stars wanted", *policy.min_rating)
                       : fmt::format("{} stars, {} wanted", rating, *policy.min_rating);
  }
  if (!policy.labels.empty()) {
    bool labelled = std::any_of(facts.labels.begin(), facts.labels.end(), [&](const std::string& label) {
      return std::any_of(policy.labels.begin(), policy.labels.end(),
                         [&](const std::string& wanted) { return lower(wanted) == lower(label); });
    });
    if (!labelled) {
      return facts.labels.empty() ? fmt::format("no colour label, {} wanted", joined(policy.labels, " or "))
                                  : fmt::format("labelled {}, {} wanted", joined(facts.labels, ", "),
                                                joined(policy.labels, " or "));
    }
  }
  if (policy.picks_only && !facts.picked) return "not a pick";
  if (policy.best_of_bursts && facts.in_group && !facts.best_pick) return "not the best of its burst";
  return std::nullopt;
}

std::string describe(const config::PublishTarget::Select& policy) {
  std::vector<std::string> parts;
  if (policy.min_rating && *policy.min_rating > 0) parts.push_back(fmt::format("{} stars or more", *policy.min_rating));
  if (!policy.labels.empty()) parts.push_back("labelled " + joined(policy.labels, " or "));
  if (policy.picks_only) parts.push_back("picks only");
  if (policy.best_of_bursts) parts.push_back("the best of each burst");
  if (parts.empty()) return "everything not rejected";
  return joined(parts, ", ") + ", nothing rejected";
}

}  // namespace wsp::publish
