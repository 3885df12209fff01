// Property tests: random message sequences encoded with the library's own encoder
// (encode_frame_header + apply_mask + encode_close_payload) parse back to the same messages, in
// random splits, for both roles.

#include <nexios/ws/frame.hpp>
#include <nexios/ws/frame_parser.hpp>

#include "frame_test_support.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace nexios::ws {
namespace {

using testing::Record;
using testing::rng;

struct Encoder {
  bool mask;
  std::string out;

  void frame(Opcode op, std::string_view payload, bool fin) {
    std::uint8_t head[max_frame_header_size];
    std::optional<std::array<std::uint8_t, 4>> key;
    if (mask) {
      key = testing::random_key();
    }
    const std::size_t n = encode_frame_header(head, op, payload.size(), fin, key);
    out.append(reinterpret_cast<const char*>(head), n);
    const std::size_t at = out.size();
    out.append(payload);
    if (key) {
      // Mask in random pieces, exercising the offset parameter.
      std::size_t done = 0;
      while (done < payload.size()) {
        const std::size_t piece = std::min<std::size_t>(payload.size() - done, 1 + rng()() % 50);
        apply_mask(reinterpret_cast<std::uint8_t*>(out.data() + at + done), piece, *key, done);
        done += piece;
      }
    }
  }
};

std::size_t random_size() {
  switch (rng()() % 8) {
    case 0:
      return 0;
    case 1:
      return 120 + rng()() % 12;  // around the 7/16-bit boundary
    case 2:
      return 65530 + rng()() % 12;  // around the 16/64-bit boundary
    default:
      return rng()() % 400;
  }
}

std::string random_control_payload() {
  return testing::random_bytes(rng()() % 2 == 0 ? rng()() % 8 : rng()() % 126);
}

void round_trip(Role role, int iterations) {
  for (int iter = 0; iter < iterations; ++iter) {
    Encoder enc{role == Role::server, {}};
    std::vector<Record> expected;
    const int messages = 1 + static_cast<int>(rng()() % 6);
    for (int m = 0; m < messages; ++m) {
      if (rng()() % 4 == 0) {
        const Opcode op = rng()() % 2 == 0 ? Opcode::ping : Opcode::pong;
        const std::string p = random_control_payload();
        enc.frame(op, p, true);
        expected.push_back(testing::control(op, p));
      }
      const Opcode op = rng()() % 2 == 0 ? Opcode::text : Opcode::binary;
      const std::size_t size = random_size();
      const std::string payload = op == Opcode::text ? testing::random_utf8(size) : testing::random_bytes(size);
      // Fragment at random points (possibly empty fragments), with control frames in between.
      const std::size_t fragments = 1 + rng()() % 4;
      std::vector<std::size_t> cuts;
      for (std::size_t f = 1; f < fragments; ++f) {
        cuts.push_back(size == 0 ? 0 : rng()() % (size + 1));
      }
      std::sort(cuts.begin(), cuts.end());
      cuts.push_back(size);
      std::size_t from = 0;
      for (std::size_t f = 0; f < cuts.size(); ++f) {
        const bool fin = f + 1 == cuts.size();
        enc.frame(f == 0 ? op : Opcode::continuation, std::string_view(payload).substr(from, cuts[f] - from), fin);
        from = cuts[f];
        if (!fin && rng()() % 3 == 0) {
          const std::string p = random_control_payload();
          enc.frame(Opcode::ping, p, true);
          expected.push_back(testing::control(Opcode::ping, p));
        }
      }
      expected.push_back(testing::message(op, payload));
    }
    if (rng()() % 2 == 0) {
      std::uint8_t buf[max_control_payload];
      const std::size_t n = encode_close_payload(buf, 3000 + rng()() % 2000, testing::random_utf8(rng()() % 124));
      const std::string p(reinterpret_cast<const char*>(buf), n);
      enc.frame(Opcode::close, p, true);
      expected.push_back(testing::control(Opcode::close, p));
      enc.out += "ignored trailing bytes";
    }

    // Random chunking.
    std::vector<std::size_t> split;
    std::size_t at = 0;
    const std::size_t max_chunk = 1 + rng()() % (rng()() % 2 == 0 ? 16 : 5000);
    while (true) {
      at += rng()() % (max_chunk + 1);
      if (at >= enc.out.size()) {
        break;
      }
      split.push_back(at);
    }
    FrameParserOptions options;
    options.role = role;
    const auto r = testing::run(enc.out, split, options);
    ASSERT_FALSE(r.error) << r.error.message() << " iteration " << iter;
    ASSERT_EQ(r.records, expected) << "iteration " << iter;
  }
}

TEST(FrameRoundTrip, ClientToServer) {
  round_trip(Role::server, 300);
}

TEST(FrameRoundTrip, ServerToClient) {
  round_trip(Role::client, 300);
}

}  // namespace
}  // namespace nexios::ws
