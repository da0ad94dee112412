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

// One encoded file of a rendered image, relative to the state folder.
struct VariantRecord {
  int width = 0;
  int height = 0;
  std::string format;  // jpeg | webp | avif
  std::int64_t bytes = 0;
  std::string sha256;
  std::string path;    // "renders/first-kiss-960.3f9a1c2b7d4e.webp"
};

// What the render stage made of one image, committed after its files are in place.
struct RenderRecord {
  std::int64_t image_id = 0;
  std::string source_path;  // the image's catalog path, filled when read back
  std::string fingerprint;
  int width = 0;            // upright size of the largest variant
  int height = 0;
  std::string analysis_path;
  std::string placeholder;
  std::vector<VariantRecord> variants;
};

// What automatic tagging concluded about one image. Overrides live apart
// (TagOverride) and always win; re-tagging replaces only this.
struct TagRecord {
  std::int64_t image_id = 0;
  std::string source_path;  // the image's catalog path, filled when read back
  std::string fingerprint;
  std::string provider;     // which provider's observation it rests on: "local", "openai", ...
  std::string model;
  std::string scene;
  double scene_confidence = 0;
  std::string scene_basis;  // "timeline", "heuristic" or the provider's name
  std::vector<std::string> keywords;
  std::string alt_text;
  double confidence = 0;    // of the scene; 0 without one
  double sharpness = 0;
  double exposure_error = 0;
  bool overexposed = false;
  bool underexposed = false;
  std::string palette;      // "#rrggbb:share:name" entries joined by ' ', largest share first
  std::string dominant_colour;
  std::uint64_t phash = 0;
  std::optional<std::int64_t> capture_utc_ms;  // after the configured clock correction
  std::string camera;       // serial, or model when no serial: what align-clocks groups by
  // Burst / near-duplicate group: the id of its best pick; empty when the frame stands alone.
  std::optional<std::int64_t> group;
  // The keywords last written to the image's XMP sidecar: the ones the tool
  // may take out again there, unlike those the photographer added.
  std::vector<std::string> sidecar_keywords;
};

// A photographer's corrections to one image; unset fields leave the automatic result.
struct TagOverride {
  std::int64_t image_id = 0;
  std::string source_path;  // filled when read back
  std::optional<std::string> scene;
  std::vector<std::string> add_tags;
  std::vector<std::string> remove_tags;
  std::optional<std::string> alt_text;
  std::optional<int> rating;  // -1 (rejected) .. 5
  bool empty() const { return !scene && add_tags.empty() && remove_tags.empty() && !alt_text && !rating; }
};

// A run's live progress, for `status`.
struct RunProgress {
  std::string stage;
  std::int64_t done = 0;
  std::int64_t total = 0;
};

// A file the tool put on a publish target, as it was put there.
struct PublishedFile {
  std::string path;  // relative to the target's root, '/'-separated
  std::string sha256;
  std::int64_t size = 0;
  std::int64_t published_ms = 0;  // 0 when recording: now
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
  virtual void renew_leases(const std::string& run_id, std::int64_t lease_ms, const RunProgress& progress) = 0;
  // Hands the run's unfinished claims back (running -> pending).
  virtual void release_leases(const std::string& run_id) = 0;
  // Failed jobs back to pending, attempts reset; `stage` and `path` narrow it. Returns how many.
  virtual std::int64_t requeue_failed(const std::string& stage, const std::string& path) = 0;
  virtual std::vector<std::pair<std::string, std::string>> failures(const std::string& stage) = 0;  // path, error

  // Replaces the image's render; returns the files (variants, analysis image) no
  // render refers to any more.
  virtual std::vector<std::string> replace_render(const RenderRecord& render) = 0;
  virtual std::vector<RenderRecord> renders() = 0;  // of active images, by path
  // Every file under the state folder some render refers to (variants, analysis images).
  virtual std::vector<std::string> referenced_files() = 0;
  // Replaces the image's automatic tags (its group is kept until set_groups).
  virtual void put_tags(const TagRecord& tags) = 0;
  virtual std::vector<TagRecord> tags() = 0;  // of active images, by path
  virtual void set_sidecar_keywords(std::int64_t image_id, const std::vector<std::string>& keywords) = 0;
  // The analysis image of the image's current render, relative to the state folder.
  virtual std::optional<std::string> analysis_path(std::int64_t image_id) = 0;
  // Replaces every burst group: `groups` maps image id -> the group's best pick.
  virtual void set_groups(const std::vector<std::pair<std::int64_t, std::int64_t>>& groups) = 0;

  // Overrides are stored apart from automatic results; an empty one is removed.
  virtual void put_override(const TagOverride& override_) = 0;
  virtual std::optional<TagOverride> tag_override(std::int64_t image_id) = 0;
  virtual std::vector<TagOverride> overrides() = 0;  // of active images, by path

  // Provider results by content hash + provider + model, so that re-tagging the
  // same pixels (a new timeline, another file with the same analysis image) asks
  // no provider twice.
  virtual std::optional<std::string> cached_result(const std::string& content_sha256, const std::string& provider,
                                                   const std::string& model) = 0;
  virtual void put_cached_result(const std::string& content_sha256, const std::string& provider,
                                 const std::string& model, const std::string& result) = 0;

  // What the tool has published to the target named `target`, by path. Only
  // these files may ever be replaced or removed there; a file is recorded right
  // after it is in place and forgotten right after it is removed, so that an
  // interrupted publish resumes from what actually landed.
  virtual std::vector<PublishedFile> published(const std::string& target) = 0;
  virtual void record_published(const std::string& target, const PublishedFile& file) = 0;
  virtual void forget_published(const std::string& target, const std::string& path) = 0;

  virtual std::optional<RunProgress> run_progress(const std::string& run_id) = 0;

  virtual std::vector<StageCount> stage_counts() = 0;
  virtual int schema_version() = 0;

  // A second connection to the same catalog, for another thread (heartbeats).
  virtual std::unique_ptr<Catalog> reopen() = 0;
};

// How a command uses the catalog. A reader never creates, migrates or
// changes the file's journal mode, so that it works in a read-only folder;
// its writes fail, naming the file.
enum class Access { read_write, read_only };

// Opens the SQLite catalog at `file`: with read_write, creating and migrating
// it as needed; with read_only, an existing one as it is (an older schema is
// still brought up to date, where the file may be written). Throws
// CatalogError, naming the file, when it cannot be opened or is from a newer
// version.
std::unique_ptr<Catalog> open_sqlite_catalog(const std::filesystem::path& file, Access access = Access::read_write);

struct CatalogError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::int64_t now_ms();

// The schema version this build creates and migrates to.
int latest_schema_version();

}  // namespace wsp::catalog
