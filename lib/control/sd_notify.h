// systemd's notify protocol (sd_notify(3)) without libsystemd: datagrams to
// $NOTIFY_SOCKET. With Type=notify the unit is "started" at READY=1, and with
// WatchdogSec= systemd restarts a gateway whose pings stop.
#pragma once

#include <string>

#include "common/nanos.h"

namespace knockgate {

class SystemdNotifier {
 public:
  // Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID; inert without them.
  SystemdNotifier();
  ~SystemdNotifier();
  SystemdNotifier(const SystemdNotifier&) = delete;
  SystemdNotifier& operator=(const SystemdNotifier&) = delete;

  bool enabled() const { return fd_ >= 0; }
  // How often to ping (half of WATCHDOG_USEC), or 0 when no watchdog is asked for.
  Nanos watchdog_interval() const { return watchdog_interval_; }
  // "READY=1", "RELOADING=1", "STATUS=...", "WATCHDOG=1", several joined by '\n'.
  void Send(const std::string& state) const;

 private:
  int fd_ = -1;
  std::string path_;
  Nanos watchdog_interval_ = 0;
};

}  // namespace knockgate
