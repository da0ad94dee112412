#include "pipeline/ingest.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <tbb/parallel_pipeline.h>
#include <tbb/task_arena.h>

#include "imaging/probe.hpp"
#include "pipeline/names.hpp"
#include "pipeline/scan.hpp"
#include "util/files.hpp"
#include "util/hash.hpp"
#include "util/text.hpp"

namespace wsp::pipeline {
namespace fs = std::filesystem;
using catalog::ImageRecord;
using catalog::ImageStatus;

namespace {

constexpr std::string_view k_stage = name_of(StageName::ingest);

// What reading one file told us; produced in parallel, applied by one writer.
struct Observation {
  const FoundFile* file = nullptr;
  std::string sha256;
  imaging::PhotoHeader header;
  std::string problem;  // non-empty: rejected for this reason
};

// The ingest job's fingerprint: the content, and the settings a rejection may
// depend on, so that raising limits.max_pixels re-examines rejected files.
std::string ingest_fingerprint(const std::string& sha256, const config::Config& config) {
  return fmt::format("{}|max_pixels={}", sha256, config.limits.max_pixels);
}

Observation read_and_probe(const FoundFile& file, std::int64_t max_pixels) {
  Observation seen;
  seen.file = &file;
  if (!file.problem.empty()) {
    seen.problem = file.problem;
    return seen;
  }
  auto mapped = util::MappedFile::open(file.absolute);
  if (!mapped.ok()) {
    seen.problem = fmt::format("cannot read: {}", mapped.message());
    return seen;
  }
  seen.sha256 = util::sha256_hex(mapped->bytes());
  auto header = imaging::probe_header(mapped->bytes(), max_pixels);
  if (header.ok()) seen.header = std::move(*header);
  else seen.problem = header.message();
  return seen;
}

// An event's detail; a path that is not UTF-8 still gives valid JSON.
std::string detail_json(std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
  nlohmann::ordered_json json = nlohmann::ordered_json::object();
  for (const auto& [key, value] : fields) json[std::string(key)] = std::string(value);
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

class IngestWriter {
public:
  IngestWriter(const config::Config& config, catalog::Catalog& catalog, const IngestRequest& request,
               Observer& observer, IngestSummary& summary, std::set<std::string> vanished)
      : m_config(config), m_catalog(catalog), m_request(request), m_observer(observer), m_summary(summary),
        m_vanished(std::move(vanished)) {}

  void add(Observation seen) {
    m_batch.push_back(std::move(seen));
    // Commit in batches: one transaction per file would make fsyncs the cost of
    // ingest; a batch bounded in time keeps a kill -9 from losing much.
    auto now = std::chrono::steady_clock::now();
    if (m_batch.size() >= 64 || now - m_last_commit > std::chrono::milliseconds(500)) flush();
  }

  void flush() {
    m_last_commit = std::chrono::steady_clock::now();
    if (m_batch.empty()) return;
    std::vector<std::pair<const Observation*, std::string>> outcomes;
    m_catalog.write([&] {
      outcomes.clear();
      for (const auto& seen : m_batch) outcomes.emplace_back(&seen, apply(seen));
      m_catalog.heartbeat(m_request.run_id);
    });
    // Told only once committed, so that nothing reported can be lost.
    for (const auto& [seen, outcome] : outcomes) report(*seen, outcome);
    m_batch.clear();
  }

  // Whatever was in the catalog under the scanned folders and is no longer on
  // disk, and was not found again under another name, is missing.
  void mark_vanished() {
    m_catalog.write([&] {
      for (const auto& key : m_vanished) {
        auto image = m_catalog.image_at(key);
        if (!image || image->status == ImageStatus::Missing) continue;
        std::error_code error;
        if (fs::exists(m_config.in_project(key), error) || error) continue;
        auto former = image->status;
        image->status = ImageStatus::Missing;
        image->updated_ms = catalog::now_ms();
        m_catalog.update_image(*image);
        if (former == ImageStatus::Active) promote_duplicate(*image);
        m_catalog.add_event({to_string(EventKind::image_missing), image->id, detail_json({{"path", key}})},
                            m_request.run_id);
        m_observer.item_done(k_stage, key, "missing", 0);
        ++m_summary.missing;
      }
    });
  }

private:
  void report(const Observation& seen, const std::string& outcome) {
    if (outcome == "rejected") m_observer.item_problem(k_stage, seen.file->key, seen.problem);
    m_observer.item_done(k_stage, seen.file->key, outcome, seen.file->size);
  }

  // A duplicate takes over when the image it repeated disappears.
  void promote_duplicate(const ImageRecord& gone) {
    std::optional<std::int64_t> heir;
    for (auto& twin : m_catalog.images_with_hash(gone.sha256)) {
      if (twin.status != ImageStatus::Duplicate || twin.duplicate_of != gone.id) continue;
      if (!heir) {
        heir = twin.id;
        twin.status = ImageStatus::Active;
        twin.duplicate_of.reset();
      } else {
        twin.duplicate_of = heir;
      }
      m_catalog.update_image(twin);
    }
  }

  // The original this content duplicates, if an active image already has it.
  std::optional<std::int64_t> original_of(const std::string& sha256, std::int64_t self) {
    for (const auto& twin : m_catalog.images_with_hash(sha256))
      if (twin.id != self && twin.status == ImageStatus::Active) return twin.id;
    return std::nullopt;
  }

  // A file that was known under another name that has since vanished.
  std::optional<ImageRecord> moved_from(const std::string& sha256) {
    for (auto& twin : m_catalog.images_with_hash(sha256)) {
      bool gone = twin.status == ImageStatus::Missing || m_vanished.count(twin.path) != 0;
      std::error_code error;
      if (gone && !fs::exists(m_config.in_project(twin.path), error) && !error) return twin;
    }
    return std::nullopt;
  }

  std::string apply(const Observation& seen) {
    const FoundFile& file = *seen.file;
    const auto now = catalog::now_ms();
    auto existing = m_catalog.image_at(file.key);
    ImageRecord image;
    std::string outcome;
    std::optional<EventKind> event;
    if (existing) {
      image = *existing;
      bool same_content = !seen.sha256.empty() && seen.sha256 == existing->sha256 &&
                          existing->status != ImageStatus::Rejected && seen.problem.empty();
      outcome = same_content ? "unchanged" : "changed";
      if (!same_content) event = EventKind::image_changed;
    } else if (auto previous = seen.problem.empty() ? moved_from(seen.sha256) : std::nullopt) {
      image = *previous;
      m_vanished.erase(previous->path);
      outcome = "moved";
      event = EventKind::image_moved;
    } else {
      image.first_seen_ms = now;
      outcome = "added";
      event = EventKind::image_ingested;
    }
    const std::string former_path = image.path;
    const bool was_original = existing && existing->status == ImageStatus::Active;
    image.path = file.key;
    image.size = file.size;
    image.mtime_ns = file.mtime_ns;
    image.inode = file.inode;
    image.sha256 = seen.sha256;
    image.updated_ms = now;
    image.header = seen.header;
    image.reject_reason = seen.problem;
    image.duplicate_of.reset();
    image.priority = std::max(image.priority, m_request.priority);
    if (!seen.problem.empty()) {
      image.status = ImageStatus::Rejected;
      outcome = "rejected";
      event = EventKind::image_rejected;
    } else if (auto original = original_of(seen.sha256, image.id)) {
      image.status = ImageStatus::Duplicate;
      image.duplicate_of = original;
      if (outcome == "added") {
        outcome = "duplicate";
        event = EventKind::image_duplicate;
      }
    } else {
      image.status = ImageStatus::Active;
    }
    if (image.id == 0) image.id = m_catalog.add_image(image);
    else m_catalog.update_image(image);
    // An original whose content changed or became unreadable no longer stands
    // for its copies: the first copy takes its place.
    if (was_original && (image.status != ImageStatus::Active || existing->sha256 != image.sha256)) {
      promote_duplicate(*existing);
    }

    auto job = m_catalog.job(image.id, std::string(k_stage)).value_or(catalog::Job{image.id, std::string(k_stage), catalog::JobState::Pending, 0, {}, {}});
    job.state = seen.problem.empty() ? catalog::JobState::Done : catalog::JobState::Rejected;
    job.attempts += 1;
    job.last_error = seen.problem;
    job.fingerprint = ingest_fingerprint(seen.sha256, m_config);
    m_catalog.put_job(job);

    // A file read again (touched, restored) gives its failed work another chance.
    if (outcome == "unchanged") m_catalog.requeue_failed("", file.key);

    if (event) {
      std::string detail = outcome == "moved"      ? detail_json({{"from", former_path}, {"to", file.key}})
                           : outcome == "rejected" ? detail_json({{"path", file.key}, {"reason", seen.problem}})
                                                   : detail_json({{"path", file.key}, {"sha256", seen.sha256}});
      m_catalog.add_event({to_string(*event), image.id, detail}, m_request.run_id);
    }
    count(outcome, file.size);
    return outcome;
  }

  void count(const std::string& outcome, std::int64_t bytes) {
    m_summary.bytes_read += bytes;
    if (outcome == "added") ++m_summary.added;
    else if (outcome == "changed") ++m_summary.changed;
    else if (outcome == "moved") ++m_summary.moved;
    else if (outcome == "duplicate") ++m_summary.duplicates;
    else if (outcome == "rejected") ++m_summary.rejected;
    else ++m_summary.unchanged;
  }

  const config::Config& m_config;
  catalog::Catalog& m_catalog;
  const IngestRequest& m_request;
  Observer& m_observer;
  IngestSummary& m_summary;
  std::set<std::string> m_vanished;
  std::vector<Observation> m_batch;
  std::chrono::steady_clock::time_point m_last_commit = std::chrono::steady_clock::now();
};

bool under_any(const fs::path& path, const std::vector<fs::path>& folders) {
  return std::any_of(folders.begin(), folders.end(), [&](const fs::path& folder) { return is_inside(path, folder); });
}


}  // namespace

bool unchanged_since_ingest(const config::Config& config, catalog::Catalog& catalog, const ImageRecord& known,
                            const FoundFile& file) {
  if (known.status == ImageStatus::Missing || known.size != file.size || known.mtime_ns != file.mtime_ns ||
      known.inode != file.inode)
    return false;
  if (known.status != ImageStatus::Rejected) return true;
  auto job = catalog.job(known.id, std::string(k_stage));
  return job && job->fingerprint == ingest_fingerprint(known.sha256, config);
}

bool bare_mount_point(const config::Config& config, catalog::Catalog& catalog, const fs::path& folder) {
  std::error_code error;
  if (!fs::is_directory(folder, error) || !fs::is_empty(folder, error) || error) return false;
  const auto images = catalog.images();
  return std::any_of(images.begin(), images.end(), [&](const ImageRecord& image) {
    return image.status != ImageStatus::Missing && is_inside(config.in_project(image.path), folder);
  });
}

IngestSummary ingest(const config::Config& config, catalog::Catalog& catalog, const IngestRequest& request,
                     Observer& observer) {
  IngestSummary summary;
  const bool scan_nothing = request.paths.empty() && !request.gone.empty();
  auto scan = scan_nothing ? ScanResult{} : scan_sources(config, request.paths);
  for (const auto& warning : scan.warnings) observer.warning(warning);
  summary.seen = scan.files.size();

  std::map<std::string, ImageRecord> known;
  for (auto& image : catalog.images()) known.emplace(image.path, std::move(image));

  // An unchanged file (same size, mtime and inode) is not read again.
  std::vector<FoundFile*> to_read;  // not const: tbb's pipeline passes tokens as void*
  std::vector<ImageRecord*> raised;  // unchanged, queued at a lower priority than this request's
  std::set<std::string> present;
  for (auto& file : scan.files) {
    present.insert(file.key);
    auto it = known.find(file.key);
    if (it != known.end() && unchanged_since_ingest(config, catalog, it->second, file)) {
      ++summary.unchanged;
      if (it->second.status == ImageStatus::Rejected) ++summary.still_rejected;
      if (it->second.priority < request.priority) raised.push_back(&it->second);
    } else to_read.push_back(&file);
  }
  // A rush names photos catalogued before: what is still due for them goes ahead.
  if (!raised.empty()) {
    catalog.write([&] {
      for (auto* image : raised) {
        image->priority = request.priority;
        catalog.update_image(*image);
      }
    });
  }
  // Nothing under an unmounted share's bare mount point is marked missing.
  std::vector<fs::path> untouchable = scan.unreachable;
  std::vector<fs::path> looked_in = scan.roots;
  looked_in.insert(looked_in.end(), request.gone.begin(), request.gone.end());
  for (const auto& folder : looked_in) {
    if (!bare_mount_point(config, catalog, folder)) continue;
    observer.warning(fmt::format("{}: empty, though the catalog has photos there; taken as a share that is not "
                                 "mounted: none of them is marked missing",
                                 folder.string()));
    untouchable.push_back(folder);
  }
  std::set<std::string> vanished;
  for (const auto& [key, image] : known) {
    if (image.status == ImageStatus::Missing || present.count(key)) continue;
    const fs::path absolute = config.in_project(key);
    if ((under_any(absolute, scan.roots) || under_any(absolute, request.gone)) && !under_any(absolute, untouchable))
      vanished.insert(key);
  }

  observer.stage_started(k_stage, to_read.size());
  IngestWriter writer(config, catalog, request, observer, summary, std::move(vanished));
  std::size_t next = 0;
  const auto max_pixels = config.limits.max_pixels;
  // Files in flight are bounded, and each is mapped only while it is hashed and probed.
  const std::size_t tokens = std::max<std::size_t>(4, 2 * static_cast<std::size_t>(tbb::this_task_arena::max_concurrency()));
  tbb::parallel_pipeline(
      tokens,
      tbb::make_filter<void, FoundFile*>(tbb::filter_mode::serial_in_order,
                                              [&](tbb::flow_control& control) -> FoundFile* {
                                                if (next >= to_read.size() || (request.stop && *request.stop)) {
                                                  control.stop();
                                                  return nullptr;
                                                }
                                                return to_read[next++];
                                              }) &
          tbb::make_filter<FoundFile*, Observation>(
              tbb::filter_mode::parallel, [&](FoundFile* file) { return read_and_probe(*file, max_pixels); }) &
          // Applied in the scan's (path) order: new images are catalogued in
          // the shoot's order, and work of equal priority is claimed oldest
          // first, so a shoot renders in the order of its files.
          tbb::make_filter<Observation, void>(tbb::filter_mode::serial_in_order,
                                              [&](Observation seen) { writer.add(std::move(seen)); }));
  writer.flush();
  if (!(request.stop && *request.stop)) writer.mark_vanished();
  return summary;
}

}  // namespace wsp::pipeline
