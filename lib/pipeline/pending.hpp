#pragma once
// How much work each claimed stage has before it, as a run would find it.

#include <cstdint>
#include <utility>
#include <vector>

#include "catalog/catalog.hpp"
#include "config/config.hpp"
#include "pipeline/names.hpp"

namespace wsp::pipeline {

// Per stage that claims its work (render, tag): the active images whose job
// is due under the current config (never started, out of date, pending, or
// held by an expired lease), whether or not the stage before is done. An
// image never claimed has no job row yet, so the job rows alone undercount.
std::vector<std::pair<StageName, std::int64_t>> pending_work(const config::Config& config, catalog::Catalog& catalog);

}  // namespace wsp::pipeline
