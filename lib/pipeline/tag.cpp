#include "pipeline/tag.hpp"

#include <algorithm>
#include <map>
#include <mutex>
#include <set>
#include <span>

#include <fmt/format.h>
#include <tbb/parallel_for.h>

#include "imaging/render.hpp"
#include "pipeline/leases.hpp"
#include "tagging/scores.hpp"
#include "tagging/tagger.hpp"
#include "tagging/timeline.hpp"
#include "tagging/xmp.hpp"
#include "util/files.hpp"
#include "util/hash.hpp"
#include "util/text.hpp"

namespace wsp::pipeline {
namespace fs = std::filesystem;
using catalog::ImageRecord;

namespace {

constexpr std::string_view k_stage = "tag";

struct Tagged {
  ImageRecord image;
  std::optional<catalog::TagRecord> tags;
  std::string error;
  bool rerender = false;  // the analysis image is gone: render again, then tag
  // A fresh observation to remember: content hash, provider, model, JSON.
  std::optional<std::array<std::string, 4>> to_cache;
  bool from_cache = false;
};

class TagStage {
public:
  TagStage(const config::Config& config, catalog::Catalog& catalog, const TagRequest& request, Observer& observer)
      : m_config(config), m_catalog(catalog), m_request(request), m_observer(observer),
        m_settings(tag_settings(config)), m_zone(project_zone(config)) {
    for (const auto& name : config.tagging.providers) {
      if (auto provider = tagging::make_provider(name, config)) m_providers.push_back(std::move(provider));
      else m_observer.warning(fmt::format("tagging: provider '{}' is not part of this build; skipped", name));
    }
    // The local provider is always there to fall back on.
    if (std::none_of(m_providers.begin(), m_providers.end(), [](const auto& p) { return p->name() == "local"; }))
      m_providers.push_back(tagging::make_local_provider());
  }

  TagSummary run() {
    m_total = m_catalog.count_claimable(std::string(k_stage), m_settings, "render");
    m_observer.stage_started(k_stage, static_cast<std::size_t>(m_total));
    if (m_total > 0) {  // as in render: work queued after the count is the next run's
      LeaseKeeper leases(m_catalog, m_request.run_id, std::string(k_stage), m_request.lease_ms, m_done, m_total);
      // Small batches: each is claimed, tagged in parallel and committed in one
      // transaction, so a kill loses at most one batch of cheap work.
      const int batch_size = std::max(1, m_request.jobs) * 4;
      while (!stopping()) {
        auto claimed = m_catalog.claim(std::string(k_stage), m_settings, "render", m_request.run_id,
                                       m_request.lease_ms, batch_size);
        if (claimed.empty()) break;
        std::vector<Tagged> batch(claimed.size());
        tbb::parallel_for(std::size_t(0), claimed.size(), [&](std::size_t i) { batch[i] = tag_one(claimed[i]); });
        commit(batch);
      }
      m_catalog.release_leases(m_request.run_id);
    }
    m_summary.groups = regroup(m_catalog);
    return m_summary;
  }

private:
  static tagging::TimeZone project_zone(const config::Config& config) {
    auto zone = tagging::TimeZone::load(config.project.timezone);
    return zone ? *zone : tagging::TimeZone::utc();
  }

  bool stopping() const { return m_request.stop && *m_request.stop; }

  template <typename F>
  auto locked(F&& work) {
    std::lock_guard lock(m_catalog_mutex);
    return work();
  }

