#include "imaging/original.hpp"

#include <algorithm>
#include <array>

#include <fmt/format.h>
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"  // exiv2 0.27's std::auto_ptr
#include <exiv2/exiv2.hpp>
#pragma GCC diagnostic pop

#include "imaging/exiv2_toolkit.hpp"

namespace wsp::imaging {

namespace {

// Exif groups of the standard; any other (GPSInfo, MakerNote, Canon, Nikon3...) is removed whole.
constexpr std::array<std::string_view, 4> k_exif_groups{"Image", "Photo", "Iop", "Thumbnail"};
constexpr std::array<std::string_view, 6> k_identifying_exif{
    "Exif.Photo.BodySerialNumber", "Exif.Photo.LensSerialNumber", "Exif.Image.CameraSerialNumber",
    "Exif.Photo.CameraOwnerName",  "Exif.Photo.MakerNote",        "Exif.Image.GPSTag"};
constexpr std::array<std::string_view, 7> k_identifying_xmp{
    "Xmp.aux.SerialNumber",        "Xmp.aux.LensSerialNumber",   "Xmp.aux.OwnerName", "Xmp.exifEX.BodySerialNumber",
    "Xmp.exifEX.LensSerialNumber", "Xmp.exifEX.CameraOwnerName", "Xmp.exif.GPSVersionID"};

bool keeps(const config::RenderRecipe& recipe, std::string_view what) {
  return std::find(recipe.keep_metadata.begin(), recipe.keep_metadata.end(), what) != recipe.keep_metadata.end();
}

template <typename Data, typename Drop>
void erase_if(Data& data, Drop drop) {
  for (auto it = data.begin(); it != data.end();) it = drop(*it) ? data.erase(it) : std::next(it);
}

template <std::size_t N>
bool listed(const std::array<std::string_view, N>& keys, const std::string& key) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

}  // namespace

std::string original_policy(const config::RenderRecipe& recipe) {
  return fmt::format("v1 artist={} copyright={}", keeps(recipe, "artist"), keeps(recipe, "copyright"));
}

util::Status make_published_original(const std::filesystem::path& copy, const config::RenderRecipe& recipe) {
  const auto held = hold_exiv2();
  const bool artist = keeps(recipe, "artist"), copyright = keeps(recipe, "copyright");
  try {
    auto image = Exiv2::ImageFactory::open(copy.string());
    image->readMetadata();
    erase_if(image->exifData(), [&](const Exiv2::Exifdatum& datum) {
      const auto key = datum.key();
      if (std::find(k_exif_groups.begin(), k_exif_groups.end(), datum.groupName()) == k_exif_groups.end()) return true;
      if (listed(k_identifying_exif, key)) return true;
      return (!artist && key == "Exif.Image.Artist") || (!copyright && key == "Exif.Image.Copyright");
    });
    erase_if(image->xmpData(), [&](const Exiv2::Xmpdatum& datum) {
      const auto key = datum.key();
      if (key.starts_with("Xmp.exif.GPS") || listed(k_identifying_xmp, key)) return true;
      return (!artist && key.starts_with("Xmp.dc.creator")) || (!copyright && key.starts_with("Xmp.dc.rights"));
    });
    erase_if(image->iptcData(), [&](const Exiv2::Iptcdatum& datum) {
      const auto key = datum.key();
      return (!artist && key == "Iptc.Application2.Byline") || (!copyright && key == "Iptc.Application2.Copyright");
    });
    image->writeMetadata();
    return {};
  } catch (const Exiv2::AnyError& error) {
    return util::Error{fmt::format("its metadata cannot be rewritten: {}", error.what())};
  }
}

}  // namespace wsp::imaging
