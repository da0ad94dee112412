#pragma once
// Where a gallery is published: a folder on this machine now, an S3-compatible
// store later, behind one interface. A target only ever writes and removes the
// paths it is given, each checked with check_publish_path first, so that no name
// from a file or the config reaches outside it.

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

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
  // the new one, never a part.
  virtual util::Status put(std::string_view path, std::string_view bytes) = 0;
  // Removes `path`; success when it is already gone.
  virtual util::Status remove(std::string_view path) = 0;
};

// A folder on this machine, created as needed. Writes go to a temporary name
// beside the file, are flushed and renamed, and the folder is flushed; folders
// on the way are created, never followed when they are symbolic links (so a
// link inside the target cannot lead a write outside it); folders left empty
// by a removal are removed. Temporary files of a process that died mid-write
// are removed when the target is opened. Fails when `root` cannot be created.
util::Result<std::unique_ptr<PublishTarget>> open_local_target(std::string name, const std::filesystem::path& root);

}  // namespace wsp::publish
