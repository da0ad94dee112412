#pragma once
// Camera facts read from the EXIF and ICC blobs of an image header. Parsing is
// done here rather than through libvips' string renderings of the tags so that
// the values keep their types (rationals, offsets) and the parser can be fuzzed.

#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace wsp::imaging {

struct CameraFacts {
  int orientation = 1;                   // EXIF Orientation 1..8, 1 when absent or invalid
  std::string capture_time;              // "YYYY-MM-DDTHH:MM:SS[.fff]" from DateTimeOriginal (or DateTime)
  std::string capture_offset;            // "+HH:MM" from OffsetTimeOriginal, empty when the camera wrote none
  std::string make, model, serial;       // Make, Model, BodySerialNumber (trimmed)
  std::string owner;                     // CameraOwnerName / Artist-independent owner name
  std::string lens;                      // LensModel
  std::optional<double> focal_length_mm; // FocalLength
  std::optional<double> aperture;        // FNumber
  std::string shutter;                   // ExposureTime as photographers write it: "1/250", "2", "0.5"
  std::optional<int> iso;                // PhotographicSensitivity (ISOSpeedRatings)
  std::string artist, copyright;         // Artist, Copyright
  bool has_gps = false;                  // a GPS IFD with at least a latitude or longitude
};

// Parses a TIFF-structured EXIF block as libvips exposes it ("exif-data"): it may
// start with "Exif\0\0" or directly with the "II*\0"/"MM\0*" byte-order mark.
// Never reads outside the span; malformed parts are skipped, never fatal.
CameraFacts parse_exif(std::span<const std::uint8_t> exif);

// The human-readable description of an ICC profile ("Adobe RGB (1998)",
// "sRGB IEC61966-2.1", "Display P3"): the 'desc' tag, v2 'desc' or v4 'mluc'.
// Empty when the profile has none or is malformed.
std::string icc_description(std::span<const std::uint8_t> icc);

}  // namespace wsp::imaging