  Tagged tag_one(const ImageRecord& image) {
    Tagged out;
    out.image = image;
    // Asked per image: another process may have rendered it again since the claim.
    auto analysis = locked([&] { return m_catalog.analysis_path(image.id); });
    auto bytes = analysis ? util::read_text_file(m_config.state_dir() / *analysis)
                          : util::Result<std::string>(util::Error{"no analysis image"});
    if (!bytes.ok()) {
      out.error = fmt::format("{}; its render is queued again, and tagging follows it", bytes.message());
      out.rerender = true;
      return out;
    }
    const std::string content = util::sha256_hex(*bytes);
    std::optional<tagging::Observation> seen;
    std::string provider_name, model, last_error;
    std::optional<tagging::Pixels> pixels;
    for (const auto& provider : m_providers) {
      auto cached = locked([&] { return m_catalog.cached_result(content, provider->name(), provider->model()); });
      if (cached) {
        if (auto restored = tagging::observation_from_json(*cached); restored.ok()) {
          seen = std::move(*restored);
          out.from_cache = true;
        }
      }
      if (!seen) {
        if (!pixels) {
          auto decoded = imaging::decode_rgb8(
              std::span(reinterpret_cast<const std::uint8_t*>(bytes->data()), bytes->size()));
          if (!decoded.ok()) {
            out.error = fmt::format("analysis image: {}", decoded.message());
            return out;
          }
          pixels = tagging::Pixels{decoded->width, decoded->height, std::move(decoded->rgb)};
        }
        auto observed = provider->observe(*pixels, *bytes);
        if (!observed.ok()) {
          last_error = fmt::format("{}: {}", provider->name(), observed.message());
          continue;  // the next provider in the fallback order
        }
        seen = std::move(*observed);
        out.to_cache = {content, provider->name(), provider->model(), tagging::to_json(*seen)};
      }
      provider_name = provider->name();
      model = provider->model();
      break;
    }
    if (!seen) {
      out.error = last_error.empty() ? "no tagging provider could look at it" : last_error;
      return out;
    }

    tagging::PhotoContext photo;
    photo.header = image.header;
    auto instant = tagging::capture_instant(image.header.camera, m_zone, m_config.cameras);
    if (instant) {
      photo.capture_utc_ms = instant->utc_ms;
      photo.local_offset_seconds = m_zone.offset_at_utc(instant->utc_ms / 1000);
    }
    auto conclusion = tagging::conclude(*seen, photo, m_config);

    catalog::TagRecord record;
    record.image_id = image.id;
    record.fingerprint = image.sha256 + ":" + m_settings;
    record.provider = provider_name;
    record.model = model;
    record.scene = conclusion.scene;
    record.scene_confidence = conclusion.scene_confidence;
    record.scene_basis = conclusion.scene_basis == "provider" ? provider_name : conclusion.scene_basis;
    record.keywords = conclusion.keywords;
    record.alt_text = conclusion.alt_text;
    record.confidence = conclusion.confidence;
    record.sharpness = seen->scores.sharpness;
    record.exposure_error = seen->scores.exposure_error;
    record.overexposed = seen->scores.overexposed;
    record.underexposed = seen->scores.underexposed;
    record.palette = tagging::palette_text(seen->palette);
    record.dominant_colour = tagging::dominant_colour_name(seen->palette);
    record.phash = seen->phash;
    record.capture_utc_ms = photo.capture_utc_ms;
    record.camera = image.header.camera.serial.empty() ? image.header.camera.model : image.header.camera.serial;
    out.tags = std::move(record);
    return out;
  }

