// What the tagger concludes from an observation and a photo's facts: scenes
// from the timeline (time zones, camera clock corrections, edges), honest
// heuristics without one, keywords, localisable alt text, and the cache format.

#include "tagging/tagger.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace {

using namespace wsp::tagging;
using wsp::config::Config;

bool has(const std::vector<std::string>& words, const std::string& word) {
  return std::find(words.begin(), words.end(), word) != words.end();
}

Config paris_wedding() {
  Config config = wsp::config::parse_config(R"(
project: { timezone: Europe/Paris }
timeline:
  - { scene: getting_ready, from: "11:00", to: "13:30" }
  - { scene: ceremony,      from: "14:00", to: "14:45" }
  - { scene: reception,     from: "18:00", to: "02:00" }
cameras:
  - { serial: "083021002694", offset: "-00:04:07" }
)",
                                            "test.yaml");
  return config;
}

// A frame as ingest records it: EXIF wall time with the camera's own offset.
PhotoContext frame(const Config& config, const std::string& wall_time, const std::string& offset,
                   const std::string& serial = "032021001537") {
  PhotoContext photo;
  photo.header.width = 1200;
  photo.header.height = 800;
  photo.header.camera.capture_time = wall_time;
  photo.header.camera.capture_offset = offset;
  photo.header.camera.serial = serial;
  auto zone = TimeZone::load(config.project.timezone).value_or(TimeZone::utc());
  if (auto instant = capture_instant(photo.header.camera, zone, config.cameras)) {
    photo.capture_utc_ms = instant->utc_ms;
    photo.local_offset_seconds = zone.offset_at_utc(instant->utc_ms / 1000);
  }
  return photo;
}

Observation ivory_and_sage() {
  Observation seen;
  seen.palette = {{240, 234, 214, 0.55, "ivory"}, {156, 175, 136, 0.30, "sage"}, {20, 30, 70, 0.15, "navy"}};
  seen.scores.mean_luminance = 0.5;
  return seen;
}

TEST(Conclude, SceneComesFromTheTimelineInTheProjectsZone) {
  auto config = paris_wedding();
  auto c = conclude(ivory_and_sage(), frame(config, "2026-06-13T14:20:00", "+02:00"), config);
  EXPECT_EQ(c.scene, "ceremony");
  EXPECT_EQ(c.scene_basis, "timeline");
  EXPECT_GE(c.confidence, config.tagging.min_confidence);
}

TEST(Conclude, ACameraWithoutOffsetIsReadInTheProjectsZone) {
  auto config = paris_wedding();
  // 12:20 UTC written as local time by a camera set to Paris time without an offset tag.
  EXPECT_EQ(conclude(ivory_and_sage(), frame(config, "2026-06-13T14:20:00", ""), config).scene, "ceremony");
  // A camera left on UTC that wrote its offset is read correctly too.
  EXPECT_EQ(conclude(ivory_and_sage(), frame(config, "2026-06-13T12:20:00", "+00:00"), config).scene, "ceremony");
}

TEST(Conclude, TheConfiguredClockOffsetMovesAFastCameraBackIntoItsScene) {
  auto config = paris_wedding();
  // The R6 runs 4 min 7 s fast: its 14:02 is 13:58, before the ceremony.
  auto fast = conclude(ivory_and_sage(), frame(config, "2026-06-13T14:02:00", "+02:00", "083021002694"), config);
  EXPECT_NE(fast.scene_basis, "timeline");
  auto main_body = conclude(ivory_and_sage(), frame(config, "2026-06-13T14:02:00", "+02:00"), config);
  EXPECT_EQ(main_body.scene, "ceremony");
}

TEST(Conclude, EdgesOfTheScheduleAreLessCertain) {
  auto config = paris_wedding();
  auto edge = conclude(ivory_and_sage(), frame(config, "2026-06-13T13:28:00", "+02:00"), config);
  auto middle = conclude(ivory_and_sage(), frame(config, "2026-06-13T12:00:00", "+02:00"), config);
  EXPECT_EQ(edge.scene, "getting_ready");
  EXPECT_LT(edge.confidence, middle.confidence);
}

