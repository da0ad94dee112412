#include "temp_dir.hpp"
#include "util/files.hpp"
#include "util/hash.hpp"
#include "util/text.hpp"

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <vector>

// Fault injection at the system-call boundary: while armed, fsync of a folder
// fails as a disk or network share losing the write would make it fail. Files
// still sync, so only the folder's flush after the rename is hit.
std::atomic<bool> g_fail_folder_fsync{false};

extern "C" int fsync(int fd) {
  using Fsync = int (*)(int);
  static const auto real = reinterpret_cast<Fsync>(::dlsym(RTLD_NEXT, "fsync"));
  struct stat st {};
  if (g_fail_folder_fsync && ::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    errno = EIO;
    return -1;
  }
  return real(fd);
}

namespace {

namespace fs = std::filesystem;
using wsp::util::closest_match;
using wsp::util::glob_match;

using wsp::testing::TempDir;

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> names_in(const fs::path& folder) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(folder)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(GlobMatch, ExtensionIgnoresCase) {
  EXPECT_TRUE(glob_match("*.jpg", "IMG.JPG"));
  EXPECT_TRUE(glob_match("*.JPG", "img_0001.jpg"));
  EXPECT_TRUE(glob_match("*.jpeg", "DSC_0001.JpEg"));
  EXPECT_FALSE(glob_match("*.jpg", "IMG.JPEG"));
  EXPECT_FALSE(glob_match("*.jpg", "IMG.JPG.xmp"));
  EXPECT_FALSE(glob_match("*.jpg", "IMG.png"));
}

TEST(GlobMatch, SingleStarStaysInOneFolder) {
  EXPECT_TRUE(glob_match("*.jpg", "a.jpg"));
  EXPECT_FALSE(glob_match("*.jpg", "day1/a.jpg"));
  EXPECT_TRUE(glob_match("day1/*.jpg", "day1/a.jpg"));
  EXPECT_FALSE(glob_match("day1/*.jpg", "day1/sub/a.jpg"));
  EXPECT_TRUE(glob_match("*/*.jpg", "day1/a.jpg"));
}

TEST(GlobMatch, DoubleStarCrossesFolders) {
  EXPECT_TRUE(glob_match("**/*.jpg", "a/b/c/d.JPG"));
  EXPECT_TRUE(glob_match("**/*.jpg", "d.jpg"));  // "**/" also matches no folder at all
  EXPECT_TRUE(glob_match("day1/**", "day1/a/b.jpg"));
  EXPECT_FALSE(glob_match("day1/**", "day2/a/b.jpg"));
  EXPECT_TRUE(glob_match("**.jpg", "a/b.jpg"));
  EXPECT_FALSE(glob_match("**/*.jpg", "a/b/c.png"));
}

TEST(GlobMatch, RejectsFolderAtAnyDepth) {
  const char* pattern = "**/_rejects/**";
  EXPECT_TRUE(glob_match(pattern, "_rejects/x.jpg"));
  EXPECT_TRUE(glob_match(pattern, "day1/_rejects/x.jpg"));
  EXPECT_TRUE(glob_match(pattern, "a/b/_REJECTS/c/x.jpg"));
  EXPECT_FALSE(glob_match(pattern, "day1/rejects/x.jpg"));
  EXPECT_FALSE(glob_match(pattern, "day1/_rejects_old/x.jpg"));
  EXPECT_FALSE(glob_match(pattern, "day1/old_rejects/x.jpg"));
  EXPECT_FALSE(glob_match(pattern, "x_rejects.jpg"));
}

TEST(GlobMatch, QuestionMarkIsOneCharacterButNeverASlash) {
  EXPECT_TRUE(glob_match("IMG_????.jpg", "IMG_0001.JPG"));
  EXPECT_FALSE(glob_match("IMG_????.jpg", "IMG_001.jpg"));
  EXPECT_FALSE(glob_match("IMG_????.jpg", "IMG_00001.jpg"));
  EXPECT_FALSE(glob_match("a?b.jpg", "a/b.jpg"));
  EXPECT_TRUE(glob_match("a?b.jpg", "a_b.jpg"));
}

TEST(GlobMatch, CharacterClasses) {
  EXPECT_TRUE(glob_match("[abc].jpg", "b.jpg"));
  EXPECT_TRUE(glob_match("[abc].jpg", "B.JPG"));
  EXPECT_FALSE(glob_match("[abc].jpg", "d.jpg"));
  EXPECT_TRUE(glob_match("[!abc].jpg", "d.jpg"));
  EXPECT_FALSE(glob_match("[!abc].jpg", "a.jpg"));
  EXPECT_TRUE(glob_match("[^abc].jpg", "z.jpg"));
  EXPECT_TRUE(glob_match("[0-9]*.jpg", "5x.jpg"));
  EXPECT_FALSE(glob_match("[0-9]*.jpg", "x5.jpg"));
  EXPECT_TRUE(glob_match("IMG_[0-9][0-9].jpg", "img_42.jpg"));
  EXPECT_FALSE(glob_match("IMG_[0-9][0-9].jpg", "img_4x.jpg"));
  EXPECT_FALSE(glob_match("a[/]b", "a/b"));  // a class never matches the folder separator
}

TEST(GlobMatch, EmptyPatternAndPath) {
  EXPECT_TRUE(glob_match("", ""));
  EXPECT_FALSE(glob_match("", "a.jpg"));
  EXPECT_FALSE(glob_match("*.jpg", ""));
  EXPECT_TRUE(glob_match("*", "anything"));
  EXPECT_FALSE(glob_match("*", "any/thing"));
}

TEST(ClosestMatch, SuggestsAPlausibleTypo) {
  const std::vector<std::string> keys{"widths", "formats", "sharpen", "metadata", "watermark", "placeholder"};
  EXPECT_EQ(closest_match("sharpn", keys), std::optional<std::string>("sharpen"));
  EXPECT_EQ(closest_match("widts", keys), std::optional<std::string>("widths"));
  EXPECT_EQ(closest_match("watermakr", keys), std::optional<std::string>("watermark"));
}

TEST(ClosestMatch, NothingWhenTooFar) {
  const std::vector<std::string> keys{"widths", "formats", "sharpen"};
  EXPECT_EQ(closest_match("zzzzzzzzzz", keys), std::nullopt);
  EXPECT_EQ(closest_match("colour", keys), std::nullopt);
  EXPECT_EQ(closest_match("widths", std::vector<std::string>{}), std::nullopt);
}

TEST(ClosestMatch, PrefixOfAKnownKey) {
  const std::vector<std::string> keys{"model", "api_key_env", "api_key_file", "base_url"};
  EXPECT_EQ(closest_match("api_key", keys), std::optional<std::string>("api_key_env"));
}

TEST(Levenshtein, KnownDistances) {
  EXPECT_EQ(wsp::util::levenshtein("kitten", "sitting"), 3u);
  EXPECT_EQ(wsp::util::levenshtein("", "abc"), 3u);
  EXPECT_EQ(wsp::util::levenshtein("same", "same"), 0u);
}

TEST(Sha256, KnownDigests) {
  EXPECT_EQ(wsp::util::sha256_hex(std::string_view("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(wsp::util::sha256_hex(std::string_view("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const std::string text = "abc";
  std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
  EXPECT_EQ(wsp::util::sha256_hex(bytes), wsp::util::sha256_hex(std::string_view("abc")));
}

TEST(WriteFileAtomically, CreatesThenReplacesAndLeavesNoTemporary) {
  TempDir dir;
  const auto file = dir.path() / "manifest.json";
  ASSERT_TRUE(wsp::util::write_file_atomically(file, "first version, rather long content").ok());
  EXPECT_EQ(slurp(file), "first version, rather long content");
  ASSERT_TRUE(wsp::util::write_file_atomically(file, "second").ok());
  EXPECT_EQ(slurp(file), "second");  // replaced, not appended or partly overwritten
  EXPECT_EQ(names_in(dir.path()), std::vector<std::string>{"manifest.json"});
  ASSERT_TRUE(wsp::util::write_file_atomically(file, "").ok());
  EXPECT_EQ(slurp(file), "");
  EXPECT_EQ(names_in(dir.path()), std::vector<std::string>{"manifest.json"});
}

TEST(WriteFileAtomically, MissingFolderIsAnErrorNamingThePath) {
  TempDir dir;
  const auto file = dir.path() / "no-such-folder" / "out.txt";
  auto status = wsp::util::write_file_atomically(file, "x");
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("no-such-folder"), std::string::npos) << status.message();
  EXPECT_FALSE(fs::exists(file));
  EXPECT_EQ(names_in(dir.path()), std::vector<std::string>{});
}

// NAME_MAX (255 bytes) limits the final name; the temporary name, longer by
// its dot and suffix, must not make a legal name unwritable.
TEST(WriteFileAtomically, ANameOfTheFullLengthTheFolderAllowsIsWritten) {
  TempDir dir;
  const std::string longest = std::string(251, 'a') + ".jpg";
  ASSERT_EQ(longest.size(), 255u);
  const std::string other = std::string(251, 'a') + ".png";  // the same up to its last bytes
  for (const auto& name : {longest, other, std::string(238, 'b') + ".jpg"}) {
    SCOPED_TRACE(name.size());
    auto status = wsp::util::write_file_atomically(dir.path() / name, "photo " + name);
    ASSERT_TRUE(status.ok()) << status.message();
    EXPECT_EQ(slurp(dir.path() / name), "photo " + name);
  }
  EXPECT_EQ(names_in(dir.path()).size(), 3u) << "a temporary was left behind";
}

TEST(WriteFileAtomically, AFolderThatCannotBeFlushedAfterTheRenameIsAnError) {
  TempDir dir;
  const auto file = dir.path() / "manifest.json";
  g_fail_folder_fsync = true;
  auto status = wsp::util::write_file_atomically(file, "new");
  g_fail_folder_fsync = false;
  ASSERT_FALSE(status.ok()) << "the rename may not survive a power loss, and nobody was told";
  EXPECT_EQ(status.os_error(), EIO);
  EXPECT_NE(status.message().find(dir.path().string()), std::string::npos) << status.message();
  EXPECT_TRUE(wsp::util::write_file_atomically(file, "again").ok()) << "the fault stayed armed";
}

// A sidecar belongs to the photographer: replacing it keeps its mode and owner.
TEST(WriteFileAtomically, ReplacingAFileKeepsItsModeAndOwner) {
  TempDir dir;
  const auto file = dir.path() / "IMG_0001.xmp";
  ASSERT_TRUE(wsp::util::write_file_atomically(file, "old").ok());
  ASSERT_EQ(::chmod(file.c_str(), 0600), 0);
  const bool root = ::geteuid() == 0;
  if (root) {
    ASSERT_EQ(::chown(file.c_str(), 4321, 4322), 0);
  }
  struct stat before {};
  ASSERT_EQ(::stat(file.c_str(), &before), 0);

  ASSERT_TRUE(wsp::util::write_file_atomically(file, "new").ok());
  struct stat after {};
  ASSERT_EQ(::stat(file.c_str(), &after), 0);
  EXPECT_EQ(slurp(file), "new");
  EXPECT_NE(after.st_ino, before.st_ino) << "not replaced by a rename";
  EXPECT_EQ(after.st_mode & 07777, 0600u);
  EXPECT_EQ(after.st_uid, before.st_uid);
  EXPECT_EQ(after.st_gid, before.st_gid);
  if (root) {
    EXPECT_EQ(after.st_uid, 4321u);
  }
}

// What was read is replaced only while the file still holds it; a change made
// meanwhile (another program saving) is never overwritten.
TEST(ReplaceFileIfUnchanged, ReplacesOnlyWhatWasRead) {
  TempDir dir;
  const auto file = dir.path() / "IMG_0001.xmp";
  ASSERT_TRUE(wsp::util::write_file_atomically(file, "as read").ok());

  auto stale = wsp::util::replace_file_if_unchanged(file, "merged", std::string("something else"));
  ASSERT_TRUE(stale.ok()) << stale.message();
  EXPECT_FALSE(*stale);
  EXPECT_EQ(slurp(file), "as read");

  auto replaced = wsp::util::replace_file_if_unchanged(file, "merged", std::string("as read"));
  ASSERT_TRUE(replaced.ok()) << replaced.message();
  EXPECT_TRUE(*replaced);
  EXPECT_EQ(slurp(file), "merged");

  // Expected absent: a file that appeared meanwhile is left alone.
  auto appeared = wsp::util::replace_file_if_unchanged(file, "new", std::nullopt);
  ASSERT_TRUE(appeared.ok());
  EXPECT_FALSE(*appeared);
  EXPECT_EQ(slurp(file), "merged");
  const auto fresh = dir.path() / "IMG_0002.xmp";
  auto created = wsp::util::replace_file_if_unchanged(fresh, "new", std::nullopt);
  ASSERT_TRUE(created.ok());
  EXPECT_TRUE(*created);
  EXPECT_EQ(slurp(fresh), "new");
  EXPECT_EQ(names_in(dir.path()), (std::vector<std::string>{"IMG_0001.xmp", "IMG_0002.xmp"}));
}

// A process killed mid-write leaves its temporary; only the temporaries of
// processes that are gone are abandoned, never a write in progress.
TEST(AbandonedTemporaries, AreThoseOfProcessesThatAreGone) {
  TempDir dir;
  const pid_t gone = ::fork();
  ASSERT_GE(gone, 0);
  if (gone == 0) ::_exit(0);
  ASSERT_EQ(::waitpid(gone, nullptr, 0), gone);
  const std::vector<std::string> names{
      ".IMG_0001.xmp.tmp-" + std::to_string(gone),      // abandoned
      ".IMG_0002.xmp.tmp-" + std::to_string(::getpid()),  // this process's own
      ".IMG_0003.xmp.tmp-1",                              // pid 1 is alive
      "IMG_0004.xmp.tmp-" + std::to_string(gone),       // not hidden: not ours
      ".IMG_0005.xmp.tmp-x",                              // no pid
      "IMG_0006.xmp",
  };
  for (const auto& name : names) ASSERT_TRUE(wsp::util::write_file_atomically(dir.path() / name, "x").ok());
  EXPECT_EQ(wsp::util::abandoned_temporaries(dir.path()),
            std::vector<fs::path>{dir.path() / (".IMG_0001.xmp.tmp-" + std::to_string(gone))});
  EXPECT_TRUE(wsp::util::abandoned_temporaries(dir.path() / "missing").empty());
}

TEST(ReadTextFile, ReadsBytesAndNamesMissingFiles) {
  TempDir dir;
  const auto file = dir.path() / "a.txt";
  ASSERT_TRUE(wsp::util::write_file_atomically(file, std::string("line\n\0binary", 12)).ok());
  auto text = wsp::util::read_text_file(file);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, std::string("line\n\0binary", 12));
  auto missing = wsp::util::read_text_file(dir.path() / "missing.txt");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("missing.txt"), std::string::npos) << missing.message();
}

TEST(MappedFile, MapsWholeFileAndEmptyFiles) {
  TempDir dir;
  ASSERT_TRUE(wsp::util::write_file_atomically(dir.path() / "abc.bin", "abc").ok());
  ASSERT_TRUE(wsp::util::write_file_atomically(dir.path() / "empty.bin", "").ok());
  auto mapped = wsp::util::MappedFile::open(dir.path() / "abc.bin");
  ASSERT_TRUE(mapped.ok());
  EXPECT_EQ(wsp::util::sha256_hex(mapped->bytes()), wsp::util::sha256_hex(std::string_view("abc")));
  auto empty = wsp::util::MappedFile::open(dir.path() / "empty.bin");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->bytes().size(), 0u);
  EXPECT_FALSE(wsp::util::MappedFile::open(dir.path()).ok());  // a folder is not a regular file
  EXPECT_FALSE(wsp::util::MappedFile::open(dir.path() / "missing.bin").ok());
}

}  // namespace

