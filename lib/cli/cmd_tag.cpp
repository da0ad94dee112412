#include <chrono>
#include <set>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "pipeline/selection.hpp"
#include "pipeline/scan.hpp"
#include "pipeline/tag.hpp"
#include "tagging/timeline.hpp"
#include "util/text.hpp"

namespace wsp::cli {

int tag_stage(const Context& context, const config::Config& config, catalog::Catalog& catalog,
              const std::string& run_id, StageTimings* timings, const pipeline::QueueOrder& order) {
  pipeline::TagRequest request;
  request.run_id = run_id;
  request.stop = &context.stop;
  request.jobs = worker_count(config);
  request.min_priority = order.at_least;
  const auto started = std::chrono::steady_clock::now();
  auto summary = pipeline::tag(config, catalog, request, context.terminal);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (timings) timings->push_back({pipeline::StageName::tag, summary.tagged + summary.failed, summary.seconds});
  auto tags = pipeline::effective_tags(config, catalog);
  const auto review = std::count_if(tags.begin(), tags.end(), [](const auto& t) { return t.needs_review; });
  context.terminal.finish_progress();
  context.terminal.info(fmt::format("tag: {} tagged ({} from cache), {} failed, {} burst group(s), {} to review "
                                    "({:.2f} s)",
                                    summary.tagged, summary.from_cache, summary.failed, summary.groups, review,
                                    seconds));
  if (summary.due_remote > 0)
    context.terminal.info(fmt::format("{} image(s) were tagged without a remote provider that was away (outage, rate "
                                      "limit, tagging.max_cost) and stay due for it: the next run asks again",
                                      summary.due_remote));
  if (summary.rerender > 0)
    context.terminal.info(fmt::format("{} image(s) lost their analysis image and wait for render: `wsportfolio run` "
                                      "renders and tags them",
                                      summary.rerender));
  context.terminal.emit(JsonLine()
                            .add("event", "tag.completed")
                            .add("tagged", summary.tagged)
                            .add("from_cache", summary.from_cache)
                            .add("failed", summary.failed)
                            .add("waiting_for_render", summary.rerender)
                            .add("due_for_provider", summary.due_remote)
                            .add("groups", summary.groups)
                            .add("needs_review", static_cast<std::int64_t>(review))
                            .add("seconds", seconds)
                            .add("claim_seconds", summary.seconds.claim)
                            .add("work_seconds", summary.seconds.work)
                            .add("commit_seconds", summary.seconds.commit)
                            .add("interrupted", context.stop.load()));
  if (!summary.stopped_because.empty()) {
    context.terminal.error(fmt::format("tag stopped: {}", summary.stopped_because));
    return k_exit_items_failed;
  }
  auto standing = catalog.failures(pipeline::to_string(pipeline::StageName::tag)).size();
  if (standing > summary.failed)
    context.terminal.info(fmt::format("{} image(s) failed tagging in earlier runs; `wsportfolio retry --stage tag` "
                                      "requeues them", standing - summary.failed));
  return standing > 0 ? k_exit_items_failed : k_exit_ok;
}

int write_xmp_sidecars(const Context& context, const config::Config& config, catalog::Catalog& catalog) {
  auto summary = pipeline::write_sidecars(config, catalog, context.terminal);
  context.terminal.finish_progress();
  context.terminal.info(fmt::format("xmp: {} sidecar(s) written, {} unchanged, {} failed", summary.written,
                                    summary.unchanged, summary.failed));
  context.terminal.emit(JsonLine()
                            .add("event", "tag.xmp")
                            .add("written", summary.written)
                            .add("unchanged", summary.unchanged)
                            .add("failed", summary.failed));
  return summary.failed > 0 ? k_exit_items_failed : k_exit_ok;
}

namespace {

struct TagOptions {
  std::string folder;
  bool xmp = false;
  bool estimate = false;
  // tag set / clear / show
  std::vector<std::string> files;
  std::optional<std::string> scene;
  std::vector<std::string> add_tags, remove_tags;
  std::optional<std::string> alt;
  std::optional<int> rating;
  bool clear_scene = false, clear_tags = false, clear_alt = false, clear_rating = false;
};

JsonLine describe(const pipeline::EffectiveTags& t) {
  JsonLine line;
  line.add("file", t.path).add("scene", t.scene).add("confidence", t.confidence).add("basis", t.scene_basis);
  line.add("keywords", t.keywords).add("alt", t.alt_text).add("needs_review", t.needs_review);
  line.add("best_pick", t.best_pick).add("sharpness", t.sharpness).add("overexposed", t.overexposed);
  line.add("underexposed", t.underexposed).add("eyes_closed", t.eyes_closed);
  if (t.faces) line.add("faces", *t.faces);
  if (t.group) line.add("group", *t.group);
  if (t.rating) line.add("rating", *t.rating);
  if (!t.labels.empty()) line.add("labels", t.labels);
  if (t.picked) line.add("picked", true);
  if (!t.rating_conflict.empty()) line.add("rating_conflict", t.rating_conflict);
  return line;
}

// The catalog's images for FILE arguments; an unknown file is a usage error
// that names it, before anything is changed.
std::vector<catalog::ImageRecord> images_for(const config::Config& config, catalog::Catalog& catalog,
                                             const std::vector<std::string>& files) {
  std::vector<catalog::ImageRecord> found;
  for (const auto& file : files) {
    auto key = pipeline::catalog_key(config, std::filesystem::absolute(file).lexically_normal());
    auto image = catalog.image_at(key);
    if (!image || image->status != catalog::ImageStatus::Active)
      throw UsageError(fmt::format("{}: not an image of this project (ingest it first)", file));
    found.push_back(*image);
  }
  return found;
}

int run_estimate(const TagOptions& options, const Context& context) {
  auto config = load_project(context, existing_folder(options.folder));
  auto catalog = open_existing_catalog(config, catalog::Access::read_only);
  auto estimate = pipeline::estimate_tagging(config, *catalog);
  if (estimate.provider.empty())
    context.terminal.info(fmt::format("{} photo(s) due for tagging, all local: no remote call, no cost", estimate.due));
  else
    context.terminal.info(fmt::format(
        "{} photo(s) due for tagging: at most {} call(s) to {}, about {} input and {} output tokens, about {:.4f} "
        "in the unit of its prices{}",
        estimate.due, estimate.calls, estimate.provider, estimate.input_tokens, estimate.output_tokens, estimate.cost,
        estimate.max_cost ? fmt::format(" (tagging.max_cost: {})", *estimate.max_cost) : std::string()));
  JsonLine line;
  line.add("event", "tag.estimate").add("due", estimate.due).add("provider", estimate.provider);
  line.add("calls", estimate.calls).add("input_tokens", estimate.input_tokens);
  line.add("output_tokens", estimate.output_tokens).add("cost", estimate.cost);
  if (estimate.max_cost) line.add("max_cost", *estimate.max_cost);
  context.terminal.emit(line);
  return k_exit_ok;
}

int run_tag(const TagOptions& options, const Context& context) {
  if (options.estimate) return run_estimate(options, context);
  return run_on_project(context, {.name = "tag", .folder = existing_folder(options.folder)}, [&](const Project& p) {
    int code = tag_stage(context, p.config, p.catalog, p.run_id);
    if (options.xmp && !context.stop) code = std::max(code, write_xmp_sidecars(context, p.config, p.catalog));
    return code;
  });
}

int run_set(const TagOptions& options, const Context& context) {
  if (!options.scene && options.add_tags.empty() && options.remove_tags.empty() && !options.alt && !options.rating)
    throw UsageError("tag set: nothing to set (give --scene, --add-tag, --remove-tag, --alt or --rating)");
  auto config = load_project(context, existing_folder(options.folder));
  if (options.scene && std::find(config.tagging.scenes.begin(), config.tagging.scenes.end(), *options.scene) ==
                           config.tagging.scenes.end())
    throw UsageError(fmt::format("--scene {}: not one of tagging.scenes ({})", *options.scene,
                                 fmt::join(config.tagging.scenes, ", ")));
  auto catalog = open_existing_catalog(config);
  auto images = images_for(config, *catalog, options.files);
  catalog->write([&] {
    for (const auto& image : images) {
      auto o = catalog->tag_override(image.id).value_or(catalog::TagOverride{});
      o.image_id = image.id;
      if (options.scene) o.scene = options.scene;
      for (const auto& tag : options.add_tags) {
        std::erase(o.remove_tags, tag);
        if (std::find(o.add_tags.begin(), o.add_tags.end(), tag) == o.add_tags.end()) o.add_tags.push_back(tag);
      }
      for (const auto& tag : options.remove_tags) {
        std::erase(o.add_tags, tag);
        if (std::find(o.remove_tags.begin(), o.remove_tags.end(), tag) == o.remove_tags.end())
          o.remove_tags.push_back(tag);
      }
      if (options.alt) o.alt_text = options.alt;
      if (options.rating) o.rating = options.rating;
      catalog->put_override(o);
      catalog->add_event({pipeline::to_string(pipeline::EventKind::image_tags_overridden), image.id, "{}"}, "");
    }
  });
  context.terminal.info(fmt::format("tag set: {} image(s) updated; overrides win over automatic tags", images.size()));
  context.terminal.emit(JsonLine().add("event", "tag.set").add("images", images.size()));
  return k_exit_ok;
}

int run_clear(const TagOptions& options, const Context& context) {
  auto config = load_project(context, existing_folder(options.folder));
  auto catalog = open_existing_catalog(config);
  auto images = images_for(config, *catalog, options.files);
  const bool everything = !options.clear_scene && !options.clear_tags && !options.clear_alt && !options.clear_rating;
  catalog->write([&] {
    for (const auto& image : images) {
      auto o = catalog->tag_override(image.id);
      if (!o) continue;
      if (everything || options.clear_scene) o->scene.reset();
      if (everything || options.clear_tags) o->add_tags.clear(), o->remove_tags.clear();
      if (everything || options.clear_alt) o->alt_text.reset();
      if (everything || options.clear_rating) o->rating.reset();
      catalog->put_override(*o);
      catalog->add_event({pipeline::to_string(pipeline::EventKind::image_override_cleared), image.id, "{}"}, "");
    }
  });
  context.terminal.info(fmt::format("tag clear: {} image(s); automatic tags apply again", images.size()));
  context.terminal.emit(JsonLine().add("event", "tag.clear").add("images", images.size()));
  return k_exit_ok;
}

// Lists images with their effective tags: those that need review, or the named files.
int run_list(const TagOptions& options, const Context& context, bool review_only) {
  auto config = load_project(context, existing_folder(options.folder));
  auto catalog = open_existing_catalog(config);
  std::vector<std::string> wanted;
  for (const auto& image : images_for(config, *catalog, options.files)) wanted.push_back(image.path);
  // What the photographer changed in their culling tool since the last look counts.
  pipeline::sync_selections(config, *catalog, context.terminal);
  std::size_t shown = 0, conflicts = 0;
  for (const auto& t : pipeline::effective_tags(config, *catalog)) {
    if (review_only && !t.needs_review && t.rating_conflict.empty()) continue;
    conflicts += !t.rating_conflict.empty();
    if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), t.path) == wanted.end()) continue;
    ++shown;
    context.terminal.emit(describe(t).add("event", review_only ? "tag.review" : "tag.show"));
    if (context.terminal.json()) continue;
    std::string flags;
    if (t.best_pick) flags += " best-pick";
    if (t.overexposed) flags += " overexposed";
    if (t.underexposed) flags += " underexposed";
    if (t.eyes_closed) flags += " eyes-closed";
    if (t.rating) flags += fmt::format(" rating={}", *t.rating);
    std::fputs(fmt::format("{}\n  scene {} ({:.2f}, {}){}\n  keywords {}\n  alt {}\n", t.path,
                           t.scene.empty() ? "-" : t.scene, t.confidence,
                           t.scene_basis.empty() ? "nothing to go on" : t.scene_basis, flags,
                           fmt::join(t.keywords, ", "), t.alt_text)
                   .c_str(),
               stdout);
    if (!t.rating_conflict.empty()) std::fputs(fmt::format("  conflict: {}\n", t.rating_conflict).c_str(), stdout);
  }
  if (review_only && conflicts > 0)
    context.terminal.info(fmt::format("{} rating conflict(s) between tag set and the photographer's tool: the newer "
                                      "holds; `wsportfolio tag set FILE --rating N` or a new rating in the tool settles one",
                                      conflicts));
  if (review_only)
    context.terminal.info(fmt::format("{} image(s) need review (confidence under {}); `wsportfolio tag set FILE "
                                      "--scene S` settles one",
                                      shown, config.tagging.min_confidence));
  return k_exit_ok;
}