TEST(Conclude, AnEntryRunsPastMidnight) {
  auto config = paris_wedding();
  EXPECT_EQ(conclude(ivory_and_sage(), frame(config, "2026-06-14T01:10:00", "+02:00"), config).scene, "reception");
}

TEST(Conclude, OutsideTheTimelineHeuristicsAnswerBelowTheReviewThreshold) {
  auto config = paris_wedding();
  auto c = conclude(ivory_and_sage(), frame(config, "2026-06-13T16:30:00", "+02:00"), config);
  EXPECT_EQ(c.scene_basis, "heuristic");
  EXPECT_FALSE(c.scene.empty());
  EXPECT_LT(c.confidence, config.tagging.min_confidence);
}

TEST(Conclude, HeuristicsUseTheTimeOfDayAndTheLens) {
  Config config;  // no timeline
  config.project.timezone = "UTC";
  EXPECT_EQ(conclude(ivory_and_sage(), frame(config, "2026-06-13T10:00:00", "+00:00"), config).scene, "getting_ready");
  EXPECT_EQ(conclude(ivory_and_sage(), frame(config, "2026-06-13T21:00:00", "+00:00"), config).scene, "reception");
  auto portrait = frame(config, "2026-06-13T16:00:00", "+00:00");
  portrait.header.camera.focal_length_mm = 85;
  portrait.header.camera.aperture = 1.4;
  EXPECT_EQ(conclude(ivory_and_sage(), portrait, config).scene, "portrait");
  EXPECT_EQ(conclude(ivory_and_sage(), frame(config, "2026-06-13T16:00:00", "+00:00"), config).scene, "candid");
}

Face face_of(double size, bool closed = false) {
  Face face;
  face.width = face.height = static_cast<int>(size * 1200);
  face.size = size;
  face.left_eye = face.right_eye = closed ? 0.1 : 0.3;
  face.eyes_closed = closed;
  face.sharpness = 50;
  return face;
}

TEST(Conclude, FacesSharpenTheHeuristics) {
  Config config;  // no timeline
  config.project.timezone = "UTC";
  // 10:00 says getting ready by the hour alone; the faces say more.
  auto morning = frame(config, "2026-06-13T10:00:00", "+00:00");
  auto seen = ivory_and_sage();
  seen.faces = std::vector<Face>{face_of(0.25)};
  EXPECT_EQ(conclude(seen, morning, config).scene, "portrait") << "one large face";
  seen.faces = std::vector<Face>{face_of(0.18), face_of(0.16)};
  EXPECT_EQ(conclude(seen, morning, config).scene, "portrait") << "a couple close up";
  seen.faces = std::vector<Face>{face_of(0.05), face_of(0.04), face_of(0.04), face_of(0.03)};
  EXPECT_EQ(conclude(seen, morning, config).scene, "candid") << "many small faces";
  config.tagging.scenes.push_back("group");
  EXPECT_EQ(conclude(seen, morning, config).scene, "group") << "a group when the studio has that scene";
  // One small face: a guest in the background says nothing; the hour decides.
  seen.faces = std::vector<Face>{face_of(0.04)};
  EXPECT_EQ(conclude(seen, morning, config).scene, "getting_ready");
  // No face on a long lens wide open: rings, shoes, the dress.
  auto close = frame(config, "2026-06-13T16:00:00", "+00:00");
  close.header.camera.focal_length_mm = 100;
  close.header.camera.aperture = 2.8;
  seen.faces = std::vector<Face>{};
  EXPECT_EQ(conclude(seen, close, config).scene, "detail");
  // Without faces looked for, the lens alone still guesses a portrait.
  seen.faces.reset();
  EXPECT_EQ(conclude(seen, close, config).scene, "portrait");
  // And the faces' guesses stay below the review threshold.
  seen.faces = std::vector<Face>{face_of(0.25)};
  EXPECT_LT(conclude(seen, morning, config).confidence, config.tagging.min_confidence);
}