// flock locks belong to an open file, so two FileLocks in one process conflict
// as two processes would.
TEST(FileLock, ASecondTakerIsToldWhoHoldsItUntilItIsReleased) {
  TempDir dir;
  const auto file = dir.path() / "watch.lock";
  using wsp::util::FileLock;
  {
    FileLock first(file, FileLock::Wait::no, "pid 1 on studio\n");
    ASSERT_TRUE(first.held());
    FileLock second(file, FileLock::Wait::no, "pid 2 on laptop\n");
    EXPECT_FALSE(second.held());
    EXPECT_EQ(second.holder(), "pid 1 on studio");
  }
  FileLock again(file, FileLock::Wait::no, "pid 3 on laptop\n");
  EXPECT_TRUE(again.held()) << "released when its holder went away";
}

TEST(FileLock, ReleasedLockLeavesNoNoteAndAnUnopenableFileThrows) {
  TempDir dir;
  const auto file = dir.path() / "publish.lock";
  using wsp::util::FileLock;
  { FileLock lock(file, FileLock::Wait::until_free, "pid 1\n"); }
  EXPECT_EQ(slurp(file), "") << "a note must never name a process that has finished";
  EXPECT_THROW(FileLock(dir.path() / "no-such-folder" / "x.lock", FileLock::Wait::no, ""), std::runtime_error);
}
