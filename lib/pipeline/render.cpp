#include "pipeline/render.hpp"

#include <cerrno>
#include <chrono>
#include <deque>
#include <mutex>
#include <random>
#include <regex>
#include <type_traits>
#include <set>
#include <csignal>
#include <unistd.h>
#include <sys/stat.h>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <tbb/flow_graph.h>
#include <vips/vips.h>

#include "imaging/render.hpp"
#include "pipeline/leases.hpp"
#include "util/files.hpp"
#include "util/hash.hpp"
#include "util/text.hpp"

namespace wsp::pipeline {
namespace fs = std::filesystem;
using catalog::ImageRecord;

namespace {

constexpr std::string_view k_stage = "render";

struct Rendered {
  ImageRecord image;
  std::optional<catalog::RenderRecord> render;
  std::string error;            // the image failed for this reason
  bool disk_full = false;       // the whole run must stop
  std::int64_t bytes_written = 0;
};

}  // namespace

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

class RenderStage {
public:
  RenderStage(const config::Config& config, catalog::Catalog& catalog, const RenderRequest& request,
              Observer& observer)
      : m_config(config), m_catalog(catalog), m_request(request), m_observer(observer),
        m_settings(render_settings(config.render)) {}

  RenderSummary run() {
    const auto decodes_before = imaging::decode_count();
    fs::create_directories(m_config.state_dir() / "renders");
    fs::create_directories(m_config.state_dir() / "analysis");
    remove_abandoned_temporaries();
    m_total = m_catalog.count_claimable(std::string(k_stage), m_settings, "");
    m_observer.stage_started(k_stage, static_cast<std::size_t>(m_total));
    // With nothing claimable there is no graph and no lease keeper (which opens
    // a catalog connection of its own): work queued after this count is the
    // next run's.
    if (m_total > 0) render_claimable();
    remove_unreferenced_files();
    m_summary.decodes = imaging::decode_count() - decodes_before;
    return m_summary;
  }

private:
  void render_claimable() {
    // Photos render side by side, one per worker, and libvips' own threads would
    // only compete with them for the cores. A lone photo (the hot folder's usual
    // batch) gets libvips' threads instead: its resize then runs beside the
    // decode, which a single thread would do one after the other.
    imaging::start_imaging();
    vips_concurrency_set(m_total > 1 ? 1 : m_request.jobs);
    LeaseKeeper leases(m_catalog, m_request.run_id, std::string(k_stage), m_request.lease_ms, m_done, m_total);

    // The graph, top to bottom: claim work from the catalog, hold at most
    // max_inflight images between claim and commit, render in parallel, commit
    // from one writer. No more is claimed than can be rendered at once: a claim
    // waiting in a queue would hold work another process could do.
    const auto slots = static_cast<std::size_t>(std::max(1, std::min(m_request.max_inflight, m_request.jobs)));
    tbb::flow::graph graph;
    tbb::flow::input_node<ImageRecord> claim_work(graph, [this](tbb::flow_control& control) { return next(control); });
    tbb::flow::limiter_node<ImageRecord> in_flight(graph, slots);
    tbb::flow::function_node<ImageRecord, Rendered> render_image(
        graph, slots, [this](const ImageRecord& image) {
          return render_one(image);
        });
    tbb::flow::function_node<Rendered, tbb::flow::continue_msg> commit(
        graph, tbb::flow::serial, [this](Rendered rendered) {
          record(std::move(rendered));
          return tbb::flow::continue_msg();
        });
    tbb::flow::make_edge(claim_work, in_flight);
    tbb::flow::make_edge(in_flight, render_image);
    tbb::flow::make_edge(render_image, commit);
    tbb::flow::make_edge(commit, in_flight.decrementer());
    claim_work.activate();
    graph.wait_for_all();
    flush();

    // Whatever was claimed but not rendered (a stop) goes back to the queue now
    // instead of waiting for its lease to expire.
    locked([&] { m_catalog.release_leases(m_request.run_id); });
  }

  // The claiming node and the writer node share one catalog connection.
  template <typename F>
  std::invoke_result_t<F> locked(F&& work) {
    std::lock_guard lock(m_catalog_mutex);
    return work();
  }

