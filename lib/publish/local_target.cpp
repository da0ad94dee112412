// The local target: a folder on this machine. Every path is walked one folder at
// a time from a descriptor of the root with O_NOFOLLOW, so that a symbolic link
// placed inside the target (by hand, or by another program) can never lead a
// write or a removal outside it, whatever happens between two checks.

#include <cerrno>
#include <cstdio>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <regex>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "publish/plan.hpp"
#include "publish/target.hpp"
#include "util/files.hpp"

namespace wsp::publish {

namespace fs = std::filesystem;

namespace {

// A file descriptor closed on scope exit.
class Descriptor {
public:
  explicit Descriptor(int fd = -1) : m_fd(fd) {}
  Descriptor(Descriptor&& other) noexcept : m_fd(std::exchange(other.m_fd, -1)) {}
  Descriptor& operator=(Descriptor&& other) noexcept {
    if (this != &other) {
      if (m_fd >= 0) ::close(m_fd);
      m_fd = std::exchange(other.m_fd, -1);
    }
    return *this;
  }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  ~Descriptor() {
    if (m_fd >= 0) ::close(m_fd);
  }
  int get() const { return m_fd; }
  explicit operator bool() const { return m_fd >= 0; }

private:
  int m_fd;
};

std::vector<std::string> components(std::string_view path) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= path.size()) {
    auto end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    parts.emplace_back(path.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

// ".index.html.tmp-4242": a file being written by process 4242.
const std::regex& temporary_name() {
  static const std::regex k_temporary(R"(\..+\.tmp-(\d+))");
  return k_temporary;
}

bool is_temporary(const std::string& name) { return std::regex_match(name, temporary_name()); }

util::Status write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t written = ::write(fd, bytes.data(), bytes.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      return util::Error{util::last_os_error(), errno};
    }
    bytes.remove_prefix(static_cast<std::size_t>(written));
  }
  return util::Status::success();
}

class LocalTarget final : public PublishTarget {
public:
  LocalTarget(std::string name, fs::path root) : m_name(std::move(name)), m_root(std::move(root)) {}

  const std::string& name() const override { return m_name; }
  std::string location(std::string_view path) const override { return (m_root / path).string(); }

  util::Status put(std::string_view path, std::string_view bytes) override { return write(path, bytes, false); }

  util::Status put_new(std::string_view path, std::string_view bytes) override { return write(path, bytes, true); }

