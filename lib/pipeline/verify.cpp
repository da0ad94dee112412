#include "pipeline/verify.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <limits>
#include <mutex>
#include <optional>
#include <regex>
#include <span>

#include <fmt/format.h>
#include <tbb/parallel_for.h>

#include "imaging/probe.hpp"
#include "pipeline/names.hpp"
#include "pipeline/publish.hpp"
#include "pipeline/render.hpp"
#include "util/files.hpp"
#include "util/hash.hpp"

namespace wsp::pipeline {
namespace fs = std::filesystem;

namespace {

// The SHA-256 of a file, or nullopt when it cannot be read.
std::optional<std::string> hash_of(const fs::path& path) {
  auto mapped = util::MappedFile::open(path);
  if (!mapped.ok()) return std::nullopt;
  return util::sha256_hex(mapped->bytes());
}

// "a%20b.jpg" -> "a b.jpg": the gallery percent-encodes what it links to.
std::string percent_decoded(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

// Every URL a page loads or links to: src, href, and each candidate of srcset.
// A link (href) to another site or an address is the page's business; only
// what the page loads must come from the gallery itself.
std::vector<std::string> links_of(const std::string& html) {
  static const std::regex k_attribute(R"re(\s(src|href|srcset)\s*=\s*"([^"]*)")re", std::regex::icase);
  std::vector<std::string> urls;
  for (std::sregex_iterator it(html.begin(), html.end(), k_attribute), end; it != end; ++it) {
    const std::string name = (*it)[1], value = (*it)[2];
    if (name == "href") {
      static const std::regex k_elsewhere(R"re(^(https?:|mailto:|tel:))re", std::regex::icase);
      if (!std::regex_search(value, k_elsewhere)) urls.push_back(value);
      continue;
    }
    if (name == "src") {
      urls.push_back(value);
      continue;
    }
    std::size_t start = 0;
    while (start < value.size()) {
      auto comma = value.find(',', start);
      std::string candidate = value.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      candidate.erase(0, candidate.find_first_not_of(' '));
      urls.push_back(candidate.substr(0, candidate.find(' ')));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  return urls;
}

class Verifier {
public:
  Verifier(const config::Config& config, catalog::Catalog& catalog, const VerifyRequest& request, Observer& observer)
      : m_config(config), m_catalog(catalog), m_request(request), m_observer(observer) {}

  std::vector<Finding> run() {
    check_sources();
    const auto renders = m_catalog.renders();
    check_renders(renders);
    check_manifest(renders);
    for (const auto& target : m_config.publish.targets)
      if (target.type == "local") check_target(target);
      else if (target.type == "s3") check_s3(target);
    std::stable_sort(m_findings.begin(), m_findings.end(), [](const Finding& a, const Finding& b) {
      const auto* rank_a = finding_kind(a.kind);
      const auto* rank_b = finding_kind(b.kind);
      return rank_a != rank_b ? rank_a < rank_b : a.file < b.file;
    });
    return m_findings;
  }

private:
  void add(std::string kind, std::string file, std::string detail, std::string repair = {}) {
    m_findings.push_back({std::move(kind), std::move(file), std::move(detail), std::move(repair)});
  }

  std::optional<Finding> check_source(const catalog::ImageRecord& image) const {
    const fs::path file = m_config.in_project(image.path);
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0)
      return Finding{"source.missing", image.path, "the source is gone; `wsportfolio ingest` marks it missing", {}};
    const std::int64_t mtime_ns = std::int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    const bool same_stat = st.st_size == image.size && mtime_ns == image.mtime_ns;
    if (m_request.fast) {
      if (same_stat) return std::nullopt;
      return Finding{"source.modified", image.path,
                     "size or modification time changed since ingest; `wsportfolio run` takes the new content", {}};
    }
    auto hash = hash_of(file);
    if (!hash) return Finding{"source.missing", image.path, "the source cannot be read", {}};
    if (*hash == image.sha256) return std::nullopt;
    if (same_stat)
      return Finding{"source.bit_rot", image.path,
                     "the content changed but its size and modification time did not: bit rot or a silent edit; "
                     "restore the file from a backup",
                     {}};
    return Finding{"source.modified", image.path,
                   "the content changed since ingest; `wsportfolio run` takes the new content", {}};
  }

  // Sources are re-hashed in parallel: this is the one check that reads every byte.
  void check_sources() {
    std::vector<catalog::ImageRecord> active;
    for (auto& image : m_catalog.images())
      if (image.status == catalog::ImageStatus::Active) active.push_back(std::move(image));
    std::vector<std::optional<Finding>> found(active.size());
    // The progress counts sources, the one check whose time grows with the shoot.
    m_observer.stage_started("verify", active.size());
    std::mutex reporting;
    tbb::parallel_for(std::size_t(0), active.size(), [&](std::size_t i) {
      found[i] = check_source(active[i]);
      std::lock_guard lock(reporting);
      m_observer.item_done("verify", active[i].path, found[i] ? std::string_view(found[i]->kind) : "ok", active[i].size);
    });
    for (auto& finding : found)
      if (finding) m_findings.push_back(std::move(*finding));
  }

  void requeue_render(std::int64_t image_id) {
    if (!m_request.repair) return;
    m_catalog.write([&] {
      if (auto job = m_catalog.job(image_id, to_string(StageName::render))) {
        job->state = catalog::JobState::Pending;
        m_catalog.put_job(*job);
      }
    });
  }

  void check_renders(const std::vector<catalog::RenderRecord>& renders) {
    const std::string requeued = m_request.repair ? "render queued again" : "";
    for (const auto& render : renders) {
      bool bad = false;
      for (const auto& variant : render.variants) {
        auto hash = hash_of(m_config.state_dir() / variant.path);
        if (!hash) add("render.missing", variant.path, fmt::format("a render of {} is gone", render.source_path), requeued);
        else if (*hash != variant.sha256)
          add("render.corrupt", variant.path, fmt::format("a render of {} no longer matches its hash", render.source_path),
              requeued);
        bad = bad || !hash || *hash != variant.sha256;
      }
      if (!render.analysis_path.empty() && !fs::exists(m_config.state_dir() / render.analysis_path)) {
        add("render.missing", render.analysis_path, fmt::format("the analysis image of {} is gone", render.source_path),
            requeued);
        bad = true;
      }
      if (bad) requeue_render(render.image_id);
    }
  }

  void check_manifest(const std::vector<catalog::RenderRecord>& renders) {
    const fs::path file = m_config.state_dir() / "manifest.json";
    auto written = util::read_text_file(file);
    if (written.ok() && *written == manifest_json(renders)) return;
    if (m_request.repair) write_manifest(m_config, m_catalog);
    add("manifest.stale", "manifest.json",
        written.ok() ? "does not list what the catalog holds" : "is missing or unreadable",
        m_request.repair ? "rewritten from the catalog" : "");
  }

  void check_target(const config::PublishTarget& target) {
    const fs::path root = m_config.in_project(target.path);
    const std::string identity = recorded_target_identity(m_config, m_catalog, target);
    // A record with no hash matches nothing: the next publish replaces the file
    // if the portfolio still has it, and lists it stale (for --prune) if not.
    // Forgetting the record instead would lose a stale file for good.
    auto invalidate = [&](const catalog::PublishedFile& file) {
      if (m_request.repair) m_catalog.record_published(identity, {file.path, "", file.size, file.published_ms});
      return m_request.repair ? std::string("published again by the next `wsportfolio publish` (or pruned)")
                              : std::string();
    };
    for (const auto& file : m_catalog.published(identity)) {
      const std::string label = fmt::format("{}: {}", target.name, file.path);
      // Read once for all three checks.
      auto mapped = util::MappedFile::open(root / file.path);
      if (!mapped.ok()) {
        add("published.missing", label, "recorded as published but not at the target", invalidate(file));
        continue;
      }
      const auto bytes = mapped->bytes();
      if (util::sha256_hex(bytes) != file.sha256)
        add("published.corrupt", label, "differs from what was published", invalidate(file));
      // Also a changed file: what matters most is what a visitor can download now.
      if (file.path.ends_with(".html")) check_page(root, target.name, file, bytes, invalidate);
      else check_privacy(label, file, bytes, invalidate);
    }
  }

  // Each object HEADed in the bucket; the pages' links and the privacy scan are local-only for now.
  void check_s3(const config::PublishTarget& target) {
    auto problems = check_s3_target(m_config, m_catalog, target);
    if (!problems) {
      m_observer.warning(problems.message());
      add("published.missing", target.name, fmt::format("the bucket could not be checked: {}", problems.message()));
      return;
    }
    const std::string identity = target_identity(m_config, target);
    // Uploads in progress are not the published gallery: reported, not findings.
    auto uploads = unfinished_s3_uploads(m_config, m_catalog, target);
    if (!uploads) m_observer.warning(uploads.message());
    else if (*uploads)
      for (const auto& upload : **uploads)
        m_observer.warning(fmt::format(
            "target '{}': an unfinished upload of {} (UploadId {}, begun {}){}", target.name, upload.path,
            upload.upload_id, upload.initiated,
            upload.ours ? ": the next `wsportfolio publish` resumes it, or aborts it if the file is no longer "
                          "published with these bytes"
                        : " was not begun by this project's catalog; it is left alone"));
    for (const auto& problem : *problems) {
      if (m_request.repair)
        m_catalog.record_published(identity, {problem.file.path, "", problem.file.size, problem.file.published_ms});
      add(problem.missing ? "published.missing" : "published.corrupt", fmt::format("{}: {}", target.name, problem.file.path),
          problem.detail,
          m_request.repair ? "published again by the next `wsportfolio publish` (or pruned)" : std::string());
    }
  }

  template <typename Invalidate>
  void check_page(const fs::path& root, const std::string& target, const catalog::PublishedFile& file,
                  std::span<const std::uint8_t> bytes, Invalidate& invalidate) {
    const std::string& page = file.path;
    const std::string html(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    const fs::path folder = fs::path(page).parent_path();
    std::vector<std::string> broken;
    for (auto url : links_of(html)) {
      if (url.empty() || url.starts_with('#') || url.starts_with("data:") || url.starts_with("mailto:")) continue;
      url = url.substr(0, url.find_first_of("?#"));
      const fs::path resolved = (folder / percent_decoded(url)).lexically_normal();
      const bool outside = url.find("://") != std::string::npos || url.starts_with('/') || resolved.empty() ||
                           *resolved.begin() == "..";
      if (outside || !fs::is_regular_file(root / resolved)) broken.push_back(url);
    }
    if (broken.empty()) return;
    add("page.broken_link", fmt::format("{}: {}", target, page),
        fmt::format("{} link(s) lead nowhere in the gallery: {}", broken.size(), fmt::join(broken, ", ")),
        invalidate(file));
  }

  template <typename Invalidate>
  void check_privacy(const std::string& label, const catalog::PublishedFile& file, std::span<const std::uint8_t> bytes,
                     Invalidate& invalidate) {
    std::string extension = fs::path(file.path).extension().string();
    std::transform(extension.begin(), extension.end(), extension.begin(), [](unsigned char c) { return std::tolower(c); });
    if (extension != ".jpg" && extension != ".jpeg" && extension != ".webp" && extension != ".avif") return;
    // Only the header is read, never decoded: the pixel limit, which guards
    // decodes, must not leave a large published file unscanned.
    auto header = imaging::probe_header(bytes, std::numeric_limits<std::int64_t>::max());
    // What cannot be read cannot be shown clean: a visitor may still download it.
    if (!header.ok()) {
      add("published.privacy", label,
          fmt::format("could not be checked for GPS positions, serial numbers or owner names: {}", header.message()),
          invalidate(file));
      return;
    }
    const auto& camera = header->camera;
    std::vector<std::string> leaks;
    if (camera.has_gps) leaks.push_back("a GPS position");
    if (!camera.serial.empty()) leaks.push_back("a camera serial number");
    if (!camera.owner.empty()) leaks.push_back("an owner name");
    if (!leaks.empty())
      add("published.privacy", label, fmt::format("carries {}", fmt::join(leaks, " and ")), invalidate(file));
  }

  const config::Config& m_config;
  catalog::Catalog& m_catalog;
  const VerifyRequest& m_request;
  Observer& m_observer;
  std::vector<Finding> m_findings;
};

}  // namespace

std::vector<Finding> verify(const config::Config& config, catalog::Catalog& catalog, const VerifyRequest& request,
                            Observer& observer) {
  return Verifier(config, catalog, request, observer).run();
}

}  // namespace wsp::pipeline
