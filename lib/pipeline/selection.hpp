#pragma once
// The photographer's selection (stars, colour labels, rejects, Photo Mechanic's
// tag, keywords) read from each photo's XMP sidecar, else from the XMP inside
// the photo, into the catalog. A file is read again only when its size or
// modification time changed: re-reading is metadata, never pixels, so it
// neither renders nor tags anything.

#include <cstddef>
#include <vector>

#include "catalog/catalog.hpp"
#include "config/config.hpp"
#include "pipeline/observer.hpp"

namespace wsp::pipeline {

struct SelectionSyncSummary {
  std::size_t read = 0;       // files read because they changed
  std::size_t changed = 0;    // of those, the ones whose selection differs from the catalog's
  std::size_t unchanged = 0;  // not read again
  std::size_t failed = 0;     // unreadable or not valid XMP: the catalog keeps what it had
};

SelectionSyncSummary sync_selections(const config::Config& config, catalog::Catalog& catalog, Observer& observer);

// Every photo's selection as its files say now, the catalog left as it was:
// what a dry run explains with. Files unchanged since the last sync are not read again.
std::vector<catalog::SelectionRecord> current_selections(const config::Config& config, catalog::Catalog& catalog,
                                                         Observer& observer);

}  // namespace wsp::pipeline
