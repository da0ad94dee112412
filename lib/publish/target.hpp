#pragma once
// Where a gallery is published: a folder on this machine or an S3-compatible
// store (s3_target.hpp), behind one interface. A target only ever writes and removes the
// paths it is given, each checked with check_publish_path first, so that no name
// from a file or the config reaches outside it.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <span>
#include <string_view>
#include <vector>

#include "util/result.hpp"

namespace wsp::publish {

class PublishTarget {
public:
  virtual ~PublishTarget() = default;

  // The target's name in the config ("site").
  virtual const std::string& name() const = 0;
  // Where `path` is seen once published, for messages: a file path or a URL.
  virtual std::string location(std::string_view path) const = 0;

  // Puts `bytes` at `path`, replacing what is there: readers see the old file or
  // the new one, never a part. Only for a file the tool published there.
  virtual util::Status put(std::string_view path, std::string_view bytes) = 0;
  // Puts `bytes` at `path` where the tool has published nothing: a file already
  // there is someone else's and is left as it is (an error with os_error
  // EEXIST), unless it holds these very bytes (a put that landed before a kill
  // stopped its record).
  virtual util::Status put_new(std::string_view path, std::string_view bytes) = 0;
  // Removes `path`; success when it is already gone.
  virtual util::Status remove(std::string_view path) = 0;
  // Removes every path, in as few requests as the target allows; one status per path.
  virtual std::vector<util::Status> remove_all(std::span<const std::string> paths) {
    std::vector<util::Status> results;
    for (const auto& path : paths) results.push_back(remove(path));
    return results;
  }
  // Puts like put (or put_new when `only_new`) and calls `done` with the
  // outcome, from any thread, possibly before returning; a remote target has
  // up to concurrency() of them in flight at once.
  virtual void put_async(std::string path, std::string bytes, bool only_new, std::function<void(util::Status)> done) {
    done(only_new ? put_new(path, bytes) : put(path, bytes));
  }
  // Puts the file `source` like put_async, where it must still hash to
  // `sha256` (else nothing is put and `done` gets why). A remote target reads
  // it as it sends it, so that a large original is never held in memory.
  virtual void put_file_async(std::string path, std::filesystem::path source, std::string sha256, bool only_new,
                              std::function<void(util::Status)> done);
  virtual std::size_t concurrency() const { return 1; }
  // Aborts the unfinished uploads the target keeps (multipart, on a store)
  // that are not of one of `uploading` (path and SHA-256): their file changed
  // or is no longer published. Gives one failure per upload that could not be.
  virtual std::vector<util::Status> abort_stale_uploads(std::span<const std::pair<std::string, std::string>> uploading) {
    (void)uploading;
    return {};
  }
  // The requests sent to a remote store so far (retries included); 0 for a folder.
  virtual std::int64_t requests() const { return 0; }
};

// Why a file to publish is refused: it no longer hashes to what was recorded of it.
util::Status changed_since_recorded(const std::filesystem::path& source);

// The file that names a folder as a wsportfolio publish target, written into
// every local target before anything else: a small JSON object,
// {"wsportfolio": "publish target", "version": 1, "target": NAME}.
inline constexpr std::string_view k_target_marker = ".wsportfolio-target.json";

// What a local target's folder is before publishing: not there or empty (the
// tool makes it its own), marked as a target by the tool, or someone else's.
enum class TargetFolder { fresh, marked, foreign };
util::Result<TargetFolder> inspect_local_target(const std::filesystem::path& root);

// Whether `folder` carries the marker of a publish target.
bool is_publish_target(const std::filesystem::path& folder);

// Whether to publish into a folder that has files but no marker.
enum class Adopt { no, yes };

// Why nothing may be published into `root`, a folder in the state `folder`,
// or success: a foreign folder only when adopted.
util::Status may_publish_into(const std::filesystem::path& root, TargetFolder folder, Adopt adopt);

// A folder on this machine, created as needed. Writes go to a temporary name
// beside the file, are flushed and renamed, and the folder is flushed; folders
// on the way are created, never followed when they are symbolic links (so a
// link inside the target cannot lead a write outside it); folders left empty
// by a removal are removed. Temporary files of a process that died mid-write
// are removed when the target is opened. A fresh folder gets the marker; a
// foreign one is refused unless `adopt`, which marks it and leaves its files
// alone. Fails when `root` cannot be created or marked, or is refused.
util::Result<std::unique_ptr<PublishTarget>> open_local_target(std::string name, const std::filesystem::path& root,
                                                               Adopt adopt = Adopt::no);

}  // namespace wsp::publish
