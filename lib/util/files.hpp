#pragma once
// File-system primitives with the guarantees the rest of the tool relies on:
// whole files are mapped once, and writes land atomically (temp, fsync, rename).

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.hpp"

namespace wsp::util {

// A read-only view of a whole file, mapped so that hashing and header parsing
// read each byte from disk once.
class MappedFile {
public:
  static Result<MappedFile> open(const std::filesystem::path& path);
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  std::span<const std::uint8_t> bytes() const { return {m_data, m_size}; }

private:
  MappedFile(const std::uint8_t* data, std::size_t size) : m_data(data), m_size(size) {}
  const std::uint8_t* m_data = nullptr;
  std::size_t m_size = 0;
};

// Writes `content` to `path` through a temporary name in the same folder, fsyncs
// the file, renames, then fsyncs the folder: readers see the old file or the
// new one, and an error means the new one may not survive a power loss. A
// file replaced keeps its mode and owner.
Status write_file_atomically(const std::filesystem::path& path, std::string_view content);

// The temporary name write_file_atomically writes `path` through
// (".NAME.tmp-PID" in its folder), for a file made there by other means and
// then put in place with place_file_atomically.
std::filesystem::path temporary_path(const std::filesystem::path& path);

// Puts `temporary`, a file in `path`'s folder, in place as write_file_atomically
// does: flushed, renamed over `path`, the folder flushed. On failure the
// temporary is removed.
Status place_file_atomically(const std::filesystem::path& temporary, const std::filesystem::path& path);

// Copies `from` to `to` (created or emptied) through a small buffer and gives
// the SHA-256 of the bytes copied, so that a file is read once to be both
// checked and copied. `to` is left as far as it got on failure.
Result<std::string> copy_file_hashed(const std::filesystem::path& from, const std::filesystem::path& to);

// The SHA-256 of a file read through a small buffer.
Result<std::string> sha256_of_file(const std::filesystem::path& path);

// As write_file_atomically, but only while `path` still holds `expected`
// (nullopt: while there is no file): false, and nothing written, when another
// program changed it since it was read, so that the caller merges again.
Result<bool> replace_file_if_unchanged(const std::filesystem::path& path, std::string_view content,
                                       const std::optional<std::string>& expected);

// The temporaries write_file_atomically left in `folder` when its process was
// killed: ".NAME.tmp-PID" where no process PID runs on this machine. Another
// process's write in progress is never among them.
std::vector<std::filesystem::path> abandoned_temporaries(const std::filesystem::path& folder);

Result<std::string> read_text_file(const std::filesystem::path& path);

// "strerror(errno)" for messages; a function so callers do not touch errno twice.
std::string last_os_error();

// An advisory lock on a file (flock), held while the object lives and released
// by the kernel if the process dies. Its holder writes `note` into the file
// ("pid 123 on studio-pc") so that a process finding it taken can say who has it.
class FileLock {
public:
  enum class Wait { until_free, no };
  // Opens (creating) `file` and takes the lock, waiting for it or not; throws
  // std::runtime_error when the file cannot be opened.
  FileLock(const std::filesystem::path& file, Wait wait, std::string_view note);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

  bool held() const { return m_held; }
  // When not held: the holder's note, empty if it left none.
  const std::string& holder() const { return m_holder; }

private:
  int m_fd = -1;
  bool m_held = false;
  std::string m_holder;
};

}  // namespace wsp::util
