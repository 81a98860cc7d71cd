#ifndef MUSIC_DOMAIN_CLOCK_H_
#define MUSIC_DOMAIN_CLOCK_H_

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace music {

/// The one time source of the program (engine, watch hub, adapters, emulator). Injected so tests
/// move time instead of sleeping; RealClock is the only caller of absl::Now().
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

}  // namespace music

#endif  // MUSIC_DOMAIN_CLOCK_H_
