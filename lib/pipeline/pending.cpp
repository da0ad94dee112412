#include "pipeline/pending.hpp"

#include "pipeline/render.hpp"
#include "pipeline/tag.hpp"

namespace wsp::pipeline {

std::vector<std::pair<StageName, std::int64_t>> pending_work(const config::Config& config, catalog::Catalog& catalog) {
  const std::pair<StageName, std::string> rules[] = {
      {StageName::render, render_settings(config.render)},
      {StageName::tag, tag_settings(config)},
  };
  std::vector<std::pair<StageName, std::int64_t>> pending;
  for (const auto& [stage, settings] : rules)
    pending.emplace_back(stage, catalog.count_claimable(to_string(stage), settings, ""));
  return pending;
}

}  // namespace wsp::pipeline
