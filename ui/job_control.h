// Thread-safe cancellation state shared by the GUI thread (which posts and cancels jobs) and the
// worker thread (whose progress callbacks ask "should I stop?"). Only atomics: the GUI never waits
// on the worker to cancel something.
#pragma once

#include <array>
#include <atomic>

#include "jobs.h"

namespace atman::ui {

class JobControl {
 public:
  // A job of `kind` with an id below `id` is superseded: the newer request replaces it.
  void supersede(JobKind kind, JobId id) { raise(m_below[index(kind)], id); }
  // Every job with an id below `id` stops (Cancel button, model change, shutdown).
  void cancelAllBelow(JobId id) { raise(m_allBelow, id); }

  // User jobs waiting or running make a background prefetch step aside: it cancels itself at its
  // next batch, and the GUI restarts it once the user job is done.
  void userJobQueued() { ++m_userJobs; }
  void userJobDone() { --m_userJobs; }

  bool isCancelled(JobKind kind, JobId id) const {
    if (id < m_allBelow.load() || id < m_below[index(kind)].load()) return true;
    return kind == JobKind::Prefetch && m_userJobs.load() > 0;
  }

 private:
  static size_t index(JobKind kind) { return static_cast<size_t>(kind); }
  static void raise(std::atomic<JobId>& value, JobId to) {
    JobId current = value.load();
    while (current < to && !value.compare_exchange_weak(current, to)) {
    }
  }

  std::array<std::atomic<JobId>, kJobKindCount> m_below{};
  std::atomic<JobId> m_allBelow{0};
  std::atomic<int> m_userJobs{0};
};

}  // namespace atman::ui
