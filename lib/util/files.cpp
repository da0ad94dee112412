#include "util/files.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <functional>
#include <sstream>
#include <sys/file.h>
#include <sys/mman.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "util/hash.hpp"

namespace wsp::util {

std::string last_os_error() { return std::strerror(errno); }

Result<MappedFile> MappedFile::open(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error{last_os_error()};
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    auto message = last_os_error();
    ::close(fd);
    return Error{message};
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Error{"not a regular file"};
  }
  if (st.st_size == 0) {
    ::close(fd);
    return MappedFile(nullptr, 0);
  }
  void* data = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
  auto map_error = data == MAP_FAILED ? last_os_error() : std::string();
  ::close(fd);
  if (data == MAP_FAILED) return Error{map_error};
  // The file is read front to back exactly once (hash), so tell the kernel.
  ::madvise(data, static_cast<std::size_t>(st.st_size), MADV_SEQUENTIAL);
  return MappedFile(static_cast<const std::uint8_t*>(data), static_cast<std::size_t>(st.st_size));
}

MappedFile::MappedFile(MappedFile&& other) noexcept : m_data(other.m_data), m_size(other.m_size) {
  other.m_data = nullptr;
  other.m_size = 0;
}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    if (m_data) ::munmap(const_cast<std::uint8_t*>(m_data), m_size);
    m_data = other.m_data;
    m_size = other.m_size;
    other.m_data = nullptr;
    other.m_size = 0;
  }
  return *this;
}

MappedFile::~MappedFile() {
  if (m_data) ::munmap(const_cast<std::uint8_t*>(m_data), m_size);
}

namespace {

constexpr std::size_t k_name_max = 255;  // bytes in one name on Linux file systems

// ".NAME.tmp-PID", the form render's clean-up recognises as a temporary. A name
// near NAME_MAX keeps only its start, followed by a digest of the whole name, so
// that two long names differing only at the end never share a temporary.
std::string temporary_name(const std::string& name) {
  const std::string suffix = fmt::format(".tmp-{}", ::getpid());
  if (1 + name.size() + suffix.size() <= k_name_max) return "." + name + suffix;
  const std::string digest = "~" + sha256_hex(name).substr(0, 16);
  std::size_t keep = k_name_max - 1 - digest.size() - suffix.size();
  // Never half a UTF-8 character: the name stays readable in a listing.
  while (keep > 0 && (static_cast<unsigned char>(name[keep]) & 0xC0) == 0x80) --keep;
  return "." + name.substr(0, keep) + digest + suffix;
}

std::filesystem::path folder_of(const std::filesystem::path& path) {
  return path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
}

// The last step of every write: the flushed temporary renamed over `path`,
// then the folder flushed. The temporary is removed when it cannot be renamed.
Status rename_into_place(const std::filesystem::path& temp, const std::filesystem::path& path) {
  const auto folder = folder_of(path);
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    int code = errno;
    ::unlink(temp.c_str());
    return Error{fmt::format("{}: cannot rename into place: {}", path.string(), std::strerror(code)), code};
  }
  // The rename itself must survive a power loss before the catalog records it:
  // a folder that cannot be flushed is an error, though the file is in place.
  int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0 || ::fsync(dir) != 0) {
    int code = errno;
    if (dir >= 0) ::close(dir);
    return Error{fmt::format("{}: cannot flush the folder after renaming {} into place: {}", folder.string(),
                             path.filename().string(), std::strerror(code)),
                 code};
  }
  ::close(dir);
  return {};
}

// Reads `from` front to back in a small buffer, hashing it and, when `out` is
// an open descriptor, writing it there: the SHA-256 of the bytes read.
Result<std::string> stream_file(const std::filesystem::path& from, int out, const std::filesystem::path& to) {
  int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return Error{fmt::format("{}: cannot read: {}", from.string(), last_os_error()), errno};
  ::posix_fadvise(in, 0, 0, POSIX_FADV_SEQUENTIAL);
  auto fail = [&](const std::filesystem::path& file, std::string what, int code) {
    ::close(in);
    return Error{fmt::format("{}: {}: {}", file.string(), what, std::strerror(code)), code};
  };
  Sha256Stream hash;
  std::vector<std::uint8_t> buffer(1 << 20);
  for (;;) {
    const ssize_t got = ::read(in, buffer.data(), buffer.size());
    if (got < 0) {
      if (errno == EINTR) continue;
      return fail(from, "cannot read", errno);
    }
    if (got == 0) break;
    hash.add(std::span(buffer.data(), static_cast<std::size_t>(got)));
    for (ssize_t done = 0; out >= 0 && done < got;) {
      const ssize_t written = ::write(out, buffer.data() + done, static_cast<std::size_t>(got - done));
      if (written < 0) {
        if (errno == EINTR) continue;
        return fail(to, "cannot write", errno);
      }
      done += written;
    }
  }
  ::close(in);
  return hash.hex();
}

