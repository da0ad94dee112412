#pragma once
// The names the pipeline writes into the catalog and its reports: stages and
// the kinds of audit event. Typed, so that a misspelt stage is a compile
// error instead of a job row nobody ever claims; spelt out in one table each.

#include <array>
#include <string>
#include <string_view>
#include <utility>

namespace wsp::pipeline {

enum class StageName { ingest, render, tag, xmp, publish };

// "render": the stage as the catalog's job rows, the observer and JSON spell it.
constexpr std::string_view name_of(StageName stage) {
  constexpr std::array<std::pair<StageName, std::string_view>, 5> k_names{{
      {StageName::ingest, "ingest"},
      {StageName::render, "render"},
      {StageName::tag, "tag"},
      {StageName::xmp, "xmp"},
      {StageName::publish, "publish"},
  }};
  for (const auto& [name, text] : k_names)
    if (name == stage) return text;
  return "?";
}

inline std::string to_string(StageName stage) { return std::string(name_of(stage)); }

// What the append-only events table records.
enum class EventKind {
  image_ingested,
  image_changed,
  image_moved,
  image_duplicate,
  image_rejected,
  image_missing,
  image_rendered,
  image_render_failed,
  image_tagged,
  image_tag_failed,
  image_tags_overridden,
  image_override_cleared,
  publish_completed,
};

constexpr std::string_view name_of(EventKind kind) {
  constexpr std::array<std::pair<EventKind, std::string_view>, 13> k_names{{
      {EventKind::image_ingested, "image.ingested"},
      {EventKind::image_changed, "image.changed"},
      {EventKind::image_moved, "image.moved"},
      {EventKind::image_duplicate, "image.duplicate"},
      {EventKind::image_rejected, "image.rejected"},
      {EventKind::image_missing, "image.missing"},
      {EventKind::image_rendered, "image.rendered"},
      {EventKind::image_render_failed, "image.render_failed"},
      {EventKind::image_tagged, "image.tagged"},
      {EventKind::image_tag_failed, "image.tag_failed"},
      {EventKind::image_tags_overridden, "image.tags_overridden"},
      {EventKind::image_override_cleared, "image.override_cleared"},
      {EventKind::publish_completed, "publish.completed"},
  }};
  for (const auto& [name, text] : k_names)
    if (name == kind) return text;
  return "?";
}

inline std::string to_string(EventKind kind) { return std::string(name_of(kind)); }

}  // namespace wsp::pipeline