  void commit(const std::vector<Tagged>& batch) {
    m_catalog.write([&] {
      for (const auto& tagged : batch) {
        catalog::Job job{tagged.image.id, std::string(k_stage), catalog::JobState::Done, 1, {},
                         tagged.image.sha256 + ":" + m_settings};
        if (auto previous = m_catalog.job(tagged.image.id, std::string(k_stage))) job.attempts = previous->attempts;
        if (tagged.tags) {
          m_catalog.put_tags(*tagged.tags);
          if (tagged.to_cache) {
            const auto& [content, provider, model, json] = *tagged.to_cache;
            m_catalog.put_cached_result(content, provider, model, json);
          }
          m_catalog.add_event({"image.tagged", tagged.image.id,
                               fmt::format("{{\"scene\":\"{}\",\"confidence\":{:.2f},\"basis\":\"{}\"}}",
                                           util::json_escape(tagged.tags->scene), tagged.tags->confidence,
                                           tagged.tags->scene_basis)},
                              m_request.run_id);
        } else if (tagged.rerender) {
          // Not a failure of the photo: render makes a new analysis image, and
          // the tag job, left pending, is claimed again once that is done.
          if (auto render = m_catalog.job(tagged.image.id, "render")) {
            render->state = catalog::JobState::Pending;
            m_catalog.put_job(*render);
          }
          job.state = catalog::JobState::Pending;
          job.last_error = tagged.error;
        } else {
          job.state = catalog::JobState::Failed;
          job.last_error = tagged.error;
          m_catalog.add_event({"image.tag_failed", tagged.image.id,
                               fmt::format("{{\"reason\":\"{}\"}}", util::json_escape(tagged.error))},
                              m_request.run_id);
        }
        m_catalog.put_job(job);
      }
    });
    for (const auto& tagged : batch) {
      if (tagged.tags) {
        ++m_summary.tagged;
        if (tagged.from_cache) ++m_summary.from_cache;
        m_observer.item_done(k_stage, tagged.image.path, tagged.tags->scene.empty() ? "untagged" : tagged.tags->scene,
                             0);
      } else if (tagged.rerender) {
        ++m_summary.rerender;
        m_observer.warning(fmt::format("{}: {}", tagged.image.path, tagged.error));
        m_observer.item_done(k_stage, tagged.image.path, "waiting for render", 0);
      } else {
        ++m_summary.failed;
        m_observer.item_problem(k_stage, tagged.image.path, tagged.error);
        m_observer.item_done(k_stage, tagged.image.path, "failed", 0);
      }
      ++m_done;
    }
  }

