/// @file
/// Fuzz target utf8: Utf8Validator fed in input-chosen chunks and one byte at a time must agree
/// with is_valid_utf8 on the whole payload and with a strict RFC 3629 reference decoder written
/// here, and must fail at the same first bad byte whatever the split.
///
/// Options byte: unused.

#include "fuzz_reference.hpp"
#include "fuzz_support.hpp"
#include "fuzz_targets.hpp"

#include <nexios/detail/utf8.hpp>

#include <string>
#include <vector>

namespace {

using nexios::detail::Utf8Validator;
using nexios::fuzz::Chunk;

constexpr std::size_t npos = nexios::fuzz::npos;
using Reference = nexios::fuzz::Utf8Reference;

struct Run {
  std::size_t fail_begin = npos;  // the chunk whose feed returned false
  std::size_t fail_end = npos;
};

Run feed_chunks(const std::uint8_t* s, const std::vector<Chunk>& chunks, const Reference& ref, bool check_prefixes) {
  Run run;
  Utf8Validator v;
  std::size_t checked = 0;
  for (const Chunk& c : chunks) {
    // A heap copy per chunk so reads past its end are caught.
    const std::vector<std::uint8_t> buf(s + c.begin, s + c.end);
    const bool ok = v.feed(buf.data(), buf.size());
    if (!ok) {
      FUZZ_CHECK(v.failed() && !v.complete());
      if (run.fail_begin == npos) {
        run.fail_begin = c.begin;
        run.fail_end = c.end;
      }
      continue;  // keeps feeding: must stay failed
    }
    FUZZ_CHECK_MSG(run.fail_begin == npos, "feed succeeded after a failure");
    FUZZ_CHECK(!v.failed());
    FUZZ_CHECK_MSG(v.complete() == ref.boundary[c.end], "complete() at offset " + std::to_string(c.end));
    if (check_prefixes && checked < 32) {
      ++checked;
      const std::string_view prefix(reinterpret_cast<const char*>(s), c.end);
      FUZZ_CHECK(nexios::detail::is_valid_utf8(prefix) == ref.boundary[c.end]);
    }
  }
  if (run.fail_begin != npos) {
    // Stays failed after reset-free feeding of nothing, and reset() recovers.
    FUZZ_CHECK(!v.feed(nullptr, 0) && v.failed());
    v.reset();
    FUZZ_CHECK(v.complete() && !v.failed() && v.feed(reinterpret_cast<const std::uint8_t*>("ok"), 2));
  }
  return run;
}

}  // namespace

int fuzz_utf8(const std::uint8_t* data, std::size_t size) {
  const auto in = nexios::fuzz::decode_input(data, size);
  const std::uint8_t* s = in.payload.data();
  const std::size_t n = in.payload.size();
  const Reference ref = nexios::fuzz::reference_utf8(s, n);
  const bool valid = ref.first_bad == npos && ref.boundary[n];

  FUZZ_CHECK_MSG(nexios::detail::is_valid_utf8(in.payload_view()) == valid, nexios::fuzz::printable(in.payload_view()));

  const Run at_once = feed_chunks(s, nexios::fuzz::whole(n), ref, false);
  const Run by_byte = feed_chunks(s, nexios::fuzz::bytewise(n), ref, false);
  const Run chunked = feed_chunks(s, nexios::fuzz::make_chunks(n, in.schedule), ref, true);

  if (ref.first_bad == npos) {
    FUZZ_CHECK(at_once.fail_begin == npos && by_byte.fail_begin == npos && chunked.fail_begin == npos);
  } else {
    FUZZ_CHECK(at_once.fail_begin == 0);
    FUZZ_CHECK_MSG(by_byte.fail_begin == ref.first_bad,
                   "validator fails at " + std::to_string(by_byte.fail_begin) + ", reference at " +
                       std::to_string(ref.first_bad));
    FUZZ_CHECK(chunked.fail_begin <= ref.first_bad && ref.first_bad < chunked.fail_end);
  }
  return 0;
}
