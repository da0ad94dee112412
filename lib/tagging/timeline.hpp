#pragma once
// Capture times and the wedding timeline: when a frame was taken (the camera's
// wall time, its UTC offset or the project's time zone, and the configured clock
// correction of that camera), which scene of the schedule that instant falls in,
// and proposals for clock corrections found by matching bursts of different
// cameras on the same moment (`tag align-clocks`).
//
// Time zones come from the system zone database (/usr/share/zoneinfo) through a
// small TZif reader: GCC 12 has no C++20 chrono time zones, and TZ/localtime are
// process-wide state that worker threads must not touch.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "imaging/exif.hpp"

namespace wsp::tagging {

struct ZoneRules;  // the parsed TZif data, defined in timeline.cpp

// An IANA time zone ("Europe/Paris"). Cheap to copy; immutable, so one zone can
// be shared by every worker thread.
// A wall-clock reading: what a clock in the zone showed at some instant.
struct CivilTime {
  int year = 1970;
  int month = 1;  // 1-12
  int day = 1;    // 1-31
  int hour = 0;
  int minute = 0;
  int second = 0;
};

class TimeZone {
public:
  // Loads /usr/share/zoneinfo/NAME (TZif versions 1 to 3; the 64-bit data of
  // version 2+ when present, and its POSIX TZ footer for instants after the last
  // transition). "UTC" needs no file. nullopt for an unknown or malformed zone or
  // a name that is not a plain zone name ("..", absolute paths). Loaded zones
  // (and failures) are cached for the life of the process; thread-safe.
  static std::optional<TimeZone> load(const std::string& name);

  // Parses TZif bytes directly (tests, fuzzing); not cached. nullopt when malformed.
  static std::optional<TimeZone> from_tzif(const std::string& name, std::span<const std::uint8_t> tzif);

  static TimeZone utc();

  const std::string& name() const;

  // Seconds to add to UTC to get local wall time at this instant (+3600 for Paris in winter).
  std::int64_t offset_at_utc(std::int64_t utc_seconds) const;

  // The local wall time at the instant `utc_ms` (milliseconds since the epoch).
  CivilTime civil_time(std::int64_t utc_ms) const;