TEST(Conclude, ClosedEyesAreAKeywordAndFacesCountThePeople) {
  auto config = paris_wedding();
  auto seen = ivory_and_sage();
  seen.faces = std::vector<Face>{face_of(0.2), face_of(0.2, true)};
  seen.eyes_closed = true;
  auto c = conclude(seen, frame(config, "2026-06-13T14:20:00", "+02:00"), config);
  EXPECT_TRUE(has(c.keywords, "eyes closed"));
  EXPECT_TRUE(c.alt_text.ends_with(", 2 people")) << c.alt_text;
  seen.eyes_closed = false;
  EXPECT_FALSE(has(conclude(seen, frame(config, "2026-06-13T14:20:00", "+02:00"), config).keywords, "eyes closed"));
}

TEST(Conclude, HeuristicsOnlyChooseConfiguredScenes) {
  Config config;
  config.project.timezone = "UTC";
  config.tagging.scenes = {"ceremony", "party"};
  auto c = conclude(ivory_and_sage(), frame(config, "2026-06-13T10:00:00", "+00:00"), config);
  EXPECT_TRUE(c.scene.empty());
  EXPECT_EQ(c.confidence, 0.0);
}

TEST(Conclude, AProvidersSceneGuessIsUsedWhenNoTimelineEntryHolds) {
  Config config;
  config.project.timezone = "UTC";
  auto seen = ivory_and_sage();
  seen.scenes = {{"fireworks", 0.99}, {"detail", 0.8}};
  auto c = conclude(seen, frame(config, "2026-06-13T10:00:00", "+00:00"), config);
  EXPECT_EQ(c.scene, "detail");  // fireworks is not a configured scene
  EXPECT_EQ(c.scene_basis, "provider");
  EXPECT_DOUBLE_EQ(c.confidence, 0.8);
}

TEST(Conclude, KeywordsNameSceneShapeColoursAndExposureProblems) {
  auto config = paris_wedding();
  auto seen = ivory_and_sage();
  seen.scores.overexposed = true;
  auto c = conclude(seen, frame(config, "2026-06-13T14:20:00", "+02:00"), config);
  EXPECT_TRUE(has(c.keywords, "ceremony"));
  EXPECT_TRUE(has(c.keywords, "horizontal"));
  EXPECT_TRUE(has(c.keywords, "ivory"));
  EXPECT_TRUE(has(c.keywords, "sage"));
  EXPECT_TRUE(has(c.keywords, "overexposed"));
  EXPECT_FALSE(has(c.keywords, "underexposed"));
}

TEST(AltText, FollowsTheTemplate) {
  auto config = paris_wedding();
  auto c = conclude(ivory_and_sage(), frame(config, "2026-06-13T12:00:00", "+02:00"), config);
  EXPECT_EQ(c.alt_text, "Getting ready photo, horizontal, in ivory, sage and navy");
}

TEST(AltText, IsWordedInTheConfiguredLanguage) {
  Config config;
  config.tagging.alt_text = "{scene}, {orientation}, {colours}{people}";
  config.tagging.vocabulary = {{"ceremony", "Trauung"}, {"vertical", "Hochformat"}, {"ivory", "Elfenbein"},
                               {"sage", "Salbei"},      {"and", "und"},               {"people", "Personen"}};
  EXPECT_EQ(alt_text(config, "ceremony", "vertical", {"ivory", "sage"}, 2), "Trauung, Hochformat, Elfenbein und Salbei, 2 Personen");
}

TEST(AltText, WithoutASceneStartsCleanly) {
  Config config;
  EXPECT_EQ(alt_text(config, "", "vertical", {"navy"}, std::nullopt), "Photo, vertical, in navy");
}

TEST(Orientation, QuarterTurnsSwapTheShape) {
  wsp::imaging::PhotoHeader header;
  header.width = 6000;
  header.height = 4000;
  EXPECT_EQ(orientation_word(header), "horizontal");
  header.camera.orientation = 6;
  EXPECT_EQ(orientation_word(header), "vertical");
  header.height = 5900;
  EXPECT_EQ(orientation_word(header), "square");
}

TEST(NotableColours, DominantAlwaysThenOnlyLargeShares) {
  std::vector<PaletteColour> palette{{0, 0, 0, 0.5, "black"}, {1, 1, 1, 0.2, "navy"}, {2, 2, 2, 0.1, "gold"},
                                     {3, 3, 3, 0.1, "navy"},  {4, 4, 4, 0.1, "red"}};
  EXPECT_EQ(notable_colours(palette), (std::vector<std::string>{"black", "navy"}));
  EXPECT_EQ(notable_colours({{0, 0, 0, 0.1, "gold"}}), (std::vector<std::string>{"gold"}));
  EXPECT_TRUE(notable_colours({}).empty());
}

