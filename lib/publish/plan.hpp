#pragma once
// The publish plan: what to upload, replace and remove on one target so that it
// holds exactly the gallery as it is now, touching only what changed.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/result.hpp"

namespace wsp::publish {

// A file of the gallery, or one the tool published to a target before.
struct PublishFile {
  std::string path;    // relative, '/'-separated: "index.html", "renders/a-960.3f9a1c2b7d4e.webp"
  std::string sha256;  // lower-case hex
  std::int64_t size = 0;
};

// Put: new on the target. Replace: there with other content. Unchanged: nothing
// to do. Stale: published before, no longer wanted, kept because pruning was not
// asked for. Delete: published before, no longer wanted, removed.
enum class PlanAction { Put, Replace, Unchanged, Stale, Delete };
std::string_view to_string(PlanAction action);

struct PlanStep {
  std::string path;
  PlanAction action = PlanAction::Unchanged;
  std::string sha256;     // the wanted content; for Stale and Delete, what was published
  std::int64_t size = 0;  // likewise
  bool immutable = false;
};

// Steps in the order to apply them: a reader of the site never meets a page that
// points at a file not there yet, or no longer there. Immutable assets are put
// first, then mutable files that are not pages (CSS, scripts, manifest.json),
// then pages, index.html last of all; then deletes, pages before what they used.
// Unchanged and stale steps, which do nothing, come last. Ties go by path.
struct Plan {
  std::vector<PlanStep> steps;

  std::size_t count(PlanAction action) const;
  std::int64_t upload_bytes() const;  // the size of everything put or replaced
};

// Why `path` may not be written to or removed from a target, or success: it must
// be relative, '/'-separated, non-empty, without empty, "." or ".." components,
// backslashes or control characters, so that no name from a file or the config
// can reach outside the target.
util::Status check_publish_path(std::string_view path);

// True for content-hashed names ("first-kiss-960.3f9a1c2b7d4e.webp": a segment of
// exactly 12 lower-case hex digits between dots, before the extension), whose
// content never changes and which can be cached forever; false for names like
// index.html, whose content changes under the same name.
bool is_immutable_path(std::string_view path);

// Compares `wanted` (the gallery now) with `published` (the tool's record of the
// target). Only recorded paths can be deleted, and only when `prune` is set.
// Fails on the first invalid or duplicated path, naming it.
util::Result<Plan> make_plan(std::span<const PublishFile> wanted, std::span<const PublishFile> published, bool prune);

// The mutable paths a CDN may still serve old copies of: replaced or deleted.
std::vector<std::string> purge_paths(const Plan& plan);

// For --dry-run: a line of totals, then one line per step that does something
// (or is stale), in plan order.
std::string plan_summary(const Plan& plan);

// The same plan as one JSON object: totals and every step, in plan order.
nlohmann::ordered_json plan_json(const Plan& plan);

}  // namespace wsp::publish