// The one way files are written: a temporary in the same folder, flushed;
// `still_wanted` (when given) is asked right before the rename, and false
// abandons the write; then the rename and the folder's flush.
Result<bool> write_through_temporary(const std::filesystem::path& path, std::string_view content,
                                     const std::function<Result<bool>()>& still_wanted) {
  auto temp = temporary_path(path);
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Error{fmt::format("{}: cannot create: {}", temp.string(), last_os_error()), errno};
  auto fail = [&](std::string what, int code) {
    ::close(fd);
    ::unlink(temp.c_str());
    return Error{fmt::format("{}: {}: {}", path.string(), what, std::strerror(code)), code};
  };
  // A file replaced keeps its owner and mode (a sidecar the photographer made
  // private stays private). Giving a file away takes root: without it the
  // owner is the writer's, as for any program saving a file.
  if (struct stat old {}; ::stat(path.c_str(), &old) == 0) {
    if (::fchown(fd, old.st_uid, old.st_gid) != 0 && errno != EPERM) return fail("cannot keep the owner", errno);
    if (::fchmod(fd, old.st_mode & 07777) != 0) return fail("cannot keep the mode", errno);
  }
  const char* cursor = content.data();
  std::size_t left = content.size();
  while (left > 0) {
    ssize_t written = ::write(fd, cursor, left);
    if (written < 0) {
      if (errno == EINTR) continue;
      return fail("cannot write", errno);
    }
    cursor += written;
    left -= static_cast<std::size_t>(written);
  }
  if (::fsync(fd) != 0) return fail("cannot flush", errno);
  int closed = ::close(fd);
  fd = -1;
  if (closed != 0) {
    int code = errno;
    ::unlink(temp.c_str());
    return Error{fmt::format("{}: cannot flush: {}", path.string(), std::strerror(code)), code};
  }
  if (still_wanted) {
    auto wanted = still_wanted();
    if (!wanted.ok() || !*wanted) {
      ::unlink(temp.c_str());
      return wanted;
    }
  }
  if (auto placed = rename_into_place(temp, path); !placed.ok()) return Error{placed.message(), placed.os_error()};
  return true;
}

}  // namespace

std::filesystem::path temporary_path(const std::filesystem::path& path) {
  return folder_of(path) / temporary_name(path.filename().string());
}

Status place_file_atomically(const std::filesystem::path& temporary, const std::filesystem::path& path) {
  int fd = ::open(temporary.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) {
    int code = errno;
    if (fd >= 0) ::close(fd);
    ::unlink(temporary.c_str());
    return Error{fmt::format("{}: cannot flush: {}", path.string(), std::strerror(code)), code};
  }
  ::close(fd);
  return rename_into_place(temporary, path);
}

Result<std::string> copy_file_hashed(const std::filesystem::path& from, const std::filesystem::path& to) {
  int out = ::open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) return Error{fmt::format("{}: cannot create: {}", to.string(), last_os_error()), errno};
  auto copied = stream_file(from, out, to);
  if (::close(out) != 0 && copied.ok()) {
    const int code = errno;
    return Error{fmt::format("{}: cannot write: {}", to.string(), std::strerror(code)), code};
  }
  return copied;
}

Result<std::string> sha256_of_file(const std::filesystem::path& path) { return stream_file(path, -1, {}); }

Status write_file_atomically(const std::filesystem::path& path, std::string_view content) {
  auto written = write_through_temporary(path, content, {});
  if (!written.ok()) return written.error();
  return {};
}

Result<bool> replace_file_if_unchanged(const std::filesystem::path& path, std::string_view content,
                                       const std::optional<std::string>& expected) {
  // Checked once the new content is flushed, the last moment before the
  // rename: a save by another program between the read and here is kept, and
  // the caller merges again. (POSIX has no compare-and-rename; what remains is
  // a window of one read.)
  return write_through_temporary(path, content, [&]() -> Result<bool> {
    std::error_code error;
    const bool exists = std::filesystem::exists(path, error);
    if (error) return Error{fmt::format("{}: {}", path.string(), error.message()), error.value()};
    if (!expected || !exists) return !expected && !exists;
    auto now = read_text_file(path);
    if (!now.ok()) return now.error();
    return *now == *expected;
  });
}

std::vector<std::filesystem::path> abandoned_temporaries(const std::filesystem::path& folder) {
  std::vector<std::filesystem::path> found;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(folder, error)) {
    const std::string name = entry.path().filename().string();
    const auto mark = name.rfind(".tmp-");
    if (name.size() < 2 || name[0] != '.' || mark == std::string::npos || mark == 0) continue;
    const std::string digits = name.substr(mark + 5);
    if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    const auto pid = static_cast<pid_t>(std::stol(digits));
    if (pid > 0 && pid != ::getpid() && ::kill(pid, 0) != 0 && errno == ESRCH) found.push_back(entry.path());
  }
  return found;
}

Result<std::string> read_text_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{fmt::format("{}: cannot read: {}", path.string(), last_os_error())};
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

FileLock::FileLock(const std::filesystem::path& file, Wait wait, std::string_view note) {
  m_fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (m_fd < 0) throw std::runtime_error(fmt::format("{}: cannot open the lock: {}", file.string(), last_os_error()));
  int taken;
  do {
    taken = ::flock(m_fd, wait == Wait::until_free ? LOCK_EX : LOCK_EX | LOCK_NB);
  } while (taken != 0 && errno == EINTR);
  m_held = taken == 0;
  if (!m_held) {
    char text[256] = {};
    const ssize_t length = ::pread(m_fd, text, sizeof(text) - 1, 0);
    m_holder.assign(text, length > 0 ? static_cast<std::size_t>(length) : 0);
    while (!m_holder.empty() && (m_holder.back() == '\n' || m_holder.back() == ' ')) m_holder.pop_back();
    return;
  }
  const bool noted = ::ftruncate(m_fd, 0) == 0 && ::pwrite(m_fd, note.data(), note.size(), 0) >= 0;
  (void)noted;  // without the note the lock holds all the same; a second process just cannot name us
}

FileLock::~FileLock() {
  // The note goes first, so that it never names a process that has finished;
  // closing releases the lock.
  const bool cleared = m_held && ::ftruncate(m_fd, 0) == 0;
  (void)cleared;
  ::close(m_fd);
}

}  // namespace wsp::util
