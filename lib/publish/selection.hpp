#pragma once
// Which photos a target shows: the photographer's rating, colour labels and
// picks against the target's `select` policy. A rejected photo is never shown.

#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace wsp::publish {

// What is known of one photo's selection, from the photographer and from tagging.
struct SelectionFacts {
  std::optional<int> rating;        // -1 rejected, 0 unrated, 1..5 stars
  std::vector<std::string> labels;  // colour labels
  bool picked = false;              // tagged in Photo Mechanic
  bool in_group = false;            // part of a burst or near-duplicate group
  bool best_pick = false;           // the group's best pick
};

// Why the policy leaves the photo out, or nullopt when it keeps it.
std::optional<std::string> left_out_because(const config::PublishTarget::Select& policy, const SelectionFacts& facts);

// The policy in words, for --dry-run: "everything not rejected", "3 stars or more, labelled Green".
std::string describe(const config::PublishTarget::Select& policy);

}  // namespace wsp::publish