  // The UTC instant of a local wall time, given as seconds since 1970-01-01T00:00
  // as if the wall time were UTC. A wall time that happens twice (autumn fall-back)
  // gives the earlier instant; one that never happens (spring-forward gap) is read
  // with the offset in force before the gap, so the result lands as far after the
  // gap's end as the wall time was after its start: Paris 2026-03-29 02:30 gives
  // 01:30 UTC, which is 03:30 local. nullopt only for wall times beyond about
  // +-30,000 years.
  std::optional<std::int64_t> utc_from_local(std::int64_t local_seconds) const;

private:
  explicit TimeZone(std::shared_ptr<const ZoneRules> rules) : m_rules(std::move(rules)) {}
  std::shared_ptr<const ZoneRules> m_rules;
};

enum class ClockMatch { none, serial, model };

// Which `cameras:` entry corrects a frame's clock. An entry with a serial number
// matches only that body; an entry with a model and no serial matches every body
// of that model (ASCII case-insensitive) that no serial entry claimed.
struct ClockCorrection {
  ClockMatch matched_by = ClockMatch::none;
  std::size_t entry = 0;   // index in the cameras list, when matched
  int offset_seconds = 0;  // added to the camera's time; 0 when none matched
};

ClockCorrection clock_correction_for(const imaging::CameraFacts& facts,
                                     const std::vector<config::CameraClock>& cameras);

enum class OffsetSource { camera, project_zone };

// A capture instant with how it was reached, for explaining results.
struct CaptureInstant {
  std::int64_t utc_ms = 0;         // after the clock correction
  std::int64_t camera_utc_ms = 0;  // what the camera's clock said, before the correction
  OffsetSource offset_source = OffsetSource::camera;
  ClockCorrection correction;
};

// The capture instant of a frame. The camera's wall time (capture_time,
// "YYYY-MM-DDTHH:MM:SS[.fff]") is read with the offset the camera wrote
// (capture_offset, "+HH:MM"), or in `project_zone` when it wrote none or an
// unreadable one; the clock correction is added to the wall time first, so a
// slow camera's frame near a DST change is read at the corrected wall time.
// nullopt when the capture time is missing or not a real date and time.
std::optional<CaptureInstant> capture_instant(const imaging::CameraFacts& facts, const TimeZone& project_zone,
                                              const std::vector<config::CameraClock>& cameras);

std::optional<std::int64_t> capture_utc_ms(const imaging::CameraFacts& facts, const TimeZone& project_zone,
                                           const std::vector<config::CameraClock>& cameras);

struct SceneMatch {
  std::string scene;
  double confidence = 0.0;
};

inline constexpr double k_timeline_confidence = 0.95;      // well inside an entry
inline constexpr double k_timeline_edge_confidence = 0.7;  // the scene changes within the margin
inline constexpr std::int64_t k_timeline_edge_margin_seconds = 300;

// The scene of the timeline entry holding the local wall time of `utc_ms` in
// `zone`. An entry holds [from, to): from inclusive, to exclusive; one with
// to < from runs past midnight; one with to == from is empty. When entries
// overlap, the one that started most recently before the instant wins (a first
// dance inside the reception), ties going to the later entry of the list.
// Confidence is k_timeline_confidence, or k_timeline_edge_confidence when the
// answer would differ somewhere within 5 minutes of wall time either side
// (a photographer's clock and a schedule are never exact). nullopt outside
// every entry.
std::optional<SceneMatch> scene_from_timeline(const std::vector<config::TimelineEntry>& timeline, std::int64_t utc_ms,
                                              const TimeZone& zone);

// A frame as `tag align-clocks` sees it.
struct TimedFrame {
  std::string camera;       // serial, or model when no serial
  std::int64_t utc_ms = 0;  // the capture instant as currently computed
  std::uint64_t phash = 0;  // 64-bit perceptual hash of the analysis image
};

inline constexpr int k_align_max_offset_seconds = 2 * 3600;  // offsets searched: +-2 h in 1 s steps
inline constexpr std::int64_t k_align_tolerance_ms = 2000;   // a frame "lands on" a reference frame within 2 s
inline constexpr int k_align_max_hash_distance = 12;         // of 64 bits
inline constexpr int k_align_min_pairs = 3;                  // fewer: no proposal

// One frame of the camera matched with a reference frame at the proposed offset.
struct MatchedPair {
  std::int64_t camera_utc_ms = 0;     // before the proposed offset
  std::int64_t corrected_utc_ms = 0;  // after it
  std::int64_t reference_utc_ms = 0;
  int hash_distance = 0;
};

struct ClockProposal {
  std::string camera;
  int offset_seconds = 0;             // to add to this camera's times, like `cameras[].offset`
  int camera_frames = 0;              // frames of this camera considered
  int matched_pairs = 0;              // of its frames that land on a similar reference frame
  int moments = 0;                    // distinct moments (more than a minute apart) they come from
  int runner_up_pairs = 0;            // best count at an offset more than 10 s away
  std::vector<MatchedPair> examples;  // up to five, spread over the day
  double confidence = 0.0;            // 0..1: more pairs and moments raise it, a close runner-up lowers it
};

struct ClockAlignment {
  std::string reference_camera;               // the camera with the most frames (ties: smallest name)
  std::vector<ClockProposal> proposals;       // by camera name
  std::vector<std::string> without_proposal;  // cameras with fewer than k_align_min_pairs matches
};

// Proposes, for each camera other than the reference, the whole-second offset
// within +-2 h that makes the most of its frames land within 2 s of a reference
// frame whose hash is within 12 bits; among offsets that tie, the one with the
// closest hashes and then the smallest time residuals. The offsets are relative
// to the times given: pass times with the configured corrections applied to get
// the further correction still needed.
ClockAlignment propose_clock_offsets(const std::vector<TimedFrame>& frames);

}  // namespace wsp::tagging
