#pragma once
// The render stage: every active image whose render is missing or out of date
// (its fingerprint is the source hash plus the render recipe) is decoded once and
// rendered into its variants, resumably and safely beside other processes.

#include <atomic>
#include <cstdint>
#include <string>

#include "catalog/catalog.hpp"
#include "config/config.hpp"
#include "pipeline/engine.hpp"
#include "pipeline/observer.hpp"

namespace wsp::pipeline {

struct RenderSummary {
  std::size_t rendered = 0;
  std::size_t failed = 0;
  std::int64_t decodes = 0;        // full decodes made by this process
  std::int64_t bytes_written = 0;
  std::string stopped_because;     // non-empty: the stage stopped early (disk full, leases lost), and why
  StageTimes seconds;
};

struct RenderRequest {
  std::string run_id;
  const std::atomic<bool>* stop = nullptr;
  int jobs = 1;             // images rendered at once
  int max_inflight = 2;     // decoded images held at once
  std::int64_t lease_ms = 30'000;
  int min_priority = catalog::k_any_priority;  // only work at least this urgent (EngineSettings)
};

RenderSummary render(const config::Config& config, catalog::Catalog& catalog, const RenderRequest& request,
                     Observer& observer);

// "Première danse 01.JPG" -> "premiere-danse-01": a source's name as render
// files and gallery anchors spell it, one that survives any web server.
std::string web_stem(const std::string& path);

// The settings part of the render fingerprint: a short hash of the recipe.
std::string render_settings(const config::RenderRecipe& recipe);

// A manifest: each of `renders` with its variants (width, height, format,
// bytes, hash, path relative to the state folder, which is also the path in a
// published gallery). The same renders give the same bytes. The state folder's
// copy lists every active image and its analysis image; a gallery's lists only
// the photos it shows, by file name without folders, and no analysis image
// (those are never published).
enum class ManifestFor { state, gallery };
std::string manifest_json(const std::vector<catalog::RenderRecord>& renders, ManifestFor use = ManifestFor::state);

// Rewrites .wsportfolio/manifest.json to list every render the catalog has,
// read under a lock (.wsportfolio/manifest.lock) so that of two processes the
// one that writes last has seen what the other committed.
void write_manifest(const config::Config& config, catalog::Catalog& catalog);

}  // namespace wsp::pipeline
