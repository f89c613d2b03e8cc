// Shared by the fuzz targets: the libFuzzer entry point's declaration and an
// invariant check that stops the run loudly.
//
// A fuzz target is one .cc file defining LLVMFuzzerTestOneInput. It is linked
// twice: with libFuzzer (-DREBOUND_FUZZ=ON, clang) to search for bad inputs,
// and with corpus_main.cc in every normal build, where ctest replays the
// stored corpus (seeds and every reproducer of a fixed bug) through it.
#ifndef REBOUND_TESTS_FUZZ_FUZZ_CHECK_H_
#define REBOUND_TESTS_FUZZ_FUZZ_CHECK_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

// Checks an invariant of the code under test. A violation is a bug as real
// as a crash, so it aborts: libFuzzer then saves the input as a reproducer,
// and the corpus replay test fails. Never compiled out.
#define FUZZ_CHECK(cond)                                                                  \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      std::fprintf(stderr, "%s:%d: invariant violated: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                       \
    }                                                                                     \
  } while (0)

#endif  // REBOUND_TESTS_FUZZ_FUZZ_CHECK_H_
