#pragma once
// Finding the photos of a project: walks the configured sources, applies the
// include/exclude globs, and never enters the state folder, a configured local
// target, or any folder the tool marked as a publish target.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace wsp::pipeline {

struct FoundFile {
  std::filesystem::path absolute;
  std::string key;  // catalog path: relative to the project folder, or absolute outside it
  std::int64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::int64_t inode = 0;
  std::string problem;  // set when the file cannot be read at all (symlink loop, permissions)
};

struct ScanResult {
  std::vector<FoundFile> files;
  std::vector<std::filesystem::path> roots;  // the folders (or files) scanned, absolute
  std::vector<std::string> warnings;         // folders that could not be entered
  std::vector<std::filesystem::path> unreachable;  // nothing under these may be taken as deleted
};

// `paths` narrows the scan to these files or folders (inside the sources'
// patterns); empty scans every configured source.
ScanResult scan_sources(const config::Config& config, const std::vector<std::filesystem::path>& paths);

// The requested paths that lie inside no source of the project.
std::vector<std::filesystem::path> outside_sources(const config::Config& config,
                                                   const std::vector<std::filesystem::path>& paths);

bool is_inside(const std::filesystem::path& path, const std::filesystem::path& folder);

// Whether a scan would enter `folder`: not hidden, not the state folder, a
// configured local target or inside a folder marked as a publish target. The watcher uses it so as never to watch its own outputs.
bool is_scanned_folder(const config::Config& config, const std::filesystem::path& folder);

// Whether a scan would take `file` (absolute): inside a source, matching its
// patterns, not hidden, not under the state folder or a local target.
bool is_source_file(const config::Config& config, const std::filesystem::path& file);

// The catalog key of a path: relative to the project folder when inside it.
std::string catalog_key(const config::Config& config, const std::filesystem::path& absolute);

}  // namespace wsp::pipeline
