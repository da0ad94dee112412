#include "tagging/timeline.hpp"

#include <gtest/gtest.h>

#include <array>

#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using wsp::config::CameraClock;
using wsp::config::TimelineEntry;
using wsp::imaging::CameraFacts;
using wsp::tagging::ClockMatch;
using wsp::tagging::OffsetSource;
using wsp::tagging::TimedFrame;
using wsp::tagging::TimeZone;

constexpr std::int64_t k_hour = 3600;
// 2026-06-13T00:00:00Z, the wedding day; Paris is at +02:00 then.
constexpr std::int64_t k_wedding_day_utc = 1'781'308'800;
constexpr std::int64_t k_wedding_day_paris_midnight = k_wedding_day_utc - 2 * k_hour;
// The 2026 DST changes in the EU: 29 March and 25 October, both at 01:00 UTC.
constexpr std::int64_t k_spring_2026 = 1'774'746'000;
constexpr std::int64_t k_autumn_2026 = 1'792'890'000;

TimeZone paris() {
  auto zone = TimeZone::load("Europe/Paris");
  if (!zone) throw std::runtime_error("Europe/Paris is not in /usr/share/zoneinfo");
  return *zone;
}

// Milliseconds since 1970 of a Paris wall time on the wedding day (hours past 24 are the next day).
std::int64_t paris_wedding_ms(int hour, int minute, int second = 0) {
  return (k_wedding_day_paris_midnight + hour * k_hour + minute * 60 + second) * 1000;
}

// A TZif file: a version 1 block (32-bit times), and for version 2+ the same
// data with 64-bit times and a footer.
std::vector<std::uint8_t> make_tzif(char version, const std::vector<std::int64_t>& times,
                                    const std::vector<std::uint8_t>& types_of_transitions,
                                    const std::vector<std::int32_t>& type_offsets, const std::string& footer) {
  std::vector<std::uint8_t> out;
  auto put = [&](std::uint64_t value, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
  };
  auto block = [&](int time_size) {
    for (char c : std::string("TZif")) out.push_back(static_cast<std::uint8_t>(c));
    out.push_back(static_cast<std::uint8_t>(version));
    out.insert(out.end(), 15, 0);
    for (std::uint64_t count : {std::uint64_t{0}, std::uint64_t{0}, std::uint64_t{0}, std::uint64_t{times.size()},
                                std::uint64_t{type_offsets.size()}, std::uint64_t{4}})
      put(count, 4);
    for (std::int64_t t : times) put(static_cast<std::uint64_t>(t), time_size);
    for (std::uint8_t type : types_of_transitions) out.push_back(type);
    for (std::int32_t offset : type_offsets) {
      put(static_cast<std::uint32_t>(offset), 4);
      out.push_back(0);  // isdst
      out.push_back(0);  // abbreviation index
    }
    for (char c : std::string("ABC")) out.push_back(static_cast<std::uint8_t>(c));
    out.push_back(0);
  };
  block(4);
  if (version >= '2') {
    block(8);
    out.push_back('\n');
    for (char c : footer) out.push_back(static_cast<std::uint8_t>(c));
    out.push_back('\n');
  }
  return out;
}