  // Temporary files of a process killed mid-write are never trusted, only removed.
  void remove_abandoned_temporaries() {
    static const std::regex k_temporary(R"(\..*\.tmp-(\d+))");
    for (const char* folder : {"renders", "analysis"}) {
      std::error_code error;
      for (const auto& entry : fs::directory_iterator(m_config.state_dir() / folder, error)) {
        std::smatch match;
        std::string name = entry.path().filename().string();
        if (!std::regex_match(name, match, k_temporary)) continue;
        pid_t pid = static_cast<pid_t>(std::stol(match[1]));
        if (pid != ::getpid() && ::kill(pid, 0) != 0 && errno == ESRCH) fs::remove(entry.path(), error);
      }
    }
  }

  // Files a killed run wrote but never committed are referenced by nothing. They
  // are removed only when no other process is alive on the project (its files
  // may be written and not yet committed); a run silent for twice the lease
  // time is dead wherever it ran.
  void remove_unreferenced_files() {
    auto others = m_catalog.unfinished_runs();
    const auto now = catalog::now_ms();
    if (std::any_of(others.begin(), others.end(), [&](const auto& run) {
          return run.id != m_request.run_id && now - run.heartbeat_ms < 2 * m_request.lease_ms;
        }))
      return;
    auto referenced = m_catalog.referenced_files();
    std::set<std::string> keep(referenced.begin(), referenced.end());
    for (const char* folder : {"renders", "analysis"}) {
      std::error_code error;
      for (const auto& entry : fs::directory_iterator(m_config.state_dir() / folder, error)) {
        auto relative = fmt::format("{}/{}", folder, entry.path().filename().string());
        if (entry.is_regular_file(error) && !keep.count(relative)) fs::remove(entry.path(), error);
      }
    }
  }

  bool stopping() const { return (m_request.stop && *m_request.stop) || m_disk_full.load(); }

  ImageRecord next(tbb::flow_control& control) {
    if (!stopping()) {
      // One at a time: claiming ahead would hold work another process could do.
      auto claimed = locked([&] {
        return m_catalog.claim(std::string(k_stage), m_settings, "", m_request.run_id, m_request.lease_ms, 1);
      });
      if (!claimed.empty()) return std::move(claimed.front());
    }
    control.stop();
    return {};
  }