TEST(ObservationCache, RoundTripsEveryField) {
  Observation seen = ivory_and_sage();
  seen.scores.sharpness = 123.456789012345;
  seen.scores.clipped_highlights = 0.125;
  seen.scores.overexposed = true;
  seen.scores.exposure_error = 0.3;
  seen.phash = 0xfedcba9876543210ULL;
  seen.scenes = {{"detail", 0.7}};
  seen.labels = {"rings", "quote \" and \\ backslash"};
  seen.people = 3;
  seen.description = "Two rings on a hymn book";
  seen.eyes_closed = true;
  Face face;
  face.left = 10, face.top = 20, face.width = 64, face.height = 65;
  face.size = 0.125;
  face.left_eye = 0.11, face.right_eye = 0.13;
  face.eyes_closed = true;
  face.sharpness = 87.5;
  seen.faces = std::vector<Face>{face};
  auto back = observation_from_json(to_json(seen));
  ASSERT_TRUE(back.ok()) << back.message();
  EXPECT_DOUBLE_EQ(back->scores.sharpness, seen.scores.sharpness);
  EXPECT_DOUBLE_EQ(back->scores.clipped_highlights, 0.125);
  EXPECT_TRUE(back->scores.overexposed);
  EXPECT_EQ(back->phash, seen.phash);
  ASSERT_EQ(back->palette.size(), 3u);
  EXPECT_EQ(back->palette[1].name, "sage");
  EXPECT_EQ(back->palette[1].g, 175);
  EXPECT_EQ(back->scenes.front().scene, "detail");
  EXPECT_EQ(back->labels, seen.labels);
  EXPECT_EQ(back->people, 3);
  EXPECT_EQ(back->description, seen.description);
  EXPECT_EQ(back->eyes_closed, true);
  ASSERT_TRUE(back->faces && back->faces->size() == 1u);
  EXPECT_EQ(back->faces->front().height, 65);
  EXPECT_DOUBLE_EQ(back->faces->front().right_eye, 0.13);
  EXPECT_TRUE(back->faces->front().eyes_closed);
  EXPECT_EQ(to_json(*back), to_json(seen));
  // Faces never looked for and none found are different things.
  seen.faces = std::vector<Face>{};
  EXPECT_TRUE(observation_from_json(to_json(seen))->faces.has_value());
  seen.faces.reset();
  EXPECT_FALSE(observation_from_json(to_json(seen))->faces.has_value());
}

TEST(ObservationCache, UnreadableTextIsAnErrorNotACrash) {
  EXPECT_FALSE(observation_from_json("").ok());
  EXPECT_FALSE(observation_from_json("[1, 2]").ok());
  EXPECT_FALSE(observation_from_json("{\"sharpness\": \"sharp\"}").ok());
}

TEST(PaletteText, RoundTrips) {
  auto palette = ivory_and_sage().palette;
  auto back = palette_from_text(palette_text(palette));
  ASSERT_EQ(back.size(), palette.size());
  for (std::size_t i = 0; i < palette.size(); ++i) {
    EXPECT_EQ(back[i].name, palette[i].name);
    EXPECT_EQ(back[i].r, palette[i].r);
    EXPECT_NEAR(back[i].share, palette[i].share, 1e-4);
  }
}

TEST(LocalProvider, MeasuresThePixels) {
  auto provider = make_local_provider();
  Pixels grey{64, 48, std::vector<std::uint8_t>(64 * 48 * 3, 128)};
  auto answer = provider->ask(grey);
  ASSERT_TRUE(answer.observation);
  const auto& seen = answer.observation;
  EXPECT_FALSE(provider->remote());
  EXPECT_NEAR(seen->scores.mean_luminance, 128.0 / 255.0, 0.01);
  ASSERT_FALSE(seen->palette.empty());
  EXPECT_EQ(seen->palette.front().name, "grey");
  EXPECT_EQ(provider->name(), "local");
}

}  // namespace
