#pragma once
// What the tool has put on each publish target, file by file: the only files
// it may ever replace or remove there.

#include <cstdint>
#include <string>
#include <vector>

namespace wsp::catalog {

// A file the tool put on a publish target, as it was put there.
struct PublishedFile {
  std::string path;  // relative to the target's root, '/'-separated
  std::string sha256;
  std::int64_t size = 0;
  std::int64_t published_ms = 0;  // 0 when recording: now
};

struct PublishCatalog {
  virtual ~PublishCatalog() = default;

  // `target` is the target's identity (pipeline/publish.hpp's target_identity:
  // its type and where it points), so that a target moved elsewhere starts afresh.
  // What the tool has published to the target `target`, by path. Only
  // these files may ever be replaced or removed there; a file is recorded right
  // after it is in place and forgotten right after it is removed, so that an
  // interrupted publish resumes from what actually landed.
  virtual std::vector<PublishedFile> published(const std::string& target) = 0;
  virtual void record_published(const std::string& target, const PublishedFile& file) = 0;
  virtual void forget_published(const std::string& target, const std::string& path) = 0;

  // The URLs of a target that a CDN may still serve old copies of: a purge
  // that failed after its retries, tried again by the next publish.
  virtual std::vector<std::string> pending_purges(const std::string& target) = 0;
  virtual void record_pending_purge(const std::string& target, const std::string& url) = 0;
  virtual void forget_pending_purge(const std::string& target, const std::string& url) = 0;
};

}  // namespace wsp::catalog
