#pragma once
// `ingest`: registers every source file in the catalog with its hash and header
// facts, recognising unchanged, moved, duplicated, vanished and bad files.

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "catalog/catalog.hpp"
#include "config/config.hpp"
#include "pipeline/observer.hpp"
#include "pipeline/scan.hpp"

namespace wsp::pipeline {

struct IngestSummary {
  std::size_t seen = 0;
  std::size_t unchanged = 0;
  std::size_t added = 0;
  std::size_t changed = 0;
  std::size_t moved = 0;
  std::size_t duplicates = 0;
  std::size_t rejected = 0;
  std::size_t still_rejected = 0;  // unchanged files rejected by an earlier run
  std::size_t missing = 0;
  std::int64_t bytes_read = 0;
};

struct IngestRequest {
  // Files or folders to scan; with neither these nor `gone`, every source.
  std::vector<std::filesystem::path> paths;
  // Files or folders seen deleted or renamed away: what the catalog has at or
  // under them and is no longer on disk is marked missing, as for a scanned
  // folder. The hot folder names these instead of scanning, so that a copy
  // still in progress is never read.
  std::vector<std::filesystem::path> gone;
  std::string run_id;
  const std::atomic<bool>* stop = nullptr;   // set by a signal: stop taking new files
  // The priority of the work queued for the files found (catalog::k_priority_*):
  // an image's priority is raised to it, never lowered, whether the file is
  // new, changed or unchanged.
  int priority = catalog::k_priority_normal;
};

// Whether `file` is as the catalog last saw it (same size, mtime and inode,
// and a rejection made under the current limits), so that ingest need not
// read it again.
bool unchanged_since_ingest(const config::Config& config, catalog::Catalog& catalog,
                            const catalog::ImageRecord& known, const FoundFile& file);

// Whether `folder` is empty while the catalog has photos (not missing) under
// it: the bare mount point of a share that is not mounted, which must never be
// taken as a shoot whose every photo was deleted.
bool bare_mount_point(const config::Config& config, catalog::Catalog& catalog, const std::filesystem::path& folder);

IngestSummary ingest(const config::Config& config, catalog::Catalog& catalog, const IngestRequest& request,
                     Observer& observer);

}  // namespace wsp::pipeline
