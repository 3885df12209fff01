#include "app/fanout.hpp"

#include "transport/stats.hpp"

#include <boost/asio/async_result.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include <atomic>
#include <vector>

namespace nexios::detail {

namespace asio = boost::asio;

std::shared_ptr<const transport::SharedFrame> make_frame(ws::Opcode opcode, std::string_view payload) {
  auto f = std::make_shared<transport::SharedFrame>();
  std::uint8_t header[ws::max_frame_header_size];
  const std::size_t hlen = ws::encode_frame_header(header, opcode, payload.size());
  f->bytes.reserve(hlen + payload.size());
  f->bytes.insert(f->bytes.end(), header, header + hlen);
  f->bytes.insert(f->bytes.end(), payload.begin(), payload.end());
  return f;
}

// ---- Frames ---------------------------------------------------------------------------------------

void Frames::prepare(unsigned type_mask) {
  for (unsigned t = 0; t < 3; ++t) {
    if ((type_mask & (1u << t)) != 0) {
      (void)get(static_cast<PayloadTypeEnum>(t));
    }
  }
}

const std::shared_ptr<const transport::SharedFrame>& Frames::get(PayloadTypeEnum type) {
  const Slot s = slot_for(type);
  auto& f = frames_[static_cast<std::size_t>(s)];
  if (!f) {
    switch (s) {
      case Slot::text:
        f = make_frame(ws::Opcode::text, serialized());
        break;
      case Slot::binary:
        f = make_frame(ws::Opcode::binary, serialized());
        break;
      case Slot::json_string:
        f = make_frame(ws::Opcode::text, boost::json::serialize(boost::json::value(boost::json::string(payload_.text()))));
        break;
    }
  }
  return f;
}

Frames::Slot Frames::slot_for(PayloadTypeEnum type) const noexcept {
  switch (payload_.kind()) {
    case Payload::Kind::bytes:
      return Slot::binary;
    case Payload::Kind::json:
      return type == PayloadTypeEnum::BYTES ? Slot::binary : Slot::text;
    case Payload::Kind::text:
      if (type == PayloadTypeEnum::JSON) {
        return Slot::json_string;
      }
      return type == PayloadTypeEnum::BYTES ? Slot::binary : Slot::text;
  }
  return Slot::binary;
}

const std::string& Frames::serialized() {
  if (!serialized_) {
    serialized_ = payload_.serialize();
  }
  return *serialized_;
}

// ---- delivery -------------------------------------------------------------------------------------

namespace {

using Bucket = ChannelRegistry::Impl::Bucket;

// Completion of a fan-out that spans several event loops: the last loop to finish resumes the
// caller (on the caller's own executor). Like any asynchronous operation it keeps the caller's
// executor busy ("outstanding work") until then, so the caller's event loop cannot run out of work
// and be destroyed while another thread is still handing the result over.
struct FanoutState {
  using Handler = asio::detail::awaitable_handler<asio::any_io_executor>;
  std::atomic<std::size_t> remaining{0};
  std::atomic<std::size_t> delivered{0};
  std::atomic<std::size_t> dropped{0};
  std::optional<Handler> handler;
  std::optional<asio::any_io_executor> work;
  std::atomic<std::int64_t> done_ns{0};  // steady clock, when the last loop had queued its frames

  void wait_with(Handler h) {
    work.emplace(asio::prefer(asio::get_associated_executor(h), asio::execution::outstanding_work.tracked));
    handler.emplace(std::move(h));
  }

  void finish_one() {
    if (remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      done_ns.store(steady_ns(steady::now()), std::memory_order_relaxed);
      Handler h = std::move(*handler);
      handler.reset();
      auto ex = asio::get_associated_executor(h);
      asio::post(ex, std::move(h));
      work.reset();  // after the post: the caller's loop now has the handler to run
    }
  }
};

void deliver_bucket(const Bucket& bucket, const Frames& frames, std::size_t& delivered, std::size_t& dropped) {
  for (const auto& m : bucket.members) {
    if (m->deliver(frames.get(m->type.value()))) {
      ++delivered;
    } else {
      ++dropped;
    }
  }
}

}  // namespace

Task<FanoutCounts> fan_out(std::shared_ptr<const ChannelRegistry::Impl::Snapshot> snap,
                           std::shared_ptr<const Frames> frames, steady::time_point started) {
  FanoutCounts result;
  const auto here = co_await asio::this_coro::executor;
  auto state = std::make_shared<FanoutState>();
  std::vector<const Bucket*> remote;
  for (const auto& b : snap->buckets) {
    if (b.executor == here) {
      deliver_bucket(b, *frames, result.delivered, result.dropped);
    } else {
      remote.push_back(&b);
    }
  }
  if (!remote.empty()) {
    state->remaining = remote.size();
    co_await asio::async_initiate<const asio::use_awaitable_t<>&, void()>(
        [&](auto handler) {
          state->wait_with(std::move(handler));
          for (const Bucket* b : remote) {
            // The task holds the snapshot (members alive) and the frames (bytes alive).
            asio::post(b->executor, [state, snap, frames, b] {
              std::size_t d = 0;
              std::size_t x = 0;
              deliver_bucket(*b, *frames, d, x);
              state->delivered += d;
              state->dropped += x;
              state->finish_one();
            });
          }
        },
        asio::use_awaitable);
    result.delivered += state->delivered.load();
    result.dropped += state->dropped.load();
    transport::stats::observe_group_send(std::chrono::nanoseconds(state->done_ns.load() - steady_ns(started)));
  } else {
    transport::stats::observe_group_send(steady::now() - started);
  }
  co_return result;
}

Task<bool> deliver_to(std::shared_ptr<ChannelImpl> ch, std::shared_ptr<const Frames> frames) {
  const auto here = co_await asio::this_coro::executor;
  if (ch->executor == here) {
    co_return ch->deliver(frames->get(ch->type.value()));
  }
  auto state = std::make_shared<FanoutState>();
  state->remaining = 1;
  co_await asio::async_initiate<const asio::use_awaitable_t<>&, void()>(
      [&](auto handler) {
        state->wait_with(std::move(handler));
        asio::post(ch->executor, [state, ch, frames] {
          if (ch->deliver(frames->get(ch->type.value()))) {
            ++state->delivered;
          }
          state->finish_one();
        });
      },
      asio::use_awaitable);
  co_return state->delivered.load() == 1;
}

}  // namespace nexios::detail
