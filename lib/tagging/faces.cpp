#include "tagging/faces.hpp"

#include <algorithm>
#include <cmath>
#include <system_error>

#include <fmt/format.h>

namespace wsp::tagging {
namespace {

// Parts of the 68-point model: the eyes as the image shows them.
constexpr int k_left_eye = 36;
constexpr int k_right_eye = 42;

std::array<LandmarkPoint, 6> eye_of(const FaceLandmarks& face, int first) {
  std::array<LandmarkPoint, 6> eye;
  for (int i = 0; i < 6; ++i) eye[i] = face.points[static_cast<std::size_t>(first + i)];
  return eye;
}

double distance(const LandmarkPoint& a, const LandmarkPoint& b) { return std::hypot(a.x - b.x, a.y - b.y); }

}  // namespace

double eye_aspect_ratio(const std::array<LandmarkPoint, 6>& eye) {
  const double across = distance(eye[0], eye[3]);
  if (across <= 1e-9) return 0;
  return (distance(eye[1], eye[5]) + distance(eye[2], eye[4])) / (2 * across);
}

bool eyes_closed(double left_eye_ratio, double right_eye_ratio) {
  return (left_eye_ratio + right_eye_ratio) / 2 < k_closed_eye_ratio;
}

std::filesystem::path landmark_model_path() { return "/usr/share/dlib/shape_predictor_68_face_landmarks.dat"; }

bool landmark_model_installed() {
  std::error_code missing;
  return std::filesystem::is_regular_file(landmark_model_path(), missing);
}

util::Result<std::vector<Face>> find_faces(const Pixels& image) {
  auto found = face_landmarks(image);
  if (!found.ok()) return util::Error{found.message()};
  std::vector<Face> faces;
  const double long_edge = std::max(image.width, image.height);
  for (const auto& f : *found) {
    Face face{.left = f.left, .top = f.top, .width = f.width, .height = f.height};
    face.size = face.width / long_edge;
    face.left_eye = eye_aspect_ratio(eye_of(f, k_left_eye));
    face.right_eye = eye_aspect_ratio(eye_of(f, k_right_eye));
    face.eyes_closed = eyes_closed(face.left_eye, face.right_eye);
    face.sharpness = region_sharpness(image, face.left, face.top, face.width, face.height);
    faces.push_back(face);
  }
  std::stable_sort(faces.begin(), faces.end(), [](const Face& a, const Face& b) { return a.width > b.width; });
  return faces;
}

bool use_faces(const config::Config& config) {
  if (config.tagging.faces == "on") return true;
  if (config.tagging.faces == "off") return false;
  return landmark_model_installed();
}

std::string faces_setting(const config::Config& config) {
  if (config.tagging.faces != "auto") return config.tagging.faces;
  if (landmark_model_installed()) return "auto (on: " + landmark_model_path().string() + ")";
  return fmt::format("auto (off: the landmark model {} is not installed; Debian package libdlib-data)",
                     landmark_model_path().string());
}

}  // namespace wsp::tagging