TEST(TimeZoneTest, ParisIsOneHourAheadInWinterAndTwoInSummer) {
  auto zone = paris();
  EXPECT_EQ(zone.name(), "Europe/Paris");
  EXPECT_EQ(zone.offset_at_utc(1'768'478'400), 1 * k_hour);  // 2026-01-15T12:00Z
  EXPECT_EQ(zone.offset_at_utc(1'784'116'800), 2 * k_hour);  // 2026-07-15T12:00Z
  EXPECT_EQ(zone.offset_at_utc(k_wedding_day_utc), 2 * k_hour);
}

TEST(TimeZoneTest, ParisChangesAtTheExact2026TransitionInstants) {
  auto zone = paris();
  EXPECT_EQ(zone.offset_at_utc(k_spring_2026 - 1), 1 * k_hour);
  EXPECT_EQ(zone.offset_at_utc(k_spring_2026), 2 * k_hour);
  EXPECT_EQ(zone.offset_at_utc(k_autumn_2026 - 1), 2 * k_hour);
  EXPECT_EQ(zone.offset_at_utc(k_autumn_2026), 1 * k_hour);
}

TEST(TimeZoneTest, CivilTimeIsTheWallClockOfTheZone) {
  auto zone = paris();
  // 2026-03-29T00:59:59.500Z is 01:59:59 in Paris, one second before the clocks jump.
  auto before = zone.civil_time((k_spring_2026 - 1) * 1000 + 500);
  EXPECT_EQ((std::array{before.year, before.month, before.day, before.hour, before.minute, before.second}),
            (std::array{2026, 3, 29, 1, 59, 59}));
  auto after = zone.civil_time(k_spring_2026 * 1000);
  EXPECT_EQ((std::array{after.hour, after.minute, after.second}), (std::array{3, 0, 0}));
  // Late on New Year's Eve in UTC is already the next year in Paris.
  auto new_year = zone.civil_time(1'798'761'599'000);  // 2026-12-31T23:59:59Z
  EXPECT_EQ((std::array{new_year.year, new_year.month, new_year.day, new_year.hour}), (std::array{2027, 1, 1, 0}));
  // Before 1970 too.
  auto old = wsp::tagging::TimeZone::utc().civil_time(-1'500);  // 1969-12-31T23:59:58.5Z
  EXPECT_EQ((std::array{old.year, old.month, old.day, old.hour, old.minute, old.second}),
            (std::array{1969, 12, 31, 23, 59, 58}));
}

TEST(TimeZoneTest, FarFutureInstantsFollowTheFooterRule) {
  // The table of the zone file ends in 2037; 2100 comes from "CET-1CEST,M3.5.0,M10.5.0/3".
  auto zone = paris();
  constexpr std::int64_t k_spring_2100 = 4'109'878'800;  // 2100-03-28T01:00Z
  constexpr std::int64_t k_autumn_2100 = 4'128'627'600;  // 2100-10-31T01:00Z
  EXPECT_EQ(zone.offset_at_utc(k_spring_2100 - 1), 1 * k_hour);
  EXPECT_EQ(zone.offset_at_utc(k_spring_2100), 2 * k_hour);
  EXPECT_EQ(zone.offset_at_utc(4'118'083'200), 2 * k_hour);  // 2100-07-01
  EXPECT_EQ(zone.offset_at_utc(k_autumn_2100 - 1), 2 * k_hour);
  EXPECT_EQ(zone.offset_at_utc(k_autumn_2100), 1 * k_hour);
}

TEST(TimeZoneTest, FooterRulesWorkWestOfGreenwichAndSouthOfTheEquator) {
  auto new_york = TimeZone::load("America/New_York");
  auto sydney = TimeZone::load("Australia/Sydney");
  ASSERT_TRUE(new_york && sydney);
  constexpr std::int64_t k_new_york_spring_2100 = 4'108'690'800;  // 2100-03-14T07:00Z
  EXPECT_EQ(new_york->offset_at_utc(k_new_york_spring_2100 - 1), -5 * k_hour);
  EXPECT_EQ(new_york->offset_at_utc(k_new_york_spring_2100), -4 * k_hour);
  // "AEST-10AEDT,M10.1.0,M4.1.0/3": summer time spans the turn of the year.
  EXPECT_EQ(sydney->offset_at_utc(4'103'654'400), 11 * k_hour);  // 2100-01-15
  EXPECT_EQ(sydney->offset_at_utc(4'119'292'800), 10 * k_hour);  // 2100-07-15
}

TEST(TimeZoneTest, UtcNeedsNoFile) {
  auto zone = TimeZone::load("UTC");
  ASSERT_TRUE(zone);
  EXPECT_EQ(zone->offset_at_utc(k_spring_2026), 0);
  EXPECT_EQ(zone->utc_from_local(k_spring_2026), k_spring_2026);
  EXPECT_EQ(TimeZone::utc().offset_at_utc(-5'000'000'000), 0);
}

TEST(TimeZoneTest, UnknownOrUnsafeNamesAreNullopt) {
  EXPECT_FALSE(TimeZone::load("Mars/Olympus_Mons"));
  EXPECT_FALSE(TimeZone::load("Mars/Olympus_Mons"));  // cached failure, same answer
  EXPECT_FALSE(TimeZone::load(""));
  EXPECT_FALSE(TimeZone::load("Europe"));  // a folder of the database
  EXPECT_FALSE(TimeZone::load("../../etc/passwd"));
  EXPECT_FALSE(TimeZone::load("/usr/share/zoneinfo/Europe/Paris"));
  EXPECT_FALSE(TimeZone::load("zone.tab"));  // in the folder, but not a zone
}

TEST(TimeZoneTest, LocalWallTimeOutsideTransitionsMapsBack) {
  auto zone = paris();
  EXPECT_EQ(zone.utc_from_local(k_wedding_day_utc + 13 * k_hour), k_wedding_day_utc + 11 * k_hour);
  EXPECT_EQ(zone.utc_from_local(1'768'478'400 + k_hour), 1'768'478'400);  // 2026-01-15 13:00 local
}

TEST(TimeZoneTest, WallTimeInSpringGapIsShiftedForwardByTheGap) {
  auto zone = paris();
  // 2026-03-29 02:30 never happens in Paris: it reads as 03:30 CEST, 01:30 UTC.
  std::int64_t local = 1'774'742'400 + 2 * k_hour + 30 * 60;
  auto utc = zone.utc_from_local(local);
  ASSERT_TRUE(utc);
  EXPECT_EQ(*utc, 1'774'742'400 + k_hour + 30 * 60);
  EXPECT_EQ(*utc + zone.offset_at_utc(*utc), local + k_hour);
  // Either side of the gap maps normally.
  EXPECT_EQ(zone.utc_from_local(1'774'742'400 + 2 * k_hour - 1), k_spring_2026 - 1);
  EXPECT_EQ(zone.utc_from_local(1'774'742'400 + 3 * k_hour), k_spring_2026);
}

TEST(TimeZoneTest, WallTimeInAutumnOverlapTakesTheEarlierInstant) {
  auto zone = paris();
  // 2026-10-25 02:30 happens at 00:30 UTC (CEST) and again at 01:30 UTC (CET).
  std::int64_t local = 1'792'886'400 + 2 * k_hour + 30 * 60;
  EXPECT_EQ(zone.utc_from_local(local), 1'792'886'400 + 30 * 60);
  EXPECT_EQ(zone.utc_from_local(1'792'886'400 + 3 * k_hour), 1'792'886'400 + 2 * k_hour);
}

TEST(TimeZoneTest, LocalToUtcUsesTheFooterRuleInTheFarFuture) {
  auto zone = paris();
  std::int64_t midnight = 4'109'875'200;  // 2100-03-28, a spring-forward Sunday
  EXPECT_EQ(zone.utc_from_local(midnight + 2 * k_hour + 30 * 60), midnight + k_hour + 30 * 60);
  EXPECT_EQ(zone.utc_from_local(midnight + 12 * k_hour), midnight + 10 * k_hour);
}

TEST(TimeZoneTest, ReadsVersionOneFilesWithoutFooter) {
  // Type 0 (+01:00) until the transition, then type 1 (+02:00) for ever.
  auto bytes = make_tzif('\0', {1'000'000}, {1}, {3600, 7200}, "");
  auto zone = TimeZone::from_tzif("Test/V1", bytes);
  ASSERT_TRUE(zone);
  EXPECT_EQ(zone->offset_at_utc(999'999), 3600);
  EXPECT_EQ(zone->offset_at_utc(1'000'000), 7200);
  EXPECT_EQ(zone->offset_at_utc(4'000'000'000), 7200);
}

TEST(TimeZoneTest, FooterOnlyZoneMatchesTheFullTable) {
  auto bytes = make_tzif('2', {}, {}, {3600}, "CET-1CEST,M3.5.0,M10.5.0/3");
  auto slim = TimeZone::from_tzif("Test/Slim", bytes);
  ASSERT_TRUE(slim);
  auto full = paris();
  for (std::int64_t t = k_spring_2026 - 2 * k_hour; t < k_autumn_2026 + 2 * k_hour; t += 1800)
    ASSERT_EQ(slim->offset_at_utc(t), full.offset_at_utc(t)) << "at " << t;
  EXPECT_EQ(slim->utc_from_local(1'774'742'400 + 2 * k_hour + 30 * 60), 1'774'742'400 + k_hour + 30 * 60);
}

TEST(TimeZoneTest, FooterWithQuotedNamesAndJulianDays) {
  auto fixed = TimeZone::from_tzif("Test/Fixed", make_tzif('3', {}, {}, {12600}, "<+0330>-3:30"));
  ASSERT_TRUE(fixed);
  EXPECT_EQ(fixed->offset_at_utc(k_spring_2026), 3 * k_hour + 30 * 60);
  // DST from day 60 (1 March, leap day skipped) to zero-based day 300, at 02:00 local.
  auto julian = TimeZone::from_tzif("Test/Julian", make_tzif('3', {}, {}, {0}, "AAA0BBB,J60,300"));
  ASSERT_TRUE(julian);
  constexpr std::int64_t k_2026_03_01 = 1'772'323'200;
  EXPECT_EQ(julian->offset_at_utc(k_2026_03_01 + 2 * k_hour - 1), 0);
  EXPECT_EQ(julian->offset_at_utc(k_2026_03_01 + 2 * k_hour), k_hour);
}

TEST(TimeZoneTest, MalformedFilesAreRejected) {
  auto good = make_tzif('2', {1'000'000}, {0}, {3600}, "CET-1");
  ASSERT_TRUE(TimeZone::from_tzif("Test/Good", good));
  auto truncated = good;
  truncated.resize(truncated.size() - 12);
  EXPECT_FALSE(TimeZone::from_tzif("Test/Truncated", truncated));
  auto bad_magic = good;
  bad_magic[0] = 'X';
  EXPECT_FALSE(TimeZone::from_tzif("Test/Magic", bad_magic));
  EXPECT_FALSE(TimeZone::from_tzif("Test/Index", make_tzif('2', {1'000'000}, {5}, {3600}, "")));
  EXPECT_FALSE(TimeZone::from_tzif("Test/Order", make_tzif('2', {2'000'000, 1'000'000}, {0, 0}, {3600}, "")));
  EXPECT_FALSE(TimeZone::from_tzif("Test/Footer", make_tzif('2', {}, {}, {3600}, "CET-1CEST,M13.5.0,M10.5.0")));
}

TEST(TimeZoneTest, ConcurrentLoadsShareTheCache) {
  // Every zone loaded is kept until the end, so that a freed zone's memory
  // cannot be reused by a later load and pass for a shared one.
  std::vector<std::vector<TimeZone>> loaded(8);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&loaded, i] {
      for (int round = 0; round < 50; ++round)
        if (auto zone = TimeZone::load(i % 2 == 0 ? "Europe/Paris" : "America/New_York"))
          loaded[i].push_back(*zone);
    });
  }
  for (auto& thread : threads) thread.join();
  // name() is a field of the zone's rules: one address per name means one
  // copy of the rules, read once and shared by every load.
  std::map<std::string, std::set<const std::string*>> rules_of;
  for (int i = 0; i < 8; ++i) {
    ASSERT_EQ(loaded[i].size(), 50u) << "thread " << i;
    const std::int64_t expected = i % 2 == 0 ? 2 * k_hour : -4 * k_hour;
    for (const auto& zone : loaded[i]) {
      EXPECT_EQ(zone.offset_at_utc(k_wedding_day_utc), expected) << zone.name();
      rules_of[zone.name()].insert(&zone.name());
    }
  }
  ASSERT_EQ(rules_of.size(), 2u);
  for (const auto& [name, copies] : rules_of) EXPECT_EQ(copies.size(), 1u) << name << " was read more than once";
}

CameraFacts facts(std::string time, std::string offset = "", std::string serial = "", std::string model = "") {
  CameraFacts f;
  f.capture_time = std::move(time);
  f.capture_offset = std::move(offset);
  f.serial = std::move(serial);
  f.model = std::move(model);
  return f;
}

TEST(CaptureTimeTest, ExplicitOffsetWins) {
  auto zone = paris();
  auto instant = wsp::tagging::capture_instant(facts("2026-06-13T14:00:00.250", "+09:00"), zone, {});
  ASSERT_TRUE(instant);
  EXPECT_EQ(instant->utc_ms, (k_wedding_day_utc + 5 * k_hour) * 1000 + 250);
  EXPECT_EQ(instant->offset_source, OffsetSource::camera);
  EXPECT_EQ(instant->correction.matched_by, ClockMatch::none);
}

TEST(CaptureTimeTest, WithoutOffsetTheWallTimeIsReadInTheProjectZone) {
  auto zone = paris();
  auto instant = wsp::tagging::capture_instant(facts("2026-06-13T13:40:00"), zone, {});
  ASSERT_TRUE(instant);
  EXPECT_EQ(instant->utc_ms, (k_wedding_day_utc + 11 * k_hour + 40 * 60) * 1000);
  EXPECT_EQ(instant->offset_source, OffsetSource::project_zone);
  EXPECT_EQ(wsp::tagging::capture_utc_ms(facts("2026-06-13T13:40:00"), TimeZone::utc(), {}),
            (k_wedding_day_utc + 13 * k_hour + 40 * 60) * 1000);
  // An offset the camera wrote badly is no offset.
  EXPECT_EQ(wsp::tagging::capture_utc_ms(facts("2026-06-13T13:40:00", "+99:00"), zone, {}), instant->utc_ms);
  // A wall time in the spring gap moves forward by the gap.
  EXPECT_EQ(wsp::tagging::capture_utc_ms(facts("2026-03-29T02:30:00"), zone, {}),
            (1'774'742'400 + k_hour + 30 * 60) * 1000);
}

TEST(CaptureTimeTest, SerialCorrectionIsAddedToTheCameraTime) {
  auto zone = paris();
  std::vector<CameraClock> cameras{{"9000001", "", 7 * 60 + 30}};
  auto instant = wsp::tagging::capture_instant(facts("2026-06-13T13:40:00", "", "9000001", "X-T5"), zone, cameras);
  ASSERT_TRUE(instant);
  std::int64_t camera_ms = (k_wedding_day_utc + 11 * k_hour + 40 * 60) * 1000;
  EXPECT_EQ(instant->camera_utc_ms, camera_ms);
  EXPECT_EQ(instant->utc_ms, camera_ms + 450'000);
  EXPECT_EQ(instant->correction.matched_by, ClockMatch::serial);
  EXPECT_EQ(instant->correction.entry, 0u);
}

TEST(CaptureTimeTest, ModelCorrectionAppliesToBodiesWithoutASerialEntry) {
  auto zone = paris();
  std::vector<CameraClock> cameras{{"", "Canon EOS R5", -120}};
  auto camera = facts("2026-06-13T13:40:00", "+02:00", "123456", "Canon EOS R5");
  EXPECT_EQ(wsp::tagging::capture_utc_ms(camera, zone, cameras),
            (k_wedding_day_utc + 11 * k_hour + 40 * 60 - 120) * 1000);
  camera.model = "canon eos r5";
  EXPECT_EQ(wsp::tagging::clock_correction_for(camera, cameras).matched_by, ClockMatch::model);
  camera.model = "Canon EOS R6";
  EXPECT_EQ(wsp::tagging::clock_correction_for(camera, cameras).matched_by, ClockMatch::none);
}

TEST(CaptureTimeTest, SerialTakesPrecedenceOverModel) {
  std::vector<CameraClock> cameras{{"", "Canon EOS R5", -120}, {"777", "", 300}, {"888", "Canon EOS R5", 60}};
  auto correction =
      wsp::tagging::clock_correction_for(facts("2026-06-13T13:40:00", "", "777", "Canon EOS R5"), cameras);
  EXPECT_EQ(correction.matched_by, ClockMatch::serial);
  EXPECT_EQ(correction.entry, 1u);
  EXPECT_EQ(correction.offset_seconds, 300);
  // An entry with a serial describes that body only, not every body of its model.
  auto other_body = facts("2026-06-13T13:40:00", "", "999", "Canon EOS R5");
  std::vector<CameraClock> serial_first{{"888", "Canon EOS R5", 60}, {"", "Canon EOS R5", -120}};
  auto by_model = wsp::tagging::clock_correction_for(other_body, serial_first);
  EXPECT_EQ(by_model.matched_by, ClockMatch::model);
  EXPECT_EQ(by_model.entry, 1u);
  EXPECT_EQ(by_model.offset_seconds, -120);
  serial_first.pop_back();
  EXPECT_EQ(wsp::tagging::clock_correction_for(other_body, serial_first).matched_by, ClockMatch::none);
}

TEST(CaptureTimeTest, MissingOrInvalidTimesAreNullopt) {
  auto zone = paris();
  for (const char* bad : {"", "garbage", "2026-02-30T10:00:00", "2026-06-13T25:00:00", "0000-00-00T00:00:00",
                          "2026-06-13T13:40:00.", "2026-06-13T13:40:00Z", "2026:06:13 13:40:00"})
    EXPECT_FALSE(wsp::tagging::capture_utc_ms(facts(bad), zone, {})) << bad;
  EXPECT_TRUE(wsp::tagging::capture_utc_ms(facts("2026-06-13 13:40:00.5"), zone, {}));
}

std::vector<TimelineEntry> wedding_timeline() {
  // The first dance is listed first: overlaps are settled by start time, not list order.
  return {{"first_dance", 21 * 60, 21 * 60 + 30},
          {"getting_ready", 11 * 60, 13 * 60 + 30},
          {"ceremony", 13 * 60 + 30, 14 * 60 + 15},
          {"portrait", 16 * 60, 17 * 60},
          {"reception", 18 * 60, 2 * 60}};
}

std::string scene_at(const std::vector<TimelineEntry>& timeline, std::int64_t utc_ms, const TimeZone& zone) {
  auto match = wsp::tagging::scene_from_timeline(timeline, utc_ms, zone);
  return match ? match->scene : "(none)";
}

TEST(TimelineTest, FromIsInclusiveAndToIsExclusive) {
  auto zone = paris();
  auto timeline = wedding_timeline();
  EXPECT_EQ(scene_at(timeline, paris_wedding_ms(13, 29, 59), zone), "getting_ready");
  EXPECT_EQ(scene_at(timeline, paris_wedding_ms(13, 30), zone), "ceremony");
  EXPECT_EQ(scene_at(timeline, paris_wedding_ms(14, 14, 59), zone), "ceremony");
  EXPECT_EQ(scene_at(timeline, paris_wedding_ms(14, 15), zone), "(none)");
  EXPECT_EQ(scene_at(timeline, paris_wedding_ms(10, 59, 59), zone), "(none)");
  EXPECT_EQ(scene_at(timeline, paris_wedding_ms(11, 0), zone), "getting_ready");
}

TEST(TimelineTest, EntryRunsPastMidnight) {
  auto zone = paris();
  auto timeline = wedding_timeline();
  EXPECT_EQ(scene_at(timeline, paris_wedding_ms(23, 0), zone), "reception");
  EXPECT_EQ(scene_at(timeline, paris_wedding_ms(24, 0), zone), "reception");
  EXPECT_EQ(scene_at(timeline, paris_wedding_ms(25, 59, 59), zone), "reception");
  EXPECT_EQ(scene_at(timeline, paris_wedding_ms(26, 0), zone), "(none)");
}

TEST(TimelineTest, LaterStartingEntryWinsAnOverlap) {
  auto zone = paris();
  auto timeline = wedding_timeline();
  EXPECT_EQ(scene_at(timeline, paris_wedding_ms(20, 59), zone), "reception");
  EXPECT_EQ(scene_at(timeline, paris_wedding_ms(21, 10), zone), "first_dance");
  EXPECT_EQ(scene_at(timeline, paris_wedding_ms(21, 30), zone), "reception");
  // After midnight the reception started yesterday; an after-party started at 00:30 wins.
  timeline.push_back({"afterparty", 30, 3 * 60});
  EXPECT_EQ(scene_at(timeline, paris_wedding_ms(24, 15), zone), "reception");
  EXPECT_EQ(scene_at(timeline, paris_wedding_ms(25, 0), zone), "afterparty");
}

TEST(TimelineTest, ConfidenceIsLowerNearAnEdge) {
  auto zone = paris();
  auto timeline = wedding_timeline();
  auto confidence_at = [&](int hour, int minute) {
    auto match = wsp::tagging::scene_from_timeline(timeline, paris_wedding_ms(hour, minute), zone);
    return match ? match->confidence : -1.0;
  };
  EXPECT_DOUBLE_EQ(confidence_at(13, 50), wsp::tagging::k_timeline_confidence);
  EXPECT_DOUBLE_EQ(confidence_at(13, 32), wsp::tagging::k_timeline_edge_confidence);  // ceremony just began
  EXPECT_DOUBLE_EQ(confidence_at(13, 26), wsp::tagging::k_timeline_edge_confidence);  // ceremony about to begin
  EXPECT_DOUBLE_EQ(confidence_at(14, 12), wsp::tagging::k_timeline_edge_confidence);  // nothing after 14:15
  EXPECT_DOUBLE_EQ(confidence_at(21, 33), wsp::tagging::k_timeline_edge_confidence);  // first dance just ended
  EXPECT_DOUBLE_EQ(confidence_at(21, 45), wsp::tagging::k_timeline_confidence);
  EXPECT_DOUBLE_EQ(confidence_at(25, 57), wsp::tagging::k_timeline_edge_confidence);  // reception ends at 02:00
  EXPECT_LT(wsp::tagging::k_timeline_edge_confidence, wsp::tagging::k_timeline_confidence);
}

TEST(TimelineTest, AdjacentEntriesOfOneSceneAreNoEdge) {
  auto zone = paris();
  std::vector<TimelineEntry> timeline{{"reception", 18 * 60, 22 * 60}, {"reception", 22 * 60, 2 * 60}};
  auto match = wsp::tagging::scene_from_timeline(timeline, paris_wedding_ms(22, 1), zone);
  ASSERT_TRUE(match);
  EXPECT_EQ(match->scene, "reception");
  EXPECT_DOUBLE_EQ(match->confidence, wsp::tagging::k_timeline_confidence);
}

TEST(TimelineTest, ReadsTheWallClockOfTheProjectZone) {
  auto timeline = wedding_timeline();
  std::int64_t instant = (k_wedding_day_utc + 11 * k_hour + 40 * 60) * 1000;  // 13:40 in Paris
  EXPECT_EQ(scene_at(timeline, instant, paris()), "ceremony");
  EXPECT_EQ(scene_at(timeline, instant, TimeZone::utc()), "getting_ready");
  EXPECT_FALSE(wsp::tagging::scene_from_timeline({}, instant, paris()));
  EXPECT_FALSE(wsp::tagging::scene_from_timeline({{"empty", 600, 600}}, instant, paris()));
}

TEST(TimelineTest, CameraWithWrongClockLandsInTheRightSceneOnceCorrected) {
  auto zone = paris();
  auto timeline = wedding_timeline();
  // The second shooter's body runs 20 minutes slow: 13:20 on its clock is 13:40, mid-ceremony.
  auto frame = facts("2026-06-13T13:20:00", "", "9000001", "EOS R6");
  auto uncorrected = wsp::tagging::capture_utc_ms(frame, zone, {});
  ASSERT_TRUE(uncorrected);
  EXPECT_EQ(scene_at(timeline, *uncorrected, zone), "getting_ready");
  auto corrected = wsp::tagging::capture_utc_ms(frame, zone, {{"9000001", "", 20 * 60}});
  ASSERT_TRUE(corrected);
  auto match = wsp::tagging::scene_from_timeline(timeline, *corrected, zone);
  ASSERT_TRUE(match);
  EXPECT_EQ(match->scene, "ceremony");
  EXPECT_DOUBLE_EQ(match->confidence, wsp::tagging::k_timeline_confidence);
}

// Synthetic shoots for align-clocks: the reference body "A" fires bursts of 8
// frames at shared moments; other bodies shoot some of the same frames (a hash one
// bit away) at the same true instants, seen through their own wrong clocks.
class AlignClocksTest : public ::testing::Test {
protected:
  static constexpr int k_burst = 8;
  static constexpr std::int64_t k_burst_spacing_ms = 300;

  void SetUp() override {
    for (int hour : {12, 14, 17, 21}) {
      std::int64_t start = paris_wedding_ms(hour, 7);
      std::uint64_t base = m_random();
      for (int n = 0; n < k_burst; ++n) {
        // Frames of a burst differ from each other by 4 bits, from their twin by 1.
        std::uint64_t hash = base ^ (std::uint64_t{3} << (2 * n));
        m_moments.push_back({start + n * k_burst_spacing_ms, hash});
        m_frames.push_back({"A", start + n * k_burst_spacing_ms, hash});
      }
    }
    add_unrelated("A", 30);
  }

  // `camera` shot frames [first, last] of `moments` bursts from `first_moment` on,
  // with a clock `clock_error_s` off.
  void add_shared(const std::string& camera, int first, int last, std::int64_t clock_error_s, int moments = 4,
                  int first_moment = 0) {
    for (int moment = first_moment; moment < first_moment + moments; ++moment)
      for (int n = first; n <= last; ++n) {
        const auto& [true_ms, hash] = m_moments[static_cast<std::size_t>(moment * k_burst + n)];
        m_frames.push_back({camera, true_ms + 40 + clock_error_s * 1000, hash ^ (std::uint64_t{1} << 60)});
      }
  }

  void add_unrelated(const std::string& camera, int count) {
    std::uniform_int_distribution<std::int64_t> when(paris_wedding_ms(11, 0), paris_wedding_ms(25, 0));
    for (int i = 0; i < count; ++i) m_frames.push_back({camera, when(m_random), m_random()});
  }

  const wsp::tagging::ClockProposal* proposal_for(const wsp::tagging::ClockAlignment& alignment,
                                                  const std::string& camera) {
    for (const auto& proposal : alignment.proposals)
      if (proposal.camera == camera) return &proposal;
    return nullptr;
  }

  std::mt19937_64 m_random{20260613};
  std::vector<std::pair<std::int64_t, std::uint64_t>> m_moments;
  std::vector<TimedFrame> m_frames;
};

TEST_F(AlignClocksTest, FindsTheKnownOffsetOfEachCamera) {
  add_shared("B", 2, 5, -247);  // 247 s slow: needs +247
  add_unrelated("B", 10);
  add_shared("C", 0, 2, 95);  // 95 s fast: needs -95
  auto alignment = wsp::tagging::propose_clock_offsets(m_frames);
  EXPECT_EQ(alignment.reference_camera, "A");
  ASSERT_EQ(alignment.proposals.size(), 2u);
  EXPECT_TRUE(alignment.without_proposal.empty());

  const auto* b = proposal_for(alignment, "B");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->offset_seconds, 247);
  EXPECT_EQ(b->camera_frames, 26);
  EXPECT_EQ(b->matched_pairs, 16);
  EXPECT_EQ(b->moments, 4);
  EXPECT_EQ(b->runner_up_pairs, 0);
  EXPECT_GT(b->confidence, 0.8);
  EXPECT_LE(b->confidence, 1.0);
  ASSERT_FALSE(b->examples.empty());
  EXPECT_LE(b->examples.size(), 5u);
  for (const auto& pair : b->examples) {
    EXPECT_EQ(pair.corrected_utc_ms - pair.camera_utc_ms, 247'000);
    EXPECT_EQ(pair.corrected_utc_ms - pair.reference_utc_ms, 40);  // matched with its twin
    EXPECT_EQ(pair.hash_distance, 1);
  }

  const auto* c = proposal_for(alignment, "C");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->offset_seconds, -95);
  EXPECT_EQ(c->matched_pairs, 12);
}

TEST_F(AlignClocksTest, ProposesNothingForUnrelatedCameras) {
  add_unrelated("D", 40);
  auto alignment = wsp::tagging::propose_clock_offsets(m_frames);
  EXPECT_EQ(alignment.reference_camera, "A");
  EXPECT_TRUE(alignment.proposals.empty());
  ASSERT_EQ(alignment.without_proposal.size(), 1u);
  EXPECT_EQ(alignment.without_proposal[0], "D");
}

TEST_F(AlignClocksTest, FewerThanThreePairsProposeNothing) {
  add_shared("E", 3, 4, -247, 1);  // two frames of one burst
  auto alignment = wsp::tagging::propose_clock_offsets(m_frames);
  EXPECT_TRUE(alignment.proposals.empty());
  ASSERT_EQ(alignment.without_proposal.size(), 1u);
  add_shared("E", 3, 3, -247, 1, 2);  // a frame of another moment brings the evidence to the minimum
  alignment = wsp::tagging::propose_clock_offsets(m_frames);
  ASSERT_EQ(alignment.proposals.size(), 1u);
  EXPECT_EQ(alignment.proposals[0].offset_seconds, 247);
}

TEST_F(AlignClocksTest, OffsetsBeyondTwoHoursAreNotSearched) {
  add_shared("F", 0, 7, -3 * 3600);
  auto alignment = wsp::tagging::propose_clock_offsets(m_frames);
  EXPECT_TRUE(alignment.proposals.empty());
}

}  // namespace
