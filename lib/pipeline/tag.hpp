#pragma once
// The tag stage: every active image whose render is done and whose tags are
// missing or out of date (fingerprint: source hash + the tagging settings,
// timeline, camera clocks and time zone) is categorised from its analysis
// image, resumably and beside other processes like render. Providers are
// asked in the configured fallback order and their observations cached by
// content hash + provider + model. Afterwards bursts and near-duplicates are
// grouped across the whole shoot.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/catalog.hpp"
#include "config/config.hpp"
#include "net/retry.hpp"
#include "pipeline/engine.hpp"
#include "pipeline/observer.hpp"
#include "tagging/tagger.hpp"

namespace wsp::pipeline {

// Makes the provider of that name (tests point the remote ones at a server on
// 127.0.0.1). For "local", nullptr means the built-in one.
using ProviderFactory =
    std::function<std::unique_ptr<tagging::Provider>(const std::string& name, const config::Config& config)>;

struct TagRequest {
  std::string run_id;
  ProviderFactory providers;  // empty: tagging::make_provider
  const std::atomic<bool>* stop = nullptr;
  int jobs = 1;
  std::int64_t lease_ms = 30'000;
  // The providers' circuit breakers' clock (tests drive it); empty: the steady clock.
  net::SteadyClock circuit_clock;
};

struct TagSummary {
  std::size_t tagged = 0;
  std::size_t failed = 0;
  std::size_t rerender = 0;     // analysis image gone: queued for render again
  std::size_t from_cache = 0;   // observations reused instead of recomputed
  std::size_t due_remote = 0;   // tagged for now, still due for a remote provider that was away
  std::size_t groups = 0;       // bursts / near-duplicate groups in the shoot
  std::string stopped_because;  // non-empty: the stage stopped early (leases lost), and why
  StageTimes seconds;
};

TagSummary tag(const config::Config& config, catalog::Catalog& catalog, const TagRequest& request,
               Observer& observer);

// What a tag run would send before it sends anything: per remote provider
// the most calls it could make (every due photo; cached ones make none, so
// the real number may be lower) and their cost from the configured prices
// with an estimate of the tokens per call. Only the first remote provider
// is counted: the others are asked only when it fails.
struct TagEstimate {
  std::int64_t due = 0;
  std::string provider;  // empty: only local tagging
  std::int64_t calls = 0;
  std::int64_t input_tokens = 0;
  std::int64_t output_tokens = 0;
  double cost = 0;
  std::optional<double> max_cost;
};
TagEstimate estimate_tagging(const config::Config& config, catalog::Catalog& catalog);

// The settings part of the tag fingerprint.
std::string tag_settings(const config::Config& config);

// Regroups bursts and near-duplicates over every tagged image; returns the number of groups.
std::size_t regroup(catalog::Catalog& catalog);

// What the portfolio says about an image: automatic tags with the
// photographer's overrides applied (they always win).
struct EffectiveTags {
  std::int64_t image_id = 0;
  std::string path;
  std::string scene;
  double confidence = 0;
  std::string scene_basis;  // "override", "timeline", "heuristic", a provider
  std::vector<std::string> keywords;
  std::string alt_text;
  std::optional<int> rating;
  std::optional<std::int64_t> group;  // the group's best pick
  bool best_pick = false;             // the frame to keep of its group
  bool needs_review = false;          // confidence under tagging.min_confidence, no override
  bool overridden = false;
  double sharpness = 0;
  bool overexposed = false;
  bool underexposed = false;
  bool eyes_closed = false;
  std::optional<int> faces;  // found locally; unset when none were looked for
  std::optional<std::int64_t> capture_utc_ms;  // clock-corrected
  std::vector<std::string> removed_keywords;   // taken out by an override
  std::vector<std::string> sidecar_keywords;   // what the last XMP sidecar write put in
  // The photographer's selection from their culling tool (sync_selections).
  std::vector<std::string> labels;  // colour labels
  bool picked = false;              // tagged in Photo Mechanic
  // `tag set` and the sidecar disagree on the rating: the newer won; says which.
  std::string rating_conflict;
  // The rating is the one the photographer's tool saved: a sidecar write leaves
  // it to the file, which may hold a newer one by then.
  bool rating_from_tool = false;
};

// The rating that holds when `tag set` (an override) and the photographer's
// tool (a sidecar or embedded XMP) both gave one: the newer; `conflict` says
// what each said when they differ.
struct RatingChoice {
  std::optional<int> rating;
  std::string conflict;
};
RatingChoice choose_rating(std::optional<int> override_rating, std::int64_t override_ms, std::optional<int> tool_rating,
                           std::int64_t tool_ms, std::string_view tool_origin);

std::vector<EffectiveTags> effective_tags(const config::Config& config, catalog::Catalog& catalog);

struct SidecarSummary {
  std::size_t written = 0;
  std::size_t unchanged = 0;
  std::size_t failed = 0;
};

// Writes an XMP sidecar beside every tagged source (IMG_1234.JPG ->
// IMG_1234.xmp), merged into the one already there: keywords, the scene as
// label, the rating, the best-pick flag and the alt text as description. What
// else the sidecar holds (develop settings, history) is kept. Keywords the
// tool no longer says are taken out, so a changed scene does
// not leave the old one behind: only keywords this tool wrote there before
// (recorded in the catalog), so the photographer's own stay. A best pick gets
// Photo Mechanic's tag; the tag is never cleared. A sidecar that cannot be
// read or written, or that two photos would share (IMG_1.JPG, IMG_1.png), is
// reported through `observer` and left as it was.
SidecarSummary write_sidecars(const config::Config& config, catalog::Catalog& catalog, Observer& observer);

}  // namespace wsp::pipeline
