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
  std::vector<std::filesystem::path> paths;  // empty: every source
  std::string run_id;
  const std::atomic<bool>* stop = nullptr;   // set by a signal: stop taking new files
};

IngestSummary ingest(const config::Config& config, catalog::Catalog& catalog, const IngestRequest& request,
                     Observer& observer);

}  // namespace wsp::pipeline
