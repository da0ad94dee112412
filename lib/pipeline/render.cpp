#include "pipeline/render.hpp"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <random>
#include <set>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "imaging/render.hpp"
#include "imaging/threads.hpp"
#include "pipeline/engine.hpp"
#include "util/files.hpp"
#include "util/hash.hpp"

namespace wsp::pipeline {
namespace fs = std::filesystem;
using catalog::ImageRecord;

std::string web_stem(const std::string& path) {
  // Latin-1 letters U+00C0..U+00FF as their plain letter ('?' for the few with none).
  static constexpr std::string_view k_latin1 = "AAAAAAACEEEEIIIIDNOOOOO?OUUUUYTsaaaaaaaceeeeiiiidnooooo?ouuuuyty";
  std::string name = fs::path(path).stem().string();
  std::string stem;
  for (std::size_t i = 0; i < name.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(name[i]);
    if (c == 0xC3 && i + 1 < name.size()) {
      unsigned char code = static_cast<unsigned char>(name[i + 1]) + 0x40;  // UTF-8 C3 xx is U+00C0 + (xx - 0x80)
      if (code >= 0xC0 && k_latin1[code - 0xC0] != '?') {
        stem.push_back(static_cast<char>(std::tolower(k_latin1[code - 0xC0])));
        ++i;
        continue;
      }
    }
    if (std::isalnum(c) && c < 0x80) stem.push_back(static_cast<char>(std::tolower(c)));
    else if (!stem.empty() && stem.back() != '-') stem.push_back('-');
  }
  // A file name may be 255 bytes; the output's own name adds the width, the
  // hash and the extension (about 25 bytes) and its temporary more.
  constexpr std::size_t k_max_stem = 180;
  if (stem.size() > k_max_stem) stem.resize(k_max_stem);
  while (!stem.empty() && stem.back() == '-') stem.pop_back();
  return stem.empty() ? "photo" : stem;
}

namespace {

std::string extension_of(const std::string& format) { return format == "jpeg" ? "jpg" : format; }

// Writes one output file, retrying what may pass (a busy disk, EINTR) with
// capped exponential backoff and full jitter; a full disk is never retried.
util::Status write_output(const fs::path& path, std::string_view bytes, int retries) {
  static thread_local std::mt19937 random{std::random_device{}()};
  for (int attempt = 0;; ++attempt) {
    auto written = util::write_file_atomically(path, bytes);
    bool permanent = written.os_error() == 0 || written.os_error() == ENOSPC || written.os_error() == EDQUOT ||
                     written.os_error() == EROFS || written.os_error() == EACCES;
    if (written || permanent || attempt >= retries) return written;
    auto cap = std::min(2000, 50 << attempt);
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, cap)(random)));
  }
}

// Files a killed run wrote but never committed are referenced by nothing, nor
// are the temporaries of a process killed mid-write (never trusted, only
// removed; a process id says nothing of another host's process). They
// are removed only when no other process is alive on the project (its files
// may be written and not yet committed); a run silent for twice the lease
// time is dead wherever it ran, judged on the catalog's clock that stamps the
// heartbeats, never this host's. The look at the living runs and the deletions
// happen in one write transaction: a run that starts meanwhile registers only
// once it is over, and so writes nothing before.
void remove_unreferenced_files(const config::Config& config, catalog::Catalog& catalog, const RenderRequest& request) {
  catalog.write([&] {
    if (catalog::others_at_work(catalog, 2 * request.lease_ms)) return;
    auto referenced = catalog.referenced_files();
    std::set<std::string> keep(referenced.begin(), referenced.end());
    for (const char* folder : {"renders", "analysis"}) {
      std::error_code error;
      for (const auto& entry : fs::directory_iterator(config.state_dir() / folder, error)) {
        auto relative = fmt::format("{}/{}", folder, entry.path().filename().string());
        if (entry.is_regular_file(error) && !keep.count(relative)) fs::remove(entry.path(), error);
      }
    }
  });
}

// The render stage's description and its work on one image.
class RenderStage {
public:
  RenderStage(const config::Config& config, const RenderRequest& request)
      : m_config(config), m_request(request), m_settings(render_settings(config.render)) {}