  util::Status remove(std::string_view path) override {
    if (auto checked = check_publish_path(path); !checked) return checked;
    auto parts = components(path);
    // The folders on the way, so that those left empty can be removed after.
    std::vector<Descriptor> chain;
    chain.emplace_back(::open(m_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!chain.back()) {
      if (errno == ENOENT) return util::Status::success();
      return util::Error{fmt::format("{}: cannot open: {}", m_root.string(), util::last_os_error()), errno};
    }
    for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
      Descriptor next(::openat(chain.back().get(), parts[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!next) {
        if (errno == ENOENT) return util::Status::success();  // already gone
        return util::Error{fmt::format("{}: cannot remove: {} is not a folder of the target ({})", location(path),
                                       parts[i], util::last_os_error()),
                           errno};
      }
      chain.push_back(std::move(next));
    }
    // unlinkat never follows a link: a link at the path is removed, not what it points to.
    if (::unlinkat(chain.back().get(), parts.back().c_str(), 0) != 0 && errno != ENOENT)
      return util::Error{fmt::format("{}: cannot remove: {}", location(path), util::last_os_error()), errno};
    for (std::size_t i = parts.size() - 1; i > 0; --i) {
      // Fails, harmlessly, as soon as a folder still holds something.
      if (::unlinkat(chain[i - 1].get(), parts[i - 1].c_str(), AT_REMOVEDIR) != 0) break;
    }
    ::fsync(chain.front().get());
    return util::Status::success();
  }

  // Removes the temporary files of processes that died mid-write (a kill -9):
  // they are never trusted and would otherwise stay forever.
  void remove_abandoned_temporaries() {
    std::error_code error;
    for (fs::recursive_directory_iterator it(m_root, fs::directory_options::none, error), end; !error && it != end;
         it.increment(error)) {
      if (!it->is_regular_file(error) || it->is_symlink(error)) continue;
      std::smatch match;
      const std::string name = it->path().filename().string();
      if (!std::regex_match(name, match, temporary_name())) continue;
      const auto pid = static_cast<pid_t>(std::stol(match[1]));
      std::error_code ignored;
      if (pid != ::getpid() && ::kill(pid, 0) != 0 && errno == ESRCH) fs::remove(it->path(), ignored);
    }
  }

private:
  // Writes through a temporary file renamed into place. When `only_new`, the
  // rename never replaces what is there: a file the tool did not publish is
  // left alone, whatever appears between a check and the rename.
  util::Status write(std::string_view path, std::string_view bytes, bool only_new) {
    if (auto checked = check_publish_path(path); !checked) return checked;
    auto parts = components(path);
    auto folder = open_folder(path, parts, true);
    if (!folder) return folder.error();
    const std::string& file = parts.back();
    const std::string temp = fmt::format(".{}.tmp-{}", file, ::getpid());
    auto fail = [&](std::string_view what, int code) {
      ::unlinkat(folder->get(), temp.c_str(), 0);
      return util::Error{fmt::format("{}: {}: {}", location(path), what, std::strerror(code)), code};
    };
    Descriptor out(::openat(folder->get(), temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (!out) return fail("cannot create", errno);
    if (auto written = write_all(out.get(), bytes); !written) return fail("cannot write", written.os_error());
    if (::fsync(out.get()) != 0) return fail("cannot flush", errno);
    // A folder where the file should be is not ours to replace.
    struct stat st {};
    if (::fstatat(folder->get(), file.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
      return fail("cannot replace", EISDIR);
    if (only_new) {
      int renamed = ::renameat2(folder->get(), temp.c_str(), folder->get(), file.c_str(), RENAME_NOREPLACE);
      // A file system without RENAME_NOREPLACE: checked just before instead.
      if (renamed != 0 && errno == EINVAL) {
        renamed = ::fstatat(folder->get(), file.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0
                      ? (errno = EEXIST, -1)
                      : ::renameat(folder->get(), temp.c_str(), folder->get(), file.c_str());
      }
      if (renamed != 0 && errno == EEXIST) {
        ::unlinkat(folder->get(), temp.c_str(), 0);
        if (holds(folder->get(), file, bytes)) return util::Status::success();
        return util::Error{fmt::format("{}: not published by wsportfolio (it was there before); left as it is",
                                       location(path)),
                           EEXIST};
      }
      if (renamed != 0) return fail("cannot rename into place", errno);
    } else if (::renameat(folder->get(), temp.c_str(), folder->get(), file.c_str()) != 0) {
      return fail("cannot rename into place", errno);
    }
    // The rename must survive a power loss before the catalog records the file.
    ::fsync(folder->get());
    return util::Status::success();
  }

  // Whether `file` in `folder` is a regular file holding exactly `bytes` (never
  // through a link).
  static bool holds(int folder, const std::string& file, std::string_view bytes) {
    Descriptor in(::openat(folder, file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    struct stat st {};
    if (!in || ::fstat(in.get(), &st) != 0 || !S_ISREG(st.st_mode) ||
        static_cast<std::size_t>(st.st_size) != bytes.size())
      return false;
    std::string content(bytes.size(), '\0');
    std::size_t got = 0;
    while (got < content.size()) {
      ssize_t n = ::read(in.get(), content.data() + got, content.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      got += static_cast<std::size_t>(n);
    }
    return content == bytes;
  }

  // The folder holding `path`'s file, created as needed when `create`.
  util::Result<Descriptor> open_folder(std::string_view path, const std::vector<std::string>& parts, bool create) {
    Descriptor folder(::open(m_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!folder) return util::Error{fmt::format("{}: cannot open: {}", m_root.string(), util::last_os_error()), errno};
    for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
      const char* part = parts[i].c_str();
      if (create && ::mkdirat(folder.get(), part, 0755) != 0 && errno != EEXIST)
        return util::Error{fmt::format("{}: cannot create folder {}: {}", location(path), part, util::last_os_error()),
                           errno};
      Descriptor next(::openat(folder.get(), part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!next)
        return util::Error{fmt::format("{}: refused: {} is not a folder of the target (a symbolic link or a file)",
                                       location(path), part),
                           errno};
      folder = std::move(next);
    }
    return folder;
  }

  std::string m_name;
  fs::path m_root;
};

}  // namespace

bool is_publish_target(const fs::path& folder) {
  // A marker is a few dozen bytes; anything much larger is not one.
  constexpr std::uintmax_t k_largest_marker = 4096;
  const fs::path marker = folder / k_target_marker;
  std::error_code error;
  if (!fs::is_regular_file(fs::symlink_status(marker, error)) || fs::file_size(marker, error) > k_largest_marker || error)
    return false;
  auto text = util::read_text_file(marker);
  if (!text) return false;
  const auto json = nlohmann::json::parse(*text, nullptr, false);
  return json.is_object() && json.value("wsportfolio", "") == "publish target";
}

util::Result<TargetFolder> inspect_local_target(const fs::path& root) {
  struct stat st {};
  if (::lstat(root.c_str(), &st) != 0) {
    if (errno == ENOENT) return TargetFolder::fresh;
    return util::Error{fmt::format("{}: cannot open the target folder: {}", root.string(), util::last_os_error()), errno};
  }
  if (S_ISLNK(st.st_mode) && ::stat(root.c_str(), &st) != 0)
    return util::Error{fmt::format("{}: cannot open the target folder: {}", root.string(), util::last_os_error()), errno};
  if (!S_ISDIR(st.st_mode)) return util::Error{fmt::format("{}: the target is not a folder", root.string())};
  if (is_publish_target(root)) return TargetFolder::marked;
  std::error_code error;
  for (fs::directory_iterator it(root, error), end; !error && it != end; it.increment(error)) {
    // A temporary of a publish killed before it could write the marker is ours.
    if (!is_temporary(it->path().filename().string())) return TargetFolder::foreign;
  }
  if (error)
    return util::Error{fmt::format("{}: cannot read the target folder: {}", root.string(), error.message()),
                       error.value()};
  return TargetFolder::fresh;
}

util::Status may_publish_into(const fs::path& root, TargetFolder folder, Adopt adopt) {
  if (folder != TargetFolder::foreign || adopt == Adopt::yes) return util::Status::success();
  return util::Error{fmt::format("{}: this folder was not made by wsportfolio (it holds files but no {}); nothing was "
                                 "published to it. `wsportfolio publish --adopt` publishes into it, never overwriting "
                                 "the files already there",
                                 root.string(), k_target_marker)};
}

util::Result<std::unique_ptr<PublishTarget>> open_local_target(std::string name, const fs::path& root, Adopt adopt) {
  auto folder = inspect_local_target(root);
  if (!folder) return folder.error();
  if (auto allowed = may_publish_into(root, *folder, adopt); !allowed) return util::Error{allowed.message()};
  std::error_code error;
  fs::create_directories(root, error);
  if (error || !fs::is_directory(root))
    return util::Error{fmt::format("{}: cannot create the target folder: {}", root.string(),
                                   error ? error.message() : "not a folder")};
  auto target = std::make_unique<LocalTarget>(name, root);
  target->remove_abandoned_temporaries();
  // The marker goes first, so that no folder holds the tool's files without it.
  if (*folder != TargetFolder::marked) {
    const nlohmann::ordered_json marker = {{"wsportfolio", "publish target"}, {"version", 1}, {"target", name}};
    if (auto marked = target->put(k_target_marker, marker.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
        !marked)
      return util::Error{fmt::format("{}: cannot mark the folder as a publish target: {}", root.string(), marked.message())};
  }
  return std::unique_ptr<PublishTarget>(std::move(target));
}

}  // namespace wsp::publish
