#pragma once
// The catalog's images and the work queued on them: one row per source file,
// one job per image x stage, claimed under leases so that two processes never
// do the same work.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "catalog/runs.hpp"
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
JobState job_state_from(std::string_view text);

// One row per image x stage (ingest, render, tag, publish).
struct Job {
  std::int64_t image_id = 0;
  std::string stage;
  JobState state = JobState::Pending;
  int attempts = 0;
  std::string last_error;
  std::string fingerprint;  // hash of the inputs; the stage reruns only when it changes
};

struct StageCount {
  std::string stage;
  std::string state;
  std::int64_t count = 0;
};

struct ImageCatalog {
  virtual ~ImageCatalog() = default;

  // Every image (any status), by path.
  virtual std::vector<ImageRecord> images() = 0;
  // The image recorded at `path` (relative to the project), whatever its status.
  virtual std::optional<ImageRecord> image_at(const std::string& path) = 0;
  // The images whose content has this hash, oldest first: duplicates and moves.
  virtual std::vector<ImageRecord> images_with_hash(const std::string& sha256) = 0;
  // Inserts the image (its id is ignored) and returns its id; a second image
  // at the same path is refused.
  virtual std::int64_t add_image(const ImageRecord& image) = 0;
  // Rewrites every field of the image with `image.id`.
  virtual void update_image(const ImageRecord& image) = 0;

  // Inserts or replaces the image's job for `job.stage`; any lease on it ends.
  virtual void put_job(const Job& job) = 0;
  virtual std::optional<Job> job(std::int64_t image_id, const std::string& stage) = 0;

  // Work queue. A job is claimable for `stage` when its active image has no job
  // yet, its fingerprint (image hash + ':' + `settings`) differs, it is pending,
  // or it is running under an expired lease; and, when `after` names a stage,
  // that stage is done for the image. Claiming marks it running under `run_id`
  // until now + `lease_ms`; other processes skip it until then.
  virtual std::vector<ImageRecord> claim(const std::string& stage, const std::string& settings,
                                         const std::string& after, const std::string& run_id, std::int64_t lease_ms,
                                         int limit) = 0;
  virtual std::int64_t count_claimable(const std::string& stage, const std::string& settings,
                                       const std::string& after) = 0;
  // Extends the run's leases to now + `lease_ms` and records its progress
  // and heartbeat, in one transaction.
  virtual void renew_leases(const std::string& run_id, std::int64_t lease_ms, const RunProgress& progress) = 0;
  // Hands the run's unfinished claims back (running -> pending).
  virtual void release_leases(const std::string& run_id) = 0;
  // Failed jobs back to pending, attempts reset; `stage` and `path` narrow it. Returns how many.
  virtual std::int64_t requeue_failed(const std::string& stage, const std::string& path) = 0;
  // The failed jobs of active images: path and error, by path.
  virtual std::vector<std::pair<std::string, std::string>> failures(const std::string& stage) = 0;
  // How many jobs each stage has in each state.
  virtual std::vector<StageCount> stage_counts() = 0;

  // Idle workers. listen_for_work is true when the catalog can wake them
  // (PostgreSQL: LISTEN/NOTIFY; SQLite cannot, and its callers poll). From
  // then on wait_for_work returns true as soon as another process has queued
  // work (an image added or changed, a job put, handed back or requeued, an
  // event recorded: each notifies in the transaction that makes it), false
  // after `timeout`, or at once where the catalog cannot tell.
  virtual bool listen_for_work() = 0;
  virtual bool wait_for_work(std::chrono::milliseconds timeout) = 0;
};

}  // namespace wsp::catalog