  Stage description() {
    Stage stage{.name = StageName::render, .work = Work::cpu, .claim = {.settings = m_settings}};
    stage.run = [this](const Item& image) { return render_one(image); };
    // A render costs far more than its commit (one WAL append), so each result
    // is committed as it arrives: a kill loses only the images still in flight.
    stage.batch = 1;
    stage.done_event = EventKind::image_rendered;
    stage.failed_event = EventKind::image_render_failed;
    // Photos render side by side, one per worker, and libvips' own threads would
    // only compete with them for the cores. A lone photo (the hot folder's usual
    // batch) gets libvips' threads instead: its resize then runs beside the
    // decode, which a single thread would do one after the other.
    stage.starting = [this](std::int64_t due) { imaging::set_threads_per_image(due > 1 ? 1 : m_request.jobs); };
    // A file is only ever deleted after the commit that stopped referring to it.
    stage.committed = [this] {
      for (const auto& path : m_stale) {
        std::error_code ignored;
        fs::remove(m_config.state_dir() / path, ignored);
      }
      m_stale.clear();
    };
    return stage;
  }

private:
  Outcome render_one(const ImageRecord& image) {
    auto failed = [](std::string reason) { return Outcome{.verdict = Verdict::failed, .reason = std::move(reason)}; };
    const fs::path source = m_config.in_project(image.path);
    struct stat st {};
    if (::stat(source.c_str(), &st) != 0) return failed(fmt::format("cannot read the source: {}", util::last_os_error()));
    const std::int64_t mtime_ns = std::int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    if (st.st_size != image.size || mtime_ns != image.mtime_ns)
      return failed("the source changed since it was ingested; run `wsportfolio ingest` (or `run`) again");
    auto mapped = util::MappedFile::open(source);
    if (!mapped.ok()) return failed(fmt::format("cannot read the source: {}", mapped.message()));
    auto rendition = imaging::render_photo(mapped->bytes(), m_config.render,
                                           imaging::kept_metadata(image.header.camera, m_config.render));
    if (!rendition.ok()) return failed(rendition.message());
    catalog::RenderRecord record;
    record.image_id = image.id;
    record.fingerprint = image.sha256 + ":" + m_settings;
    record.width = rendition->width;
    record.height = rendition->height;
    record.placeholder = rendition->placeholder;
    const std::string stem = web_stem(image.path);
    // Files this attempt created, removed again if the image fails half-way; a
    // file that existed before may belong to the committed render.
    std::vector<fs::path> created;
    std::int64_t bytes_written = 0;
    std::string error;
    bool disk_full = false;
    auto put = [&](const std::string& relative, std::string_view bytes) {
      if (!error.empty()) return;
      const fs::path target = m_config.state_dir() / relative;
      std::error_code ignored;
      const bool existed = fs::exists(target, ignored);
      auto written = write_output(target, bytes, m_config.pipeline.retries);
      if (written) {
        if (!existed) created.push_back(target);
        bytes_written += static_cast<std::int64_t>(bytes.size());
      } else {
        disk_full = written.os_error() == ENOSPC || written.os_error() == EDQUOT;
        error = disk_full ? fmt::format("disk full: {}", written.message()) : written.message();
      }
    };
    for (const auto& variant : rendition->variants) {
      auto hash = util::sha256_hex(variant.bytes);
      auto relative = fmt::format("renders/{}-{}.{}.{}", stem, variant.width, hash.substr(0, 12),
                                  extension_of(variant.format));
      put(relative, variant.bytes);
      record.variants.push_back({variant.width, variant.height, variant.format,
                                 static_cast<std::int64_t>(variant.bytes.size()), hash, relative});
    }
    record.analysis_path = fmt::format("analysis/{}.jpg", image.sha256.substr(0, 24));
    put(record.analysis_path, rendition->analysis_jpeg);
    if (!error.empty()) {
      std::error_code ignored;
      for (const auto& file : created) fs::remove(file, ignored);
      // A full disk is no fault of the photo: its claim goes back to the queue.
      if (disk_full)
        return Outcome{.reason = error + "; nothing half-written is kept, free space and run again",
                       .stops_stage = true};
      return failed(error);
    }
    Outcome done{.verdict = Verdict::done, .word = "rendered", .bytes = bytes_written};
    done.detail = {{"variants", record.variants.size()}, {"bytes", bytes_written}};
    if (!rendition->notes.empty()) done.detail["notes"] = rendition->notes;
    done.notes = std::move(rendition->notes);
    done.record = [this, record = std::move(record)](catalog::Catalog& catalog) {
      auto gone = catalog.replace_render(record);
      m_stale.insert(m_stale.end(), gone.begin(), gone.end());
    };
    return done;
  }