// "2026-06-13 14:02:07" in the project's time zone.
std::string local_time(std::int64_t utc_ms, const tagging::TimeZone& zone) {
  const auto t = zone.civil_time(utc_ms);
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", t.year, t.month, t.day, t.hour, t.minute, t.second);
}

int run_align_clocks(const TagOptions& options, const Context& context) {
  auto config = load_project(context, existing_folder(options.folder));
  const auto zone = tagging::TimeZone::load(config.project.timezone).value_or(tagging::TimeZone::utc());
  auto catalog = open_existing_catalog(config);
  // Frames are grouped by serial, or by model for bodies that write none: the
  // proposal must say which, or the config entry would never match.
  std::set<std::string> serials;
  for (const auto& image : catalog->images())
    if (!image.header.camera.serial.empty()) serials.insert(image.header.camera.serial);
  std::vector<tagging::TimedFrame> frames;
  for (const auto& t : catalog->tags())
    if (t.capture_utc_ms && !t.camera.empty()) frames.push_back({t.camera, *t.capture_utc_ms, t.phash});
  auto alignment = tagging::propose_clock_offsets(frames);
  if (alignment.reference_camera.empty()) {
    context.terminal.info("align-clocks: no tagged frames with capture times; run `wsportfolio tag` first");
    return k_exit_ok;
  }
  auto clock = [](int seconds) {
    const int magnitude = std::abs(seconds);
    return fmt::format("{}{:02}:{:02}:{:02}", seconds < 0 ? '-' : '+', magnitude / 3600, magnitude / 60 % 60,
                       magnitude % 60);
  };
  auto say = [&](const std::string& text) {
    if (!context.terminal.json()) std::fputs(text.c_str(), stdout);
  };
  say(fmt::format("reference camera: {} (the one with the most frames)\n", alignment.reference_camera));
  for (const auto& p : alignment.proposals) {
    say(fmt::format("\ncamera {}: offset {} (confidence {:.2f})\n", p.camera, clock(p.offset_seconds), p.confidence));
    say(fmt::format("  evidence: {} of its {} frames land within 2 s of a similar reference frame, at {} distinct "
                    "moments; the best other offset matches {}\n",
                    p.matched_pairs, p.camera_frames, p.moments, p.runner_up_pairs));
    for (const auto& pair : p.examples)
      say(fmt::format("  e.g. its frame at {} corrected to {} matches the reference frame at {} (hash distance {})\n",
                      local_time(pair.camera_utc_ms, zone), local_time(pair.corrected_utc_ms, zone),
                      local_time(pair.reference_utc_ms, zone), pair.hash_distance));
    context.terminal.emit(JsonLine()
                              .add("event", "tag.clock_proposal")
                              .add("camera", p.camera)
                              .add("offset_seconds", p.offset_seconds)
                              .add("offset", clock(p.offset_seconds))
                              .add("matched_pairs", p.matched_pairs)
                              .add("moments", p.moments)
                              .add("camera_frames", p.camera_frames)
                              .add("runner_up_pairs", p.runner_up_pairs)
                              .add("confidence", p.confidence));
  }
  for (const auto& camera : alignment.without_proposal)
    say(fmt::format("\ncamera {}: too few frames match the reference camera's to propose an offset\n", camera));
  if (!alignment.proposals.empty()) {
    say("\nto apply, add to wsportfolio.yaml (times are relative to the corrections already configured):\ncameras:\n");
    for (const auto& p : alignment.proposals)
      say(fmt::format("  - {{ {}: \"{}\", offset: \"{}\" }}\n", serials.count(p.camera) ? "serial" : "model", p.camera,
                      clock(p.offset_seconds)));
  }
  return k_exit_ok;
}

}  // namespace

