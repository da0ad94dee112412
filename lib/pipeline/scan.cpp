#include "pipeline/scan.hpp"

#include <algorithm>
#include <cerrno>
#include <set>
#include <sys/stat.h>

#include <fmt/format.h>

#include "publish/target.hpp"
#include "util/files.hpp"
#include "util/text.hpp"

namespace wsp::pipeline {
namespace fs = std::filesystem;

namespace {

bool matches_any(const std::vector<std::string>& patterns, const std::string& relative) {
  auto name = relative.substr(relative.rfind('/') + 1);
  return std::any_of(patterns.begin(), patterns.end(), [&](const std::string& pattern) {
    // A pattern without '/' is about the file name, at any depth.
    return pattern.find('/') == std::string::npos ? util::glob_match(pattern, name)
                                                  : util::glob_match(pattern, relative);
  });
}

// A folder the tool published to, or one inside it: what it holds is the
// tool's output (renders, pages), never a photographer's photos. Told by the
// marker the tool leaves in every target, so a target whose path has since
// changed in the config is still known.
bool inside_publish_target(const fs::path& folder) {
  for (auto path = folder.lexically_normal(); !path.empty(); path = path.parent_path()) {
    if (publish::is_publish_target(path)) return true;
    if (path == path.parent_path()) break;
  }
  return false;
}

class Walker {
public:
  Walker(const config::Config& config, ScanResult& result) : m_config(config), m_result(result) {
    m_fenced.push_back(config.state_dir());
    for (const auto& target : config.publish.targets)
      if (target.type == "local" && !target.path.empty()) m_fenced.push_back(config.in_project(target.path));
  }

  // False when `start` cannot be reached (an unmounted share): then nothing
  // under it may be taken as deleted.
  bool walk_source(const config::Source& source, const fs::path& root, const fs::path& start) {
    struct stat st {};
    if (::stat(start.c_str(), &st) != 0) {
      m_result.warnings.push_back(fmt::format("{}: cannot scan: {}; its images are left as they were",
                                              start.string(), util::last_os_error()));
      m_result.unreachable.push_back(start);
      return false;
    }
    if (inside_publish_target(S_ISDIR(st.st_mode) ? start : start.parent_path())) return true;
    if (S_ISDIR(st.st_mode)) return walk_folder(source, root, start, st);
    consider_file(source, root, start);
    return true;
  }

private:
  bool fenced(const fs::path& path) const {
    return std::any_of(m_fenced.begin(), m_fenced.end(), [&](const fs::path& f) { return is_inside(path, f); });
  }

  bool walk_folder(const config::Source& source, const fs::path& root, const fs::path& folder, const struct stat& st) {
    // Folder symlinks are followed, but each real folder is entered once, so a
    // link back to a parent cannot loop.
    if (!m_entered.insert({st.st_dev, st.st_ino}).second) return true;
    if (fenced(folder) || publish::is_publish_target(folder)) return true;
    std::error_code error;
    fs::directory_iterator it(folder, error);
    if (error) {
      m_result.warnings.push_back(
          fmt::format("{}: cannot scan: {}; its images are left as they were", folder.string(), error.message()));
      m_result.unreachable.push_back(folder);
      return false;
    }
    std::vector<fs::path> entries;
    for (; it != fs::directory_iterator(); it.increment(error)) {
      if (error) break;
      entries.push_back(it->path());
    }
    std::sort(entries.begin(), entries.end());
    for (const auto& entry : entries) {
      struct stat entry_st {};
      if (::stat(entry.c_str(), &entry_st) != 0) {
        consider_file(source, root, entry);  // a broken or looping symlink: recorded with its reason
        continue;
      }
      if (S_ISDIR(entry_st.st_mode)) {
        if (source.recursive && entry.filename().string().front() != '.') walk_folder(source, root, entry, entry_st);
      } else {
        consider_file(source, root, entry);
      }
    }
    return true;
  }

