#ifndef MUSIC_SERVICE_CORE_CLOCK_H_
#define MUSIC_SERVICE_CORE_CLOCK_H_

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace music::service {

/// The time source of the engine. Injected so tests move time instead of sleeping.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

/// The system clock.
class RealClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
  /// A process-wide instance.
  static RealClock* Get() {
    static RealClock* clock = new RealClock();
    return clock;
  }
};

}  // namespace music::service

#endif  // MUSIC_SERVICE_CORE_CLOCK_H_
