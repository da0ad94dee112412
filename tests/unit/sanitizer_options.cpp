// The sanitizers' suppressions for the unit test binary, compiled in: ctest's
// ENVIRONMENT cannot carry two variables through gtest_discover_tests (its
// list separator splits them), and a test run by hand should behave the same.
// Only the library code outside this project is suppressed (tests/*.supp).

extern "C" const char* __ubsan_default_options() {
  return "suppressions=" WSP_SOURCE_DIR "/tests/ubsan.supp:print_stacktrace=1";
}

extern "C" const char* __lsan_default_options() { return "suppressions=" WSP_SOURCE_DIR "/tests/lsan.supp"; }