  void consider_file(const config::Source& source, const fs::path& root, const fs::path& file) {
    auto relative = file.lexically_relative(root).generic_string();
    if (relative.empty() || relative == ".") relative = file.filename().string();
    if (file.filename().string().front() == '.') return;  // hidden and temporary files
    if (!matches_any(source.include, relative) || matches_any(source.exclude, relative)) return;
    if (fenced(file)) return;
    FoundFile found;
    found.absolute = file;
    found.key = catalog_key(m_config, file);
    if (!m_keys.insert(found.key).second) return;  // two sources overlap
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) {
      found.problem = errno == ELOOP    ? "symlink loop: the link never reaches a file"
                      : errno == ENOENT ? "broken symlink: its target does not exist"
                                        : util::last_os_error();
    } else if (!S_ISREG(st.st_mode)) {
      return;
    } else {
      found.size = st.st_size;
      found.mtime_ns = std::int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
      found.inode = static_cast<std::int64_t>(st.st_ino);
    }
    m_result.files.push_back(std::move(found));
  }

  const config::Config& m_config;
  ScanResult& m_result;
  std::vector<fs::path> m_fenced;
  std::set<std::pair<dev_t, ino_t>> m_entered;
  std::set<std::string> m_keys;
};

}  // namespace

std::vector<fs::path> outside_sources(const config::Config& config, const std::vector<fs::path>& paths) {
  std::vector<fs::path> outside;
  for (const auto& wanted : paths) {
    auto start = fs::absolute(wanted).lexically_normal();
    bool covered = std::any_of(config.sources.begin(), config.sources.end(), [&](const config::Source& source) {
      auto root = config.in_project(source.path);
      return is_inside(start, root) || is_inside(root, start);
    });
    if (!covered) outside.push_back(start);
  }
  return outside;
}

bool is_inside(const fs::path& path, const fs::path& folder) {
  auto p = path.lexically_normal().string();
  auto f = folder.lexically_normal().string();
  while (f.size() > 1 && f.back() == '/') f.pop_back();
  return p == f || (p.size() > f.size() && p.starts_with(f) && p[f.size()] == '/');
}

bool is_scanned_folder(const config::Config& config, const fs::path& folder) {
  auto absolute = fs::absolute(folder).lexically_normal();
  auto name = absolute.filename().string();
  if (!name.empty() && name.front() == '.') return false;
  if (is_inside(absolute, config.state_dir())) return false;
  for (const auto& target : config.publish.targets)
    if (target.type == "local" && !target.path.empty() && is_inside(absolute, config.in_project(target.path)))
      return false;
  return !inside_publish_target(absolute);
}

bool is_source_file(const config::Config& config, const fs::path& file) {
  auto absolute = fs::absolute(file).lexically_normal();
  auto name = absolute.filename().string();
  if (name.empty() || name.front() == '.' || !is_scanned_folder(config, absolute.parent_path())) return false;
  for (const auto& source : config.sources) {
    auto root = config.in_project(source.path);
    if (absolute == root) return true;  // a source that is one file
    if (!is_inside(absolute, root)) continue;
    auto relative = absolute.lexically_relative(root).generic_string();
    if (!source.recursive && relative.find('/') != std::string::npos) continue;
    // Hidden folders between the source and the file are never entered.
    bool hidden = false;
    for (const auto& part : absolute.parent_path().lexically_relative(root))
      if (part != "." && part.string().front() == '.') hidden = true;
    if (hidden) continue;
    if (matches_any(source.include, relative) && !matches_any(source.exclude, relative)) return true;
  }
  return false;
}

std::string catalog_key(const config::Config& config, const fs::path& absolute) {
  if (is_inside(absolute, config.project_dir)) return absolute.lexically_relative(config.project_dir).generic_string();
  return absolute.lexically_normal().generic_string();
}

ScanResult scan_sources(const config::Config& config, const std::vector<fs::path>& paths) {
  ScanResult result;
  Walker walker(config, result);
  for (const auto& source : config.sources) {
    auto root = config.in_project(source.path);
    if (paths.empty()) {
      if (walker.walk_source(source, root, root)) result.roots.push_back(root);
      continue;
    }
    for (const auto& wanted : paths) {
      auto start = fs::absolute(wanted).lexically_normal();
      if (!is_inside(start, root) && !is_inside(root, start)) continue;
      auto from = is_inside(start, root) ? start : root;
      if (walker.walk_source(source, root, from)) result.roots.push_back(from);
    }
  }

  std::sort(result.files.begin(), result.files.end(),
            [](const FoundFile& a, const FoundFile& b) { return a.key < b.key; });
  return result;
}

}  // namespace wsp::pipeline
