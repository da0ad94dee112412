#include "publish/plan.hpp"

#include <algorithm>
#include <map>
#include <tuple>

#include <fmt/format.h>


namespace wsp::publish {

namespace {

constexpr std::size_t k_hash_digits = 12;

std::string_view file_name(std::string_view path) {
  auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// A name as a JSON string, quotes included, so that a control character or a
// byte that is not UTF-8 in a hostile name is shown, not obeyed.
std::string shown_name(std::string_view path) {
  return nlohmann::json(path).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool is_page(std::string_view path) { return path.ends_with(".html") || path.ends_with(".htm"); }

bool is_hash_segment(std::string_view segment) {
  return segment.size() == k_hash_digits && std::all_of(segment.begin(), segment.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// The place of a step in the plan; see Plan for why this order.
int rank(const PlanStep& step) {
  bool page = is_page(step.path);
  switch (step.action) {
    case PlanAction::Put:
    case PlanAction::Replace:
      if (step.immutable) return 0;
      if (!page) return 1;
      return file_name(step.path) == "index.html" ? 3 : 2;
    case PlanAction::Delete:
      if (page) return 4;
      return step.immutable ? 6 : 5;
    case PlanAction::Unchanged:
    case PlanAction::Stale: break;
  }
  return 7;
}

std::string human_size(std::int64_t bytes) {
  if (bytes < 1000) return fmt::format("{} B", bytes);
  if (bytes < 1000 * 1000) return fmt::format("{:.1f} kB", static_cast<double>(bytes) / 1e3);
  if (bytes < 1000 * 1000 * 1000) return fmt::format("{:.1f} MB", static_cast<double>(bytes) / 1e6);
  return fmt::format("{:.2f} GB", static_cast<double>(bytes) / 1e9);
}

// Paths as keys, refusing bad and repeated ones: a repeat would make the plan ambiguous.
util::Result<std::map<std::string_view, const PublishFile*>> index_files(std::span<const PublishFile> files,
                                                                          std::string_view what) {
  std::map<std::string_view, const PublishFile*> by_path;
  for (const auto& file : files) {
    if (auto checked = check_publish_path(file.path); !checked) return util::Error{checked.message()};
    if (!by_path.emplace(file.path, &file).second)
      return util::Error{fmt::format("{}: listed twice in the {}", shown_name(file.path), what)};
  }
  return by_path;
}

}  // namespace

std::string_view to_string(PlanAction action) {
  switch (action) {
    case PlanAction::Put: return "put";
    case PlanAction::Replace: return "replace";
    case PlanAction::Unchanged: return "unchanged";
    case PlanAction::Stale: return "stale";
    case PlanAction::Delete: return "delete";
  }
  return "unknown";
}

std::size_t Plan::count(PlanAction action) const {
  return static_cast<std::size_t>(
      std::count_if(steps.begin(), steps.end(), [action](const PlanStep& step) { return step.action == action; }));
}

std::int64_t Plan::upload_bytes() const {
  std::int64_t total = 0;
  for (const auto& step : steps)
    if (step.action == PlanAction::Put || step.action == PlanAction::Replace) total += step.size;
  return total;
}

util::Status check_publish_path(std::string_view path) {
  auto refuse = [path](std::string_view why) {
    return util::Error{fmt::format("{}: not a publishable path: {}", shown_name(path), why)};
  };
  if (path.empty()) return refuse("empty");
  if (path.front() == '/') return refuse("absolute (starts with '/')");
  for (char c : path) {
    if (c == '\\') return refuse("contains a backslash");
    if (c == '\0') return refuse("contains a NUL byte");
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return refuse("contains a control character");
  }
  std::size_t start = 0;
  while (start <= path.size()) {
    auto end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    auto component = path.substr(start, end - start);
    if (component.empty()) return refuse("has an empty component ('//' or a trailing '/')");
    if (component == "..") return refuse("has a '..' component");
    if (component == ".") return refuse("has a '.' component");
    start = end + 1;
  }
  return util::Status::success();
}

bool is_immutable_path(std::string_view path) {
  auto name = file_name(path);
  // The first segment is the stem and the last the extension: only those between can be the hash.
  auto first_dot = name.find('.');
  auto last_dot = name.rfind('.');
  if (first_dot == std::string_view::npos || first_dot == last_dot) return false;
  auto middle = name.substr(first_dot + 1, last_dot - first_dot - 1);
  std::size_t start = 0;
  while (start <= middle.size()) {
    auto end = middle.find('.', start);
    if (end == std::string_view::npos) end = middle.size();
    if (is_hash_segment(middle.substr(start, end - start))) return true;
    start = end + 1;
  }
  return false;
}

util::Result<Plan> make_plan(std::span<const PublishFile> wanted, std::span<const PublishFile> published, bool prune) {
  auto wanted_by_path = index_files(wanted, "gallery");
  if (!wanted_by_path) return wanted_by_path.error();
  auto published_by_path = index_files(published, "record of published files");
  if (!published_by_path) return published_by_path.error();

  Plan plan;
  for (const auto& [path, file] : *wanted_by_path) {
    PlanStep step{file->path, PlanAction::Put, file->sha256, file->size, is_immutable_path(path)};
    if (auto before = published_by_path->find(path); before != published_by_path->end()) {
      bool same = before->second->sha256 == file->sha256 && before->second->size == file->size;
      step.action = same ? PlanAction::Unchanged : PlanAction::Replace;
    }
    plan.steps.push_back(std::move(step));
  }
  for (const auto& [path, file] : *published_by_path) {
    if (wanted_by_path->contains(path)) continue;
    plan.steps.push_back({file->path, prune ? PlanAction::Delete : PlanAction::Stale, file->sha256, file->size,
                          is_immutable_path(path)});
  }
  std::stable_sort(plan.steps.begin(), plan.steps.end(), [](const PlanStep& a, const PlanStep& b) {
    return std::forward_as_tuple(rank(a), a.path) < std::forward_as_tuple(rank(b), b.path);
  });
  return plan;
}

std::vector<std::string> purge_paths(const Plan& plan) {
  std::vector<std::string> paths;
  for (const auto& step : plan.steps)
    if (!step.immutable && (step.action == PlanAction::Replace || step.action == PlanAction::Delete))
      paths.push_back(step.path);
  return paths;
}

std::string plan_summary(const Plan& plan) {
  std::string text = fmt::format("{} to put, {} to replace, {} unchanged, {} to delete, {} stale; {} to upload\n",
                                 plan.count(PlanAction::Put), plan.count(PlanAction::Replace),
                                 plan.count(PlanAction::Unchanged), plan.count(PlanAction::Delete),
                                 plan.count(PlanAction::Stale), human_size(plan.upload_bytes()));
  for (const auto& step : plan.steps) {
    if (step.action == PlanAction::Unchanged) continue;
    text += fmt::format("  {:<8} {} ({})", to_string(step.action), step.path, human_size(step.size));
    if (step.action == PlanAction::Stale) text += ", kept: --prune removes it";
    text += '\n';
  }
  return text;
}

nlohmann::ordered_json plan_json(const Plan& plan) {
  auto steps = nlohmann::ordered_json::array();
  for (const auto& step : plan.steps)
    steps.push_back({{"path", step.path},
                     {"action", to_string(step.action)},
                     {"sha256", step.sha256},
                     {"size", step.size},
                     {"immutable", step.immutable}});
  return {{"put", plan.count(PlanAction::Put)},         {"replace", plan.count(PlanAction::Replace)},
          {"unchanged", plan.count(PlanAction::Unchanged)}, {"delete", plan.count(PlanAction::Delete)},
          {"stale", plan.count(PlanAction::Stale)},     {"upload_bytes", plan.upload_bytes()},
          {"steps", std::move(steps)}};
}

}  // namespace wsp::publish