  Rendered render_one(const ImageRecord& image) {
    Rendered out;
    out.image = image;
    if (stopping()) return out;  // not attempted: released with the run's leases
    const fs::path source = m_config.in_project(image.path);
    struct stat st {};
    if (::stat(source.c_str(), &st) != 0) {
      out.error = fmt::format("cannot read the source: {}", util::last_os_error());
      return out;
    }
    const std::int64_t mtime_ns = std::int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    if (st.st_size != image.size || mtime_ns != image.mtime_ns) {
      out.error = "the source changed since it was ingested; run `wsportfolio ingest` (or `run`) again";
      return out;
    }
    auto mapped = util::MappedFile::open(source);
    if (!mapped.ok()) {
      out.error = fmt::format("cannot read the source: {}", mapped.message());
      return out;
    }
    auto rendition = imaging::render_photo(mapped->bytes(), m_config.render,
                                           imaging::kept_metadata(image.header.camera, m_config.render));
    if (!rendition.ok()) {
      out.error = rendition.message();
      return out;
    }
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
    auto put = [&](const std::string& relative, std::string_view bytes) {
      if (out.disk_full || !out.error.empty()) return;
      const fs::path target = m_config.state_dir() / relative;
      std::error_code ignored;
      const bool existed = fs::exists(target, ignored);
      auto written = write_output(target, bytes, m_config.pipeline.retries);
      if (written) {
        if (!existed) created.push_back(target);
        out.bytes_written += static_cast<std::int64_t>(bytes.size());
      } else if (written.os_error() == ENOSPC || written.os_error() == EDQUOT) {
        out.disk_full = true;
        out.error = fmt::format("disk full: {}", written.message());
      } else {
        out.error = written.message();
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
    if (out.error.empty()) {
      out.render = std::move(record);
    } else {
      std::error_code ignored;
      for (const auto& file : created) fs::remove(file, ignored);
    }
    return out;
  }

  // A render costs far more than its commit (one WAL append), so each result is
  // committed as it arrives: a kill loses only the images still in flight.
  void record(Rendered rendered) {
    if (rendered.disk_full && !m_disk_full.exchange(true)) m_summary.stopped_because = rendered.error;
    m_batch.push_back(std::move(rendered));
    flush();
  }

  // Commits the batch, then tells the observer and removes files no render
  // refers to any more; a file is only ever deleted after the commit that
  // stopped referring to it.
  void flush() {
    if (m_batch.empty()) return;
    std::vector<std::string> stale;
    locked([&] {
      m_catalog.write([&] {
        stale.clear();
        for (const auto& rendered : m_batch) commit_one(rendered, stale);
      });
    });
    for (const auto& path : stale) {
      std::error_code ignored;
      fs::remove(m_config.state_dir() / path, ignored);
    }
    for (const auto& rendered : m_batch) {
      if (rendered.disk_full || (rendered.error.empty() && !rendered.render)) continue;
      if (!rendered.error.empty()) {
        ++m_summary.failed;
        m_observer.item_problem(k_stage, rendered.image.path, rendered.error);
        m_observer.item_done(k_stage, rendered.image.path, "failed", 0);
      } else {
        ++m_summary.rendered;
        m_summary.bytes_written += rendered.bytes_written;
        m_observer.item_done(k_stage, rendered.image.path, "rendered", rendered.bytes_written);
      }
      ++m_done;
    }
    m_batch.clear();
  }

  void commit_one(const Rendered& rendered, std::vector<std::string>& stale) {
    // Not attempted (stopping) or stopped by a full disk: left running, the
    // run's leases are released at the end.
    if (rendered.disk_full || (rendered.error.empty() && !rendered.render)) return;
    auto job = m_catalog.job(rendered.image.id, std::string(k_stage))
                   .value_or(catalog::Job{rendered.image.id, std::string(k_stage), catalog::JobState::Pending, 1, {}, {}});
    job.fingerprint = rendered.image.sha256 + ":" + m_settings;
    if (rendered.render) {
      auto gone = m_catalog.replace_render(*rendered.render);
      stale.insert(stale.end(), gone.begin(), gone.end());
      job.state = catalog::JobState::Done;
      job.last_error.clear();
      m_catalog.add_event({"image.rendered", rendered.image.id,
                           fmt::format("{{\"variants\":{},\"bytes\":{}}}", rendered.render->variants.size(),
                                       rendered.bytes_written)},
                          m_request.run_id);
    } else {
      job.state = catalog::JobState::Failed;
      job.last_error = rendered.error;
      m_catalog.add_event({"image.render_failed", rendered.image.id,
                           fmt::format("{{\"reason\":\"{}\"}}", util::json_escape(rendered.error))},
                          m_request.run_id);
    }
    m_catalog.put_job(job);
  }

  const config::Config& m_config;
  catalog::Catalog& m_catalog;
  const RenderRequest& m_request;
  Observer& m_observer;
  const std::string m_settings;
  std::mutex m_catalog_mutex;
  std::vector<Rendered> m_batch;
  std::atomic<bool> m_disk_full{false};
  std::atomic<std::int64_t> m_done{0};
  std::int64_t m_total = 0;
  RenderSummary m_summary;
};

}  // namespace

std::string render_settings(const config::RenderRecipe& recipe) {
  return util::sha256_hex(imaging::recipe_fingerprint(recipe)).substr(0, 16);
}

RenderSummary render(const config::Config& config, catalog::Catalog& catalog, const RenderRequest& request,
                     Observer& observer) {
  return RenderStage(config, catalog, request, observer).run();
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
  // Two processes rendering one project each write the manifest after their
  // commits. Read under the lock, the catalog then holds every commit of the
  // process that wrote before, so the last writer never undoes the other's.
  util::FileLock lock(config.state_dir() / "manifest.lock", util::FileLock::Wait::until_free,
                      fmt::format("pid {}\n", ::getpid()));
  const auto file = config.state_dir() / "manifest.json";
  const auto manifest = manifest_json(catalog.renders());
  // An unchanged manifest is left alone: the atomic write's fsyncs would cost
  // an unchanged re-run more than everything else it does.
  if (auto current = util::read_text_file(file); current.ok() && *current == manifest) return;
  if (auto written = util::write_file_atomically(file, manifest); !written) throw std::runtime_error(written.message());
}

}  // namespace wsp::pipeline