Runner define_tag(CLI::App& command) {
  auto options = std::make_shared<TagOptions>();
  command.fallthrough();
  command.add_option("folder", options->folder, "Project folder (default: the current folder)");
  command.add_flag("--xmp", options->xmp, "Write XMP sidecars (IMG_1234.xmp) for Lightroom and Photo Mechanic");
  command.add_flag("--estimate", options->estimate,
                   "Print the remote calls and their cost a tag run would make, and send nothing");

  auto* set = command.add_subcommand("set", "Override scene, keywords, alt text or rating; automation never overwrites it");
  set->fallthrough();
  set->add_option("files", options->files, "Source files")->required();
  set->add_option("--scene", options->scene, "Scene (one of tagging.scenes)");
  set->add_option("--add-tag", options->add_tags, "Keyword to add (repeatable)");
  set->add_option("--remove-tag", options->remove_tags, "Keyword to remove (repeatable)");
  set->add_option("--alt", options->alt, "Alt text");
  set->add_option("--rating", options->rating, "Star rating, -1 (rejected) to 5")->check(CLI::Range(-1, 5));

  auto* clear = command.add_subcommand("clear", "Remove overrides (all of them, or the parts named)");
  clear->fallthrough();
  clear->add_option("files", options->files, "Source files")->required();
  clear->add_flag("--scene", options->clear_scene, "Only the scene");
  clear->add_flag("--tags", options->clear_tags, "Only added and removed keywords");
  clear->add_flag("--alt", options->clear_alt, "Only the alt text");
  clear->add_flag("--rating", options->clear_rating, "Only the rating");

  auto* review = command.add_subcommand("review", "List what falls under tagging.min_confidence");
  review->fallthrough();
  auto* show = command.add_subcommand("show", "Show the effective tags of images (all, or the files named)");
  show->fallthrough();
  show->add_option("files", options->files, "Source files");
  auto* align = command.add_subcommand("align-clocks", "Propose camera clock offsets from matching bursts");
  align->fallthrough();

  return [=](const Context& context) {
    if (set->parsed()) return run_set(*options, context);
    if (clear->parsed()) return run_clear(*options, context);
    if (review->parsed()) return run_list(*options, context, true);
    if (show->parsed()) return run_list(*options, context, false);
    if (align->parsed()) return run_align_clocks(*options, context);
    return run_tag(*options, context);
  };
}

}  // namespace wsp::cli
