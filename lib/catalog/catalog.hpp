#pragma once
// The catalog: what the tool knows about every image and every piece of work.
// All access goes through this narrow interface so that a shared PostgreSQL
// catalog can stand in for the embedded SQLite one; nothing outside lib/catalog
// sees SQL.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "imaging/probe.hpp"

namespace wsp::catalog {

// The life of a source file as the catalog sees it.
enum class ImageStatus { Active, Duplicate, Rejected, Missing };
std::string_view to_string(ImageStatus status);
ImageStatus image_status_from(std::string_view text);

struct ImageRecord {
  std::int64_t id = 0;
  std::string path;  // relative to the project folder when inside it, '/'-separated
  std::int64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::int64_t inode = 0;
  std::string sha256;
  ImageStatus status = ImageStatus::Active;
  std::optional<std::int64_t> duplicate_of;  // the image whose content this file repeats
  std::string reject_reason;
  imaging::PhotoHeader header;
  std::int64_t first_seen_ms = 0;
  std::int64_t updated_ms = 0;
};

enum class JobState { Pending, Running, Done, Failed, Rejected };
std::string_view to_string(JobState state);

// One row per image x stage (ingest, render, tag, publish).
struct Job {
  std::int64_t image_id = 0;
  std::string stage;
  JobState state = JobState::Pending;
  int attempts = 0;
  std::string last_error;
  std::string fingerprint;  // hash of the inputs; the stage reruns only when it changes
};

struct Event {
  std::string kind;   // "image.ingested", "image.moved", "image.rejected", ...
  std::optional<std::int64_t> image_id;
  std::string detail;  // JSON object text
};

struct RunRecord {
  std::string id;
  std::string command;
  std::int64_t pid = 0;
  std::string host;
  std::int64_t started_ms = 0;
  std::int64_t heartbeat_ms = 0;
  std::optional<std::int64_t> finished_ms;
  std::optional<int> exit_code;
};

struct StageCount {
  std::string stage;
  std::string state;
  std::int64_t count = 0;
};

struct Catalog {
  virtual ~Catalog() = default;

  // Runs `work` inside one write transaction taken up front (BEGIN IMMEDIATE in
  // SQLite), so that reads inside it see what the writes will be checked
  // against. Commits when `work` returns, rolls back when it throws.
  virtual void write(const std::function<void()>& work) = 0;

  virtual std::vector<ImageRecord> images() = 0;
  virtual std::optional<ImageRecord> image_at(const std::string& path) = 0;
  virtual std::vector<ImageRecord> images_with_hash(const std::string& sha256) = 0;
  virtual std::int64_t add_image(const ImageRecord& image) = 0;
  virtual void update_image(const ImageRecord& image) = 0;

  virtual void put_job(const Job& job) = 0;
  virtual std::optional<Job> job(std::int64_t image_id, const std::string& stage) = 0;

  // Appends to the audit trail; events are never updated or deleted.
  virtual void add_event(const Event& event, const std::string& run_id) = 0;
  virtual std::int64_t event_count() = 0;

  virtual void begin_run(const RunRecord& run) = 0;
  virtual void heartbeat(const std::string& run_id) = 0;
  virtual void finish_run(const std::string& run_id, int exit_code) = 0;
  virtual std::vector<RunRecord> unfinished_runs() = 0;

  virtual std::vector<StageCount> stage_counts() = 0;
  virtual int schema_version() = 0;
};

// Opens (creating and migrating as needed) the SQLite catalog at `file`.
// Throws CatalogError when the file cannot be opened or is from a newer version.
std::unique_ptr<Catalog> open_sqlite_catalog(const std::filesystem::path& file);

struct CatalogError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::int64_t now_ms();

}  // namespace wsp::catalog