  const config::Config& m_config;
  catalog::Catalog& m_catalog;
  const TagRequest& m_request;
  Observer& m_observer;
  const std::string m_settings;
  const tagging::TimeZone m_zone;
  std::vector<std::unique_ptr<tagging::Provider>> m_providers;
  std::mutex m_catalog_mutex;
  std::atomic<std::int64_t> m_done{0};
  std::int64_t m_total = 0;
  TagSummary m_summary;
};

bool contains(const std::vector<std::string>& words, const std::string& word) {
  return std::find(words.begin(), words.end(), word) != words.end();
}

}  // namespace

std::string tag_settings(const config::Config& config) {
  // Only what changes a result: min_confidence is applied when tags are read,
  // and a provider's model matters only when the provider is asked.
  const auto& t = config.tagging;
  std::string text = fmt::format("v1 providers={} scenes={} alt={} analysis={} zone={}", fmt::join(t.providers, ","),
                                 fmt::join(t.scenes, ","), t.alt_text, config.render.analysis_size,
                                 config.project.timezone);
  if (contains(t.providers, "openai")) text += " openai=" + t.openai.model;
  if (t.alt_text.find("{title}") != std::string::npos) text += " title=" + config.project.title;
  if (t.alt_text.find("{credit}") != std::string::npos) text += " credit=" + config.project.credit;
  for (const auto& w : t.vocabulary) text += fmt::format(" word={}={}", w.word, w.text);
  for (const auto& e : config.timeline) text += fmt::format(" timeline={}:{}-{}", e.scene, e.from_minute, e.to_minute);
  for (const auto& c : config.cameras) text += fmt::format(" camera={}/{}{:+}", c.serial, c.model, c.offset_seconds);
  return util::sha256_hex(text).substr(0, 16);
}

TagSummary tag(const config::Config& config, catalog::Catalog& catalog, const TagRequest& request,
               Observer& observer) {
  return TagStage(config, catalog, request, observer).run();
}

std::size_t regroup(catalog::Catalog& catalog) {
  std::vector<tagging::FrameFacts> frames;
  for (const auto& t : catalog.tags())
    frames.push_back({t.image_id, t.capture_utc_ms, t.phash, t.sharpness, t.exposure_error});
  auto groups = tagging::group_near_duplicates(std::move(frames));
  std::vector<std::pair<std::int64_t, std::int64_t>> members;
  for (const auto& group : groups)
    for (auto member : group.members) members.emplace_back(member, group.best);
  catalog.set_groups(members);
  return groups.size();
}

std::vector<EffectiveTags> effective_tags(const config::Config& config, catalog::Catalog& catalog) {
  std::map<std::int64_t, catalog::TagOverride> overrides;
  for (auto& o : catalog.overrides()) overrides[o.image_id] = std::move(o);
  std::map<std::int64_t, imaging::PhotoHeader> headers;
  std::vector<EffectiveTags> all;
  for (const auto& t : catalog.tags()) {
    EffectiveTags e;
    e.image_id = t.image_id;
    e.path = t.source_path;
    e.scene = t.scene;
    e.confidence = t.confidence;
    e.scene_basis = t.scene_basis;
    e.keywords = t.keywords;
    e.alt_text = t.alt_text;
    e.group = t.group;
    e.best_pick = t.group && *t.group == t.image_id;
    e.sharpness = t.sharpness;
    e.overexposed = t.overexposed;
    e.underexposed = t.underexposed;
    e.capture_utc_ms = t.capture_utc_ms;
    e.sidecar_keywords = t.sidecar_keywords;
    if (auto it = overrides.find(t.image_id); it != overrides.end()) {
      const auto& o = it->second;
      e.overridden = true;
      if (o.scene && *o.scene != e.scene) {
        // The automatic alt text names the old scene: word it again for the new one.
        if (headers.empty())
          for (const auto& image : catalog.images()) headers[image.id] = image.header;
        const auto& header = headers[t.image_id];
        e.alt_text = tagging::alt_text(config, *o.scene, tagging::orientation_word(header),
                                       tagging::notable_colours(tagging::palette_from_text(t.palette)), std::nullopt);
        std::erase(e.keywords, tagging::word(config, e.scene));
        e.keywords.insert(e.keywords.begin(), tagging::word(config, *o.scene));
        e.scene = *o.scene;
      }
      if (o.scene) {
        e.scene_basis = "override";
        e.confidence = 1.0;
      }
      for (const auto& tag : o.remove_tags) std::erase(e.keywords, tag);
      e.removed_keywords = o.remove_tags;
      for (const auto& tag : o.add_tags)
        if (!contains(e.keywords, tag)) e.keywords.push_back(tag);
      if (o.alt_text) e.alt_text = *o.alt_text;
      e.rating = o.rating;
    }
    e.needs_review = e.confidence < config.tagging.min_confidence;
    all.push_back(std::move(e));
    overrides.erase(t.image_id);
  }
  // A photo with overrides but no automatic tags yet (its tagging failed, or
  // has not run): what the photographer said still holds, a rejection above all.
  for (const auto& [image_id, o] : overrides) {
    EffectiveTags e;
    e.image_id = image_id;
    e.path = o.source_path;
    e.overridden = true;
    if (o.scene) {
      e.scene = *o.scene;
      e.scene_basis = "override";
      e.confidence = 1.0;
      e.keywords.push_back(tagging::word(config, *o.scene));
    }
    for (const auto& tag : o.add_tags)
      if (!contains(e.keywords, tag)) e.keywords.push_back(tag);
    e.removed_keywords = o.remove_tags;
    e.alt_text = o.alt_text.value_or("");
    e.rating = o.rating;
    e.needs_review = e.confidence < config.tagging.min_confidence;
    all.push_back(std::move(e));
  }
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  return all;
}

SidecarSummary write_sidecars(const config::Config& config, catalog::Catalog& catalog, Observer& observer) {
  const std::string best_pick_word = tagging::word(config, "best_pick");
  auto all = effective_tags(config, catalog);
  // IMG_1.JPG and IMG_1.png would share IMG_1.xmp: neither may claim it.
  std::map<fs::path, int> users;
  auto source_of = [&](const EffectiveTags& t) { return config.in_project(t.path); };
  for (const auto& t : all) ++users[tagging::sidecar_path(source_of(t))];

  // A run killed while writing a sidecar left its temporary beside the photos.
  std::set<fs::path> folders;
  for (const auto& [sidecar, count] : users) folders.insert(sidecar.parent_path());
  for (const auto& folder : folders)
    for (const auto& temporary : util::abandoned_temporaries(folder))
      if (temporary.filename().string().find(".xmp.tmp-") != std::string::npos) {
        std::error_code ignored;
        fs::remove(temporary, ignored);
      }

  SidecarSummary summary;
  observer.stage_started("xmp", all.size());
  for (const auto& t : all) {
    const fs::path sidecar = tagging::sidecar_path(source_of(t));
    auto problem = [&](const std::string& reason) {
      ++summary.failed;
      observer.item_problem("xmp", sidecar.string(), reason);
    };
    if (users[sidecar] > 1) {
      problem(fmt::format("would hold the tags of {} photos with the same name; left as it was", users[sidecar]));
      continue;
    }
    tagging::XmpFields fields;
    fields.keywords = t.keywords;
    if (t.best_pick) fields.keywords.push_back(best_pick_word);
    // Only keywords this tool wrote are taken out again; the photographer's stay.
    for (const auto& old : t.sidecar_keywords)
      if (!contains(fields.keywords, old)) fields.remove_keywords.push_back(old);
    for (const auto& removed : t.removed_keywords)
      if (!contains(fields.remove_keywords, removed)) fields.remove_keywords.push_back(removed);
    if (!t.scene.empty()) fields.label = tagging::word(config, t.scene);
    fields.rating = t.rating;
    // Photo Mechanic's tag is the photographer's too: set for a best pick, never cleared.
    if (t.best_pick) fields.best_pick = true;
    fields.description = t.alt_text;

    // Lightroom or Photo Mechanic may save the sidecar while it is merged here:
    // what was read is replaced only while it is still there, else it is read
    // and merged again, so that their save is never lost.
    constexpr int k_merges = 5;
    std::optional<std::string> existing;
    util::Result<std::string> merged = std::string();
    bool replaced = false, failed = false;
    for (int attempt = 0; attempt < k_merges && !replaced && !failed; ++attempt) {
      existing.reset();
      std::error_code missing;
      if (fs::exists(sidecar, missing)) {
        auto read = util::read_text_file(sidecar);
        if (!read.ok()) {
          problem(read.message());
          failed = true;
          break;
        }
        existing = std::move(*read);
      }
      merged = tagging::merge_xmp(existing.value_or(""), fields);
      if (!merged.ok()) {
        problem(fmt::format("{}; left as it was", merged.message()));
        failed = true;
        break;
      }
      if (existing && *merged == *existing) break;
      auto written = util::replace_file_if_unchanged(sidecar, *merged, existing);
      if (!written.ok()) {
        problem(written.message());
        failed = true;
      } else {
        replaced = *written;
      }
    }
    if (failed) continue;
    const bool unchanged = existing && *merged == *existing;
    if (!unchanged && !replaced) {
      problem("changed by another program each time it was merged; left as it was (run tag --xmp again)");
      continue;
    }
    if (fields.keywords != t.sidecar_keywords)
      catalog.write([&] { catalog.set_sidecar_keywords(t.image_id, fields.keywords); });
    if (unchanged) {
      ++summary.unchanged;
      observer.item_done("xmp", sidecar.string(), "unchanged", 0);
    } else {
      ++summary.written;
      observer.item_done("xmp", sidecar.string(), existing && !existing->empty() ? "merged" : "written",
                         static_cast<std::int64_t>(merged->size()));
    }
  }
  return summary;
}

}  // namespace wsp::pipeline
