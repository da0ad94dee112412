#pragma once
// Checking that what the catalog says is still true on disk: sources against
// their hashes (edits, bit rot, missing files), renders against theirs, the
// manifest against the catalog, every published file at its target with the
// recorded hash, every link and image of the published pages, and that no
// published render carries what the metadata policy strips (GPS, serial
// numbers, owner names). Nothing is changed unless repair is asked for.

#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/catalog.hpp"
#include "config/config.hpp"
#include "pipeline/observer.hpp"

namespace wsp::pipeline {

// Every kind of finding, in the order of the report, with what it means as
// the report's heading for it.
struct FindingKind {
  std::string_view kind;
  std::string_view heading;
};
inline constexpr FindingKind k_finding_kinds[] = {
    {"source.missing", "sources missing"},
    {"source.modified", "sources changed since ingest"},
    {"source.bit_rot", "sources whose content changed behind an unchanged size and date (bit rot?)"},
    {"render.missing", "renders missing"},
    {"render.corrupt", "renders that no longer match their hash"},
    {"manifest.stale", "manifest out of step with the catalog"},
    {"published.missing", "published files missing at their target"},
    {"published.corrupt", "published files changed at their target"},
    {"page.broken_link", "gallery pages with links that lead nowhere"},
    {"published.privacy", "published files carrying what the metadata policy strips"},
};

// Where `kind` stands in k_finding_kinds (its end when unknown).
inline const FindingKind* finding_kind(std::string_view kind) {
  const auto* known = std::begin(k_finding_kinds);
  while (known != std::end(k_finding_kinds) && known->kind != kind) ++known;
  return known;
}

struct Finding {
  std::string kind;    // one of k_finding_kinds
  std::string file;    // the file it is about
  std::string detail;  // what is wrong, for a person
  std::string repair;  // what --repair did about it; empty when it cannot help
};

struct VerifyRequest {
  bool fast = false;    // sources: size and mtime only, no re-hash
  bool repair = false;  // requeue what can be rebuilt
};

// Every finding, grouped by kind in the order above, then by file.
std::vector<Finding> verify(const config::Config& config, catalog::Catalog& catalog, const VerifyRequest& request,
                            Observer& observer);

}  // namespace wsp::pipeline
