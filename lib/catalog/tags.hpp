#pragma once
// What tagging concluded and what the photographer corrected: automatic
// tags, overrides kept apart so that re-tagging never touches them, burst
// groups, and the providers' results cached by content.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace wsp::catalog {

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
  bool eyes_closed = false;         // someone's eyes are closed (local faces or a provider)
  std::optional<int> faces;         // faces found locally; unset when none were looked for
  double face_sharpness = 0;        // of the sharpest face found, 0 with none
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
  std::int64_t updated_ms = 0;  // when `tag set` last changed it, filled when read back
  bool empty() const { return !scene && add_tags.empty() && remove_tags.empty() && !alt_text && !rating; }
};

// The photographer's selection as their culling tool saved it: from the image's
// XMP sidecar, else from the XMP and IPTC inside the image.
struct SelectionRecord {
  std::int64_t image_id = 0;
  std::string source_path;          // filled when read back
  std::string origin;               // "sidecar" or "embedded"
  std::string stamp;                // size and mtime of the file read: unchanged, it is not read again
  std::optional<int> rating;        // -1 (rejected) .. 5
  std::vector<std::string> labels;  // colour labels by name
  std::optional<bool> tagged;       // Photo Mechanic's tag
  std::vector<std::string> keywords;
  std::int64_t changed_ms = 0;      // the file's mtime when what it says last changed
};

// One request (or a few, for a batch) to a remote tagging provider.
struct ProviderCall {
  std::string run_id;
  std::string provider;
  int calls = 0;            // requests that reached the provider
  std::int64_t input_tokens = 0;
  std::int64_t output_tokens = 0;
  double cost = 0;          // from the configured prices
  std::string failure;      // empty when it saw the photo
  bool transient = false;   // the failure was passing (the photo stays due)
  std::string circuit;      // the provider's circuit after the call: closed, open, half_open
};

// What `status` shows per provider, over every run.
struct ProviderUsage {
  std::string provider;
  std::int64_t calls = 0;
  std::int64_t failures = 0;
  std::int64_t input_tokens = 0;
  std::int64_t output_tokens = 0;
  double cost = 0;
  std::string circuit;       // as the last call left it
  std::string last_failure;
};

struct TagCatalog {
  virtual ~TagCatalog() = default;

  // Replaces the image's automatic tags (its group is kept until set_groups).
  virtual void put_tags(const TagRecord& tags) = 0;
  virtual std::vector<TagRecord> tags() = 0;  // of active images, by path
  virtual void set_sidecar_keywords(std::int64_t image_id, const std::vector<std::string>& keywords) = 0;
  // Replaces every burst group: `groups` maps image id -> the group's best pick.
  virtual void set_groups(const std::vector<std::pair<std::int64_t, std::int64_t>>& groups) = 0;

  // Overrides are stored apart from automatic results; an empty one is removed.
  virtual void put_override(const TagOverride& override_) = 0;
  virtual std::optional<TagOverride> tag_override(std::int64_t image_id) = 0;
  virtual std::vector<TagOverride> overrides() = 0;  // of active images, by path

  // The photographer's selection, one per image; read back for active images, by path.
  virtual void put_selection(const SelectionRecord& selection) = 0;
  virtual void remove_selection(std::int64_t image_id) = 0;
  virtual std::vector<SelectionRecord> selections() = 0;

  // Provider results by content hash + provider + model, so that re-tagging the
  // same pixels (a new timeline, another file with the same analysis image) asks
  // no provider twice.
  virtual std::optional<std::string> cached_result(const std::string& content_sha256, const std::string& provider,
                                                   const std::string& model) = 0;
  virtual void put_cached_result(const std::string& content_sha256, const std::string& provider,
                                 const std::string& model, const std::string& result) = 0;

  virtual void add_provider_call(const ProviderCall& call) = 0;
  virtual std::vector<ProviderUsage> provider_usage() = 0;  // by provider name
};

}  // namespace wsp::catalog
