// The local target: a folder on this machine. Every path is walked one folder at
// a time from a descriptor of the root with O_NOFOLLOW, so that a symbolic link
// placed inside the target (by hand, or by another program) can never lead a
// write or a removal outside it, whatever happens between two checks.

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <regex>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include <fmt/format.h>

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

  util::Status put(std::string_view path, std::string_view bytes) override {
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
    if (::renameat(folder->get(), temp.c_str(), folder->get(), file.c_str()) != 0)
      return fail("cannot rename into place", errno);
    // The rename must survive a power loss before the catalog records the file.
    ::fsync(folder->get());
    return util::Status::success();
  }

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
    static const std::regex k_temporary(R"(\..+\.tmp-(\d+))");
    std::error_code error;
    for (fs::recursive_directory_iterator it(m_root, fs::directory_options::none, error), end; !error && it != end;
         it.increment(error)) {
      if (!it->is_regular_file(error) || it->is_symlink(error)) continue;
      std::smatch match;
      const std::string name = it->path().filename().string();
      if (!std::regex_match(name, match, k_temporary)) continue;
      const auto pid = static_cast<pid_t>(std::stol(match[1]));
      std::error_code ignored;
      if (pid != ::getpid() && ::kill(pid, 0) != 0 && errno == ESRCH) fs::remove(it->path(), ignored);
    }
  }

private:
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

util::Result<std::unique_ptr<PublishTarget>> open_local_target(std::string name, const fs::path& root) {
  std::error_code error;
  fs::create_directories(root, error);
  if (error || !fs::is_directory(root))
    return util::Error{fmt::format("{}: cannot create the target folder: {}", root.string(),
                                   error ? error.message() : "not a folder")};
  auto target = std::make_unique<LocalTarget>(std::move(name), root);
  target->remove_abandoned_temporaries();
  return std::unique_ptr<PublishTarget>(std::move(target));
}

}  // namespace wsp::publish
