// Faces and eyes found locally with dlib, on a real photograph of a person:
// scikit-image's public-domain portrait of astronaut Eileen Collins (NASA),
// which Debian ships in python3-skimage. It is read where the package puts it,
// never committed. The eye aspect ratio rule is tested on landmark sets.
//
// The closed-eye photo is made from the real one, honestly: the landmark
// model's own eye corners on the original locate each eye; an ellipse around
// the eye and its lids is painted over with her own skin, blended column by
// column from just above to just below it (as a lid would cover the eye), and
// a dark line two pixels thick, sagging a little, is drawn corner to corner
// where the lashes of a shut eye meet. Nothing about the detector's answer is
// assumed: the test asserts what it then measures.

#include "tagging/faces.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <span>
#include <thread>
#include <vector>

#include "imaging/render.hpp"
#include "require_tool.hpp"
#include "tagging/tagger.hpp"

namespace {

using wsp::tagging::LandmarkPoint;
using wsp::tagging::Pixels;

const std::filesystem::path k_astronaut = "/usr/lib/python3/dist-packages/skimage/data/astronaut.png";
const std::filesystem::path k_coffee = "/usr/lib/python3/dist-packages/skimage/data/coffee.png";

std::array<LandmarkPoint, 6> eye(double width, double opening) {
  // Corners on the x axis; the lids `opening` apart at a third and two thirds.
  return {{{0, 0},
           {width / 3, -opening / 2},
           {2 * width / 3, -opening / 2},
           {width, 0},
           {2 * width / 3, opening / 2},
           {width / 3, opening / 2}}};
}

TEST(EyeAspectRatio, OpenEyesRatherThanClosedOnes) {
  // An adult's open eye is about 30 px wide and 9 px high at this scale;
  // closed, the lids meet and the two lines stay about 2 px apart.
  EXPECT_NEAR(wsp::tagging::eye_aspect_ratio(eye(30, 9)), 0.30, 1e-9);
  EXPECT_NEAR(wsp::tagging::eye_aspect_ratio(eye(30, 2)), 2.0 / 30, 1e-9);
  EXPECT_GT(wsp::tagging::eye_aspect_ratio(eye(30, 9)), wsp::tagging::k_closed_eye_ratio);
  EXPECT_LT(wsp::tagging::eye_aspect_ratio(eye(30, 2)), wsp::tagging::k_closed_eye_ratio);
}

TEST(EyeAspectRatio, IndependentOfScaleAndPlace) {
  auto small = eye(30, 9), large = eye(120, 36);
  for (auto& p : large) p = {p.x + 400, p.y + 250};
  EXPECT_NEAR(wsp::tagging::eye_aspect_ratio(small), wsp::tagging::eye_aspect_ratio(large), 1e-9);
}

TEST(EyeAspectRatio, TiltedEyeMeasuresTheSame) {
  auto level = eye(30, 9), tilted = level;
  const double angle = 0.5;
  for (auto& p : tilted) p = {p.x * std::cos(angle) - p.y * std::sin(angle), p.x * std::sin(angle) + p.y * std::cos(angle)};
  EXPECT_NEAR(wsp::tagging::eye_aspect_ratio(level), wsp::tagging::eye_aspect_ratio(tilted), 1e-9);
}

TEST(EyeAspectRatio, CornersOnTopOfEachOtherGiveZero) {
  std::array<LandmarkPoint, 6> point{};
  EXPECT_EQ(wsp::tagging::eye_aspect_ratio(point), 0.0);
}

TEST(EyesClosed, BothEyesOnAverageUnderTheThreshold) {
  EXPECT_TRUE(wsp::tagging::eyes_closed(0.08, 0.12));
  EXPECT_FALSE(wsp::tagging::eyes_closed(0.28, 0.31));
  // A wink: one eye shut, the other open, is not a blink.
  EXPECT_FALSE(wsp::tagging::eyes_closed(0.08, 0.33));
  // The threshold itself counts as open.
  EXPECT_FALSE(wsp::tagging::eyes_closed(0.2, 0.2));
}

// Real photographs and the model come from Debian packages.
#define REQUIRE_FACE_PHOTOS()                                                                              \
  WSP_REQUIRE_TOOL(std::filesystem::exists(k_astronaut) && wsp::tagging::landmark_model_installed(),       \
                   "needs " << k_astronaut << " (python3-skimage) and " << wsp::tagging::landmark_model_path() \
                            << " (libdlib-data)")

Pixels read_photo(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto decoded = wsp::imaging::decode_rgb8(std::span(bytes.data(), bytes.size()));
  EXPECT_TRUE(decoded.ok()) << path << ": " << decoded.message();
  if (!decoded.ok()) return {};
  return {decoded->width, decoded->height, std::move(decoded->rgb)};
}

std::string described(const std::vector<wsp::tagging::Face>& faces) {
  std::string text;
  for (const auto& f : faces)
    text += "[box " + std::to_string(f.left) + "," + std::to_string(f.top) + " " + std::to_string(f.width) + "x" +
            std::to_string(f.height) + " eyes " + std::to_string(f.left_eye) + "/" + std::to_string(f.right_eye) +
            " sharpness " + std::to_string(f.sharpness) + "] ";
  return text;
}

std::uint8_t* pixel(Pixels& image, int x, int y) { return &image.rgb[(std::size_t(y) * image.width + x) * 3]; }

// Paints the eye whose landmarks start at `first` shut (see the file's comment).
void paint_eye_shut(Pixels& image, const wsp::tagging::FaceLandmarks& face, int first) {
  const auto& p = face.points;
  const LandmarkPoint inner = p[first], outer = p[first + 3];
  const double cx = (inner.x + outer.x) / 2, cy = (inner.y + outer.y) / 2;
  const double width = std::hypot(outer.x - inner.x, outer.y - inner.y);
  // The eye and its lids, an ellipse wider than the eye, become the skin
  // just above and below it, blended column by column, as a lid would cover it.
  const double rx = 0.75 * width, ry = 0.4 * width;
  const Pixels original = image;
  auto at = [&](int x, int y) { return &original.rgb[(std::size_t(y) * original.width + x) * 3]; };
  for (int x = int(cx - rx); x <= int(cx + rx); ++x) {
    const double dx = (x - cx) / rx;
    if (dx * dx >= 1) continue;
    const double half = ry * std::sqrt(1 - dx * dx);
    const int top = int(std::floor(cy - half)) - 1, bottom = int(std::ceil(cy + half)) + 1;
    for (int y = top + 1; y < bottom; ++y) {
      const double t = double(y - top) / (bottom - top);
      for (int c = 0; c < 3; ++c)
        pixel(image, x, y)[c] = static_cast<std::uint8_t>(std::lround((1 - t) * at(x, top)[c] + t * at(x, bottom)[c]));
    }
  }
  // The lash line of the shut lids, corner to corner, sagging a little.
  for (int i = 0; i <= int(2 * width); ++i) {
    const double t = i / (2 * width);
    const double x = inner.x + t * (outer.x - inner.x);
    const double y = inner.y + t * (outer.y - inner.y) + 0.12 * width * std::sin(t * 3.14159);
    for (int dy = 0; dy <= 1; ++dy) {
      std::uint8_t* lash = pixel(image, int(std::lround(x)), int(std::lround(y)) + dy);
      for (int c = 0; c < 3; ++c) lash[c] = static_cast<std::uint8_t>(lash[c] * 0.3);
    }
  }
}

Pixels astronaut_with_eyes_shut() {
  Pixels image = read_photo(k_astronaut);
  auto faces = wsp::tagging::face_landmarks(image);
  EXPECT_TRUE(faces.ok() && faces->size() == 1u);
  if (!faces.ok() || faces->empty()) return image;
  paint_eye_shut(image, faces->front(), 36);
  paint_eye_shut(image, faces->front(), 42);
  return image;
}

// Box-blurs every channel with radius 1: a frame where the camera moved a little.
Pixels softened(const Pixels& image) {
  Pixels out = image;
  for (int y = 1; y + 1 < image.height; ++y)
    for (int x = 1; x + 1 < image.width; ++x)
      for (int c = 0; c < 3; ++c) {
        int sum = 0;
        for (int dy = -1; dy <= 1; ++dy)
          for (int dx = -1; dx <= 1; ++dx) sum += image.rgb[(std::size_t(y + dy) * image.width + x + dx) * 3 + c];
        out.rgb[(std::size_t(y) * image.width + x) * 3 + c] = static_cast<std::uint8_t>(sum / 9);
      }
  return out;
}

TEST(Faces, TheAstronautsFaceIsFoundWithEyesOpen) {
  REQUIRE_FACE_PHOTOS();
  const Pixels photo = read_photo(k_astronaut);
  auto faces = wsp::tagging::find_faces(photo);
  ASSERT_TRUE(faces.ok()) << faces.message();
  ASSERT_EQ(faces->size(), 1u) << described(*faces);
  const auto& face = faces->front();
  // Her face is in the upper left third of the 512 px square.
  EXPECT_GT(face.size, 0.12);
  EXPECT_LT(face.size, 0.5);
  EXPECT_LT(face.left + face.width / 2, photo.width / 2);
  EXPECT_LT(face.top + face.height / 2, photo.height / 2);
  EXPECT_GT(face.left_eye, wsp::tagging::k_closed_eye_ratio);
  EXPECT_GT(face.right_eye, wsp::tagging::k_closed_eye_ratio);
  EXPECT_FALSE(face.eyes_closed);
  EXPECT_GT(face.sharpness, 0);
}

TEST(Faces, EyesPaintedShutAreFoundClosed) {
  REQUIRE_FACE_PHOTOS();
  const Pixels shut = astronaut_with_eyes_shut();
  auto faces = wsp::tagging::find_faces(shut);
  ASSERT_TRUE(faces.ok()) << faces.message();
  ASSERT_EQ(faces->size(), 1u) << "the face is still found with its eyes painted over: " << described(*faces);
  EXPECT_LT(faces->front().left_eye, wsp::tagging::k_closed_eye_ratio);
  EXPECT_LT(faces->front().right_eye, wsp::tagging::k_closed_eye_ratio);
  EXPECT_TRUE(faces->front().eyes_closed);
}

TEST(Faces, ARoundBadgeIsNoFace) {
  REQUIRE_FACE_PHOTOS();
  // The mission patch on her suit looks enough like a face to the detector
  // on the doubled image to score just above its own threshold of 0.
  auto found = wsp::tagging::face_landmarks(read_photo(k_astronaut));
  ASSERT_TRUE(found.ok()) << found.message();
  for (const auto& face : *found) {
    EXPECT_GE(face.score, 0.2);
    EXPECT_LT(face.top, 200) << "only her face, in the upper part of the photo";
  }
}

TEST(Faces, APhotoWithoutPeopleHasNoFace) {
  REQUIRE_FACE_PHOTOS();
  WSP_REQUIRE_TOOL(std::filesystem::exists(k_coffee), "needs " << k_coffee << " (python3-skimage)");
  auto faces = wsp::tagging::find_faces(read_photo(k_coffee));
  ASSERT_TRUE(faces.ok()) << faces.message();
  EXPECT_TRUE(faces->empty());
}

TEST(Faces, TheModelIsReadOnceWhateverTheThreads) {
  REQUIRE_FACE_PHOTOS();
  const Pixels photo = read_photo(k_astronaut);
  std::vector<std::thread> threads;
  std::vector<int> found(4, -1);
  std::vector<int> closed(4, -1);
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&, i] {
      auto faces = wsp::tagging::find_faces(photo);
      if (!faces.ok()) return;
      found[i] = static_cast<int>(faces->size());
      closed[i] = faces->empty() ? -1 : faces->front().eyes_closed;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(found, std::vector<int>(4, 1));
  EXPECT_EQ(closed, std::vector<int>(4, 0));
  EXPECT_EQ(wsp::tagging::landmark_model_loads(), 1);
}

TEST(Faces, InABurstTheFrameWithClosedEyesLosesTheBestPick) {
  REQUIRE_FACE_PHOTOS();
  // Frame 1: eyes open, a little soft. Frame 2: sharp, but the eyes are shut.
  const Pixels open = softened(read_photo(k_astronaut));
  const Pixels shut = astronaut_with_eyes_shut();
  auto with_faces = wsp::tagging::make_local_provider(true);
  auto without_faces = wsp::tagging::make_local_provider(false);
  auto frames_from = [&](wsp::tagging::Provider& provider) {
    std::vector<wsp::tagging::FrameFacts> frames;
    std::int64_t id = 1;
    for (const Pixels* frame : {&open, &shut}) {
      auto answer = provider.ask(*frame);
      EXPECT_TRUE(answer.observation) << answer.failure;
      if (!answer.observation) return frames;
      const auto& seen = *answer.observation;
      frames.push_back({id, 1'781'350'000'000 + 300 * id, seen.phash, seen.scores.sharpness, seen.scores.exposure_error,
                        seen.eyes_closed.value_or(false), wsp::tagging::face_sharpness(seen)});
      ++id;
    }
    return frames;
  };
  auto blind = wsp::tagging::group_near_duplicates(frames_from(*without_faces));
  ASSERT_EQ(blind.size(), 1u) << "the two frames are one burst";
  EXPECT_EQ(blind[0].best, 2) << "by sharpness alone the frame with shut eyes would be kept";
  auto seeing = wsp::tagging::group_near_duplicates(frames_from(*with_faces));
  ASSERT_EQ(seeing.size(), 1u);
  EXPECT_EQ(seeing[0].best, 1) << "with faces, the frame with open eyes is kept";
}

}  // namespace
