#include "pipeline/selection.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "tagging/xmp.hpp"
#include "util/files.hpp"

namespace wsp::pipeline {
namespace {

namespace fs = std::filesystem;

// A JPEG's or TIFF's XMP and IPTC sit in its first segments, before the pixels;
// this much of the file holds them for any camera or culling tool.
constexpr std::streamsize k_embedded_bytes = std::streamsize{1} << 20;

struct FileStamp {
  std::string stamp;
  std::int64_t mtime_ms = 0;
};

std::optional<FileStamp> stamp_of(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  const std::int64_t mtime_ns = std::int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
  return FileStamp{fmt::format("{}:{}", st.st_size, mtime_ns), mtime_ns / 1'000'000};
}

util::Result<std::string> read_head(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return util::Error{fmt::format("{}: cannot be read", path.string())};
  std::string bytes(static_cast<std::size_t>(k_embedded_bytes), '\0');
  in.read(bytes.data(), k_embedded_bytes);
  bytes.resize(static_cast<std::size_t>(in.gcount()));
  return bytes;
}

bool same_choice(const catalog::SelectionRecord& a, const catalog::SelectionRecord& b) {
  return a.rating == b.rating && a.labels == b.labels && a.tagged == b.tagged && a.keywords == b.keywords;
}

struct SelectionChanges {
  std::map<std::int64_t, catalog::SelectionRecord> known;  // what the catalog holds
  std::vector<catalog::SelectionRecord> updates;
  std::vector<std::int64_t> gone;
  SelectionSyncSummary summary;
};

SelectionChanges read_changes(const config::Config& config, catalog::Catalog& catalog, Observer& observer) {
  constexpr std::string_view k_stage = "selection";
  SelectionChanges changes;
  auto& known = changes.known;
  for (auto& record : catalog.selections()) known.emplace(record.image_id, std::move(record));

  auto& summary = changes.summary;
  auto& updates = changes.updates;
  auto& gone = changes.gone;
  for (const auto& image : catalog.images()) {
    if (image.status != catalog::ImageStatus::Active) continue;
    const fs::path source = config.in_project(image.path);
    const fs::path sidecar = tagging::sidecar_path(source);
    auto previous = known.find(image.id);
    const catalog::SelectionRecord* before = previous == known.end() ? nullptr : &previous->second;

    catalog::SelectionRecord record;
    record.image_id = image.id;
    util::Result<std::optional<tagging::Selection>> read = std::optional<tagging::Selection>{};
    std::optional<FileStamp> stamp;
    fs::path file;
    if (auto sidecar_stamp = stamp_of(sidecar)) {
      stamp = sidecar_stamp, file = sidecar, record.origin = "sidecar";
    } else if (auto source_stamp = stamp_of(source)) {
      stamp = source_stamp, file = source, record.origin = "embedded";
    } else {
      if (before) gone.push_back(image.id);
      continue;
    }
    record.stamp = stamp->stamp;
    if (before && before->origin == record.origin && before->stamp == record.stamp) {
      ++summary.unchanged;
      continue;
    }
    ++summary.read;
    if (record.origin == "sidecar") {
      auto text = util::read_text_file(file);
      if (!text) {
        read = util::Error{text.message()};
      } else {
        auto selection = tagging::read_selection(*text);
        if (selection) {
          read = std::optional(std::move(*selection));
        } else {
          read = util::Error{selection.message()};
        }
      }
    } else {
      auto bytes = read_head(file);
      read = bytes ? tagging::read_embedded_selection(*bytes) : util::Result<std::optional<tagging::Selection>>(bytes.error());
    }
    // A format exiv2 does not read (a CR3, say) carries no selection it could see:
    // that is no fault of the photo, so it is not reported.
    if (!read && record.origin == "embedded") read = std::optional<tagging::Selection>{};
    if (!read) {
      ++summary.failed;
      observer.item_problem(k_stage, file.string(), fmt::format("{}; the photographer's selection is left as it was", read.message()));
      continue;
    }
    if (*read) {
      record.rating = (*read)->rating;
      record.labels = (*read)->labels;
      record.tagged = (*read)->tagged;
      record.keywords = (*read)->keywords;
    }
    // What the file says changed when it was last saved with a different choice;
    // a save that changed nothing of it keeps the older time.
    record.changed_ms = before && same_choice(*before, record) ? before->changed_ms : stamp->mtime_ms;
    if (!before || !same_choice(*before, record)) ++summary.changed;
    updates.push_back(std::move(record));
  }
  return changes;
}

}  // namespace

SelectionSyncSummary sync_selections(const config::Config& config, catalog::Catalog& catalog, Observer& observer) {
  auto changes = read_changes(config, catalog, observer);
  if (!changes.updates.empty() || !changes.gone.empty()) {
    catalog.write([&] {
      for (const auto& record : changes.updates) catalog.put_selection(record);
      for (auto image_id : changes.gone) catalog.remove_selection(image_id);
    });
  }
  return changes.summary;
}

std::vector<catalog::SelectionRecord> current_selections(const config::Config& config, catalog::Catalog& catalog,
                                                         Observer& observer) {
  auto changes = read_changes(config, catalog, observer);
  auto& current = changes.known;
  for (auto image_id : changes.gone) current.erase(image_id);
  for (auto& record : changes.updates) current.insert_or_assign(record.image_id, std::move(record));
  std::vector<catalog::SelectionRecord> all;
  for (auto& [image_id, record] : current) all.push_back(std::move(record));
  return all;
}

}  // namespace wsp::pipeline
