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
// however busy the loop is with a big one. The drain task serves the busy lanes in turn, about a
// batch of deliveries per turn; the fan-outs waiting in a lane for the same members are delivered
// member by member, so a member's frames of several messages leave in one write (one write per
// delivery would cost a large room most of its throughput). No allocation per member, at most one
// task per slice.

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
    while (next < end) {
      deliver_next(*bucket->members[next]);
    }
    return end - first;
  }

  /// Delivers to `m`, the member at `next`, and moves on.
  void deliver_next(ChannelImpl& m) {
    if (m.deliver(frames->get(m.type.value()))) {
      ++delivered;
    } else {
      ++dropped;
    }
    ++next;
  }

  /// Hands the counts to the fan-out and tells it this share is done (nothing to tell for a
  /// detached fan-out).
  void complete() {
    if (!state) {
      return;
    }
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

  // One drain turn: about a batch of deliveries, taken from the busy lanes in turn (the next turn
  // starts with the lane after the last one served).
  void drain() {
    if (lanes_.empty()) {
      scheduled_ = false;
      return;
    }
    std::size_t turn = next_lane_ % lanes_.size();
    std::size_t budget = lanes_[turn].jobs.front().batch;
    while (budget > 0 && !lanes_.empty()) {
      turn %= lanes_.size();
      Lane& lane = lanes_[turn];
      budget -= std::min(budget, serve(lane, budget));
      while (!lane.jobs.empty() && lane.jobs.front().done()) {
        Job finished = std::move(lane.jobs.front());
        lane.jobs.pop_front();
        finished.complete();  // posts the publisher's resumption; runs nothing of ours
      }
      if (lane.jobs.empty()) {
        lanes_.erase(lanes_.begin() + static_cast<std::ptrdiff_t>(turn));  // the next lane moves here
      } else {
        ++turn;  // this lane's turn is over; the next lane is served next
      }
    }
    next_lane_ = turn;
    if (lanes_.empty()) {
      scheduled_ = false;
    } else {
      asio::post(ex_, DrainTask(shared_from_this()));
    }
  }

  // Serves the head of `lane` with at most about `budget` deliveries (at most a run's length
  // more): the run of fan-outs at its front that share the same members (the same snapshot: no
  // one joined or left between them), member by member — each member gets every fan-out of the
  // run it has not had yet, oldest first, so the frames queued for it leave in one write instead
  // of one write per message. Within a lane only the front fan-out can have started (a fan-out is
  // delivered inline only to an idle lane), and the sweep keeps `next` non-increasing along the
  // run, so the fan-outs still to reach member i are the run's tail from `lead` on.
  static std::size_t serve(Lane& lane, std::size_t budget) {
    auto& jobs = lane.jobs;
    const Bucket* const bucket = jobs.front().bucket;
    const std::size_t cap = std::max<std::size_t>(jobs.front().batch, 1);
    std::size_t run = 1;
    while (run < jobs.size() && run < cap && jobs[run].bucket == bucket) {
      ++run;
    }
    const std::size_t size = bucket->members.size();
    std::size_t i = jobs[run - 1].next;  // the member the furthest-behind fan-out is at
    std::size_t lead = run - 1;          // jobs[lead, run) are at member i
    std::size_t used = 0;
    while (used < budget && i < size) {
      while (lead > 0 && jobs[lead - 1].next == i) {
        --lead;
      }
      ChannelImpl& m = *bucket->members[i];
      for (std::size_t j = lead; j < run; ++j) {
        jobs[j].deliver_next(m);
      }
      used += run - lead;
      ++i;
    }
    return used;
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

void fan_out_detached(std::shared_ptr<const ChannelRegistry::Impl::Snapshot> snap, std::shared_ptr<const Frames> frames,
                      std::size_t batch, const void* group_key, const asio::any_io_executor& here) {
  batch = std::max<std::size_t>(batch, 1);
  for (const auto& b : snap->buckets) {
    if (b.executor == here) {
      LoopQueue::here().start(group_key, Job{snap, frames, nullptr, &b, batch, 0, 0, 0}, here);
    } else {
      asio::post(b.executor, [snap, frames, bucket = &b, batch, group_key] {
        LoopQueue::here().start(group_key, Job{snap, frames, nullptr, bucket, batch, 0, 0, 0}, bucket->executor);
      });
    }
  }
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
