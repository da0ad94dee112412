#pragma once
// Checking that what the catalog says is still true on disk: sources against
// their hashes (edits, bit rot, missing files), renders against theirs, the
// manifest against the catalog, every published file at its target with the
// recorded hash, every link and image of the published pages, and that no
// published render carries what the metadata policy strips (GPS, serial
// numbers, owner names). Nothing is changed unless repair is asked for.

#include <string>
#include <vector>

#include "catalog/catalog.hpp"
#include "config/config.hpp"
#include "pipeline/observer.hpp"

namespace wsp::pipeline {

struct Finding {
  std::string kind;    // "source.modified", "source.bit_rot", "source.missing", "render.missing",
                       // "render.corrupt", "manifest.stale", "published.missing", "published.corrupt",
                       // "page.broken_link", "published.privacy"
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
