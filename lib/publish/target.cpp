#include "publish/target.hpp"

#include <fmt/format.h>

#include "util/files.hpp"
#include "util/hash.hpp"

namespace wsp::publish {

void PublishTarget::put_file_async(std::string path, std::filesystem::path source, std::string sha256, bool only_new,
                                   std::function<void(util::Status)> done) {
  auto mapped = util::MappedFile::open(source);
  if (!mapped) return done(util::Error{fmt::format("{}: cannot read: {}", source.string(), mapped.message())});
  const auto bytes = mapped->bytes();
  if (util::sha256_hex(bytes) != sha256) return done(changed_since_recorded(source));
  put_async(std::move(path), std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()), only_new,
            std::move(done));
}

util::Status changed_since_recorded(const std::filesystem::path& source) {
  return util::Error{fmt::format("{}: the file no longer matches its record; run `wsportfolio render`", source.string())};
}

}  // namespace wsp::publish
