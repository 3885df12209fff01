#include "app/fanout.hpp"

#include "transport/stats.hpp"

#include <boost/asio/async_result.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include <algorithm>
#include <atomic>
#include <deque>
#include <stdexcept>
#include <vector>

namespace nexios::detail {

namespace asio = boost::asio;

// The frame, or std::invalid_argument for text that is not valid UTF-8 (the JSON of a payload
// whose strings were built from raw bytes, say): nothing is sent to anyone.
std::shared_ptr<const transport::SharedFrame> make_frame(ws::Opcode opcode, std::string_view payload) {
  auto f = transport::SharedFrame::make(opcode, payload);
  if (!f) {
    throw std::invalid_argument("group_send/send_to: the text of the message is not valid UTF-8");
  }
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

void Frames::adopt(const std::shared_ptr<const SavedEntry>& saved) {
  for (unsigned t = 0; t < 3; ++t) {
    const auto type = static_cast<PayloadTypeEnum>(t);
    if (saved->primary_fits(type)) {
      frames_[static_cast<std::size_t>(slot_for(type))] = SavedEntry::frame_for(saved, type);
    }
  }
  saved_view_ = saved->data();
}

std::string_view Frames::serialized() {
  if (saved_view_) {
    return *saved_view_;
  }
  if (!serialized_) {
    serialized_ = payload_.serialize();
  }
  return *serialized_;
}

// ---- delivery -------------------------------------------------------------------------------------
//
// A fan-out is delivered in slices of at most `fanout_batch` members per event loop: the first
// slice inline (on the caller's loop, or in the one task posted to each other loop), the rest by a
// drain task that delivers one slice, then posts itself again, so that whatever else the loop has
// to do (reads, handshakes, HTTP, the writes just queued, other groups' messages) runs between
// slices. Order: each loop keeps, per group, a first-come-first-served lane of the fan-outs it has
// not finished (LoopQueue); a fan-out to a group whose lane is busy waits its turn instead of
// delivering inline, so a message never reaches a member before an earlier message to the same
// group that is still in slices — even when members joined or left in between and so sit in other
// slices. A fan-out to a group with nothing pending (any small room) is delivered inline at once,
// however busy the loop is with a big one. The drain task serves the busy lanes in turn. No
// allocation per member, at most one task per slice.

namespace {

using Bucket = ChannelRegistry::Impl::Bucket;

// Completion of a fan-out that does not finish inline (other loops, or slices still to deliver):
// the last share to finish resumes the caller (on the caller's own executor). Like any
// asynchronous operation it keeps the caller's executor busy ("outstanding work") until then, so
// the caller's event loop cannot run out of work and be destroyed while another thread is still
// handing the result over.
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

// One fan-out's share on one event loop: the members of a bucket, and how far delivery got.
struct Job {
  std::shared_ptr<const ChannelRegistry::Impl::Snapshot> snap;  // keeps `bucket`'s members alive
  std::shared_ptr<const Frames> frames;                         // keeps the bytes alive
  std::shared_ptr<FanoutState> state;                           // set once the job can be queued
  const Bucket* bucket = nullptr;
  std::size_t batch = 1;
  std::size_t next = 0;
  std::size_t delivered = 0;
  std::size_t dropped = 0;

  [[nodiscard]] bool done() const noexcept { return next >= bucket->members.size(); }

  /// Delivers to at most `budget` more members; returns how many it delivered to.
  std::size_t deliver_slice(std::size_t budget) {
    const std::size_t first = next;
    const std::size_t end = std::min(bucket->members.size(), next + budget);
    for (; next < end; ++next) {
      ChannelImpl& m = *bucket->members[next];
      if (m.deliver(frames->get(m.type.value()))) {
        ++delivered;
      } else {
        ++dropped;
      }
    }
    return end - first;
  }

  /// Hands the counts to the fan-out and tells it this share is done.
  void complete() {
    state->delivered.fetch_add(delivered, std::memory_order_relaxed);
    state->dropped.fetch_add(dropped, std::memory_order_relaxed);
    state->finish_one();
  }
};

// The fan-outs one event loop has not finished delivering: one first-come-first-served lane per
// group with unfinished fan-outs. One per thread (each event loop runs on one thread); shared with
// its drain task so that either may go first (the thread at exit, or the loop destroying a drain
// task it never ran).
class LoopQueue : public std::enable_shared_from_this<LoopQueue> {
 public:
  /// The queue of the calling thread's event loop.
  static LoopQueue& here() {
    thread_local const std::shared_ptr<LoopQueue> queue = std::make_shared<LoopQueue>();
    return *queue;
  }

  /// True if no fan-out to the group `key` waits on this loop.
  [[nodiscard]] bool idle(const void* key) const noexcept { return find(key) == lanes_.size(); }

  /// Delivers the first slice of `job` now if nothing of its group waits before it, and queues what
  /// is left. Must run on `ex`, the loop the job's members belong to.
  void start(const void* key, Job job, const asio::any_io_executor& ex) {
    if (idle(key)) {
      job.deliver_slice(job.batch);
      if (job.done()) {
        job.complete();
        return;
      }
    }
    enqueue(key, std::move(job), ex);
  }

  /// Queues `job` behind the group's other unfinished fan-outs; its first member is `job.next`.
  void enqueue(const void* key, Job job, const asio::any_io_executor& ex) {
    std::size_t i = find(key);
    if (i == lanes_.size()) {
      lanes_.push_back(Lane{key, {}});
    }
    lanes_[i].jobs.push_back(std::move(job));
    if (!scheduled_) {
      scheduled_ = true;
      ex_ = ex;
      asio::post(ex, DrainTask(shared_from_this()));
    }
  }

 private:
  struct Lane {
    const void* key;
    std::deque<Job> jobs;  // stable references while a slice is being delivered
  };

  // The posted task that delivers one slice. Move-only: if the loop destroys it without running it
  // (an io_context destroyed with work pending), the jobs it would have delivered go with it, as
  // posted handlers do.
  class DrainTask {
   public:
    explicit DrainTask(std::shared_ptr<LoopQueue> q) noexcept : q_(std::move(q)) {}
    DrainTask(DrainTask&&) noexcept = default;
    DrainTask& operator=(DrainTask&&) noexcept = default;
    DrainTask(const DrainTask&) = delete;
    DrainTask& operator=(const DrainTask&) = delete;
    ~DrainTask() {
      if (q_) {
        q_->abandon();
      }
    }
    void operator()() {
      const std::shared_ptr<LoopQueue> q = std::move(q_);
      q->drain();
    }

   private:
    std::shared_ptr<LoopQueue> q_;
  };

  [[nodiscard]] std::size_t find(const void* key) const noexcept {
    std::size_t i = 0;
    while (i < lanes_.size() && lanes_[i].key != key) {
      ++i;
    }
    return i;
  }

  // One slice: at most a batch of members, taken from the busy lanes in turn (the next run starts
  // with the lane after the last one served), each lane's fan-outs in order.
  void drain() {
    if (lanes_.empty()) {
      scheduled_ = false;
      return;
    }
    std::size_t turn = next_lane_ % lanes_.size();
    std::size_t budget = lanes_[turn].jobs.front().batch;
    while (budget > 0 && !lanes_.empty()) {
      turn %= lanes_.size();
      Job& job = lanes_[turn].jobs.front();  // a deque's elements stay put if lanes_ grows meanwhile
      budget -= job.deliver_slice(budget);
      if (job.done()) {
        Job finished = std::move(job);
        Lane& lane = lanes_[turn];
        lane.jobs.pop_front();
        if (lane.jobs.empty()) {
          lanes_.erase(lanes_.begin() + static_cast<std::ptrdiff_t>(turn));  // the next lane moves here
        } else {
          ++turn;
        }
        finished.complete();
      }
    }
    next_lane_ = turn;
    if (lanes_.empty()) {
      scheduled_ = false;
    } else {
      asio::post(ex_, DrainTask(shared_from_this()));
    }
  }

  void abandon() noexcept {
    lanes_.clear();
    scheduled_ = false;
  }

  std::vector<Lane> lanes_;
  std::size_t next_lane_ = 0;
  bool scheduled_ = false;
  asio::any_io_executor ex_;
};

}  // namespace

Task<FanoutCounts> fan_out(std::shared_ptr<const ChannelRegistry::Impl::Snapshot> snap,
                           std::shared_ptr<const Frames> frames, steady::time_point started, std::size_t batch,
                           const void* group_key) {
  FanoutCounts result;
  batch = std::max<std::size_t>(batch, 1);
  const auto here = co_await asio::this_coro::executor;
  std::vector<const Bucket*> remote;
  const Bucket* local = nullptr;
  for (const auto& b : snap->buckets) {
    if (b.executor == here) {
      local = &b;
    } else {
      remote.push_back(&b);
    }
  }
  // This loop's members: the first slice now, unless earlier fan-outs to the group are unfinished.
  std::optional<Job> local_rest;
  if (local != nullptr) {
    Job job{snap, frames, nullptr, local, batch, 0, 0, 0};
    if (LoopQueue::here().idle(group_key)) {
      job.deliver_slice(batch);
    }
    if (job.done()) {
      result.delivered += job.delivered;
      result.dropped += job.dropped;
    } else {
      local_rest.emplace(std::move(job));
    }
  }
  if (remote.empty() && !local_rest) {
    transport::stats::observe_group_send(steady::now() - started);
    co_return result;
  }
  auto state = std::make_shared<FanoutState>();
  state->remaining = remote.size() + (local_rest ? 1 : 0);
  co_await asio::async_initiate<const asio::use_awaitable_t<>&, void()>(
      [&](auto handler) {
        state->wait_with(std::move(handler));
        if (local_rest) {
          local_rest->state = state;
          LoopQueue::here().enqueue(group_key, std::move(*local_rest), here);
        }
        for (const Bucket* b : remote) {
          // The task holds the snapshot (members alive) and the frames (bytes alive).
          asio::post(b->executor, [state, snap, frames, b, batch, group_key] {
            LoopQueue::here().start(group_key, Job{snap, frames, state, b, batch, 0, 0, 0}, b->executor);
          });
        }
      },
      asio::use_awaitable);
  result.delivered += state->delivered.load();
  result.dropped += state->dropped.load();
  transport::stats::observe_group_send(std::chrono::nanoseconds(state->done_ns.load() - steady_ns(started)));
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