  const config::Config& m_config;
  const RenderRequest& m_request;
  const std::string m_settings;
  std::vector<std::string> m_stale;  // files the last batch stopped referring to; only the writer touches it
};

}  // namespace

std::string render_settings(const config::RenderRecipe& recipe) {
  return util::sha256_hex(imaging::recipe_fingerprint(recipe)).substr(0, 16);
}

RenderSummary render(const config::Config& config, catalog::Catalog& catalog, const RenderRequest& request,
                     Observer& observer) {
  const auto decodes_before = imaging::decode_count();
  fs::create_directories(config.state_dir() / "renders");
  fs::create_directories(config.state_dir() / "analysis");
  Engine engine(catalog,
                {.run_id = request.run_id,
                 .stop = request.stop,
                 .jobs = request.jobs,
                 .max_inflight = request.max_inflight,
                 .lease_ms = request.lease_ms,
                 .min_priority = request.min_priority},
                observer);
  RenderStage stage(config, request);
  auto report = engine.run(stage.description());
  remove_unreferenced_files(config, catalog, request);
  RenderSummary summary;
  summary.rendered = report.done;
  summary.failed = report.failed;
  summary.bytes_written = report.bytes;
  summary.stopped_because = report.stopped_because;
  summary.seconds = report.seconds;
  summary.decodes = imaging::decode_count() - decodes_before;
  return summary;
}

std::string manifest_json(const std::vector<catalog::RenderRecord>& renders, ManifestFor use) {
  auto images = nlohmann::ordered_json::array();
  for (const auto& render : renders) {
    // A gallery names a source by its file name alone: the catalog's path may
    // be absolute, and the folders of a photographer's disk are nobody's business.
    const std::string source =
        use == ManifestFor::state ? render.source_path : fs::path(render.source_path).filename().string();
    nlohmann::ordered_json image = {
        {"source", source}, {"width", render.width}, {"height", render.height}, {"placeholder", render.placeholder}};
    if (use == ManifestFor::state) image["analysis"] = render.analysis_path;
    auto variants = nlohmann::ordered_json::array();
    for (const auto& v : render.variants)
      variants.push_back({{"width", v.width},
                          {"height", v.height},
                          {"format", v.format},
                          {"bytes", v.bytes},
                          {"sha256", v.sha256},
                          {"path", v.path}});
    image["variants"] = std::move(variants);
    images.push_back(std::move(image));
  }
  const nlohmann::ordered_json manifest = {{"version", 1}, {"images", std::move(images)}};
  // A source name that is not UTF-8 (an old card's Latin-1) must not make the
  // whole manifest unreadable: its bad bytes become U+FFFD.
  return manifest.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

void write_manifest(const config::Config& config, catalog::Catalog& catalog) {
  // Two processes rendering one project, on one host or several, each write
  // the manifest after their commits. Read under the lock, the catalog then
  // holds every commit of the process that wrote before, so the last writer
  // never undoes the other's.
  const auto lock = catalog.lock("manifest", catalog::LockWait::until_free);
  const auto file = config.state_dir() / "manifest.json";
  const auto manifest = manifest_json(catalog.renders());
  // An unchanged manifest is left alone: the atomic write's fsyncs would cost
  // an unchanged re-run more than everything else it does.
  if (auto current = util::read_text_file(file); current.ok() && *current == manifest) return;
  if (auto written = util::write_file_atomically(file, manifest); !written) throw std::runtime_error(written.message());
}

}  // namespace wsp::pipeline
