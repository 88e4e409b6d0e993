// sd_notify's datagram, sent to a path or an abstract socket ("@name").
#include "control/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "absl/strings/numbers.h"

namespace knockgate {

SystemdNotifier::SystemdNotifier() {
  const char* socket_path = getenv("NOTIFY_SOCKET");
  if (socket_path == nullptr || *socket_path == '\0' ||
      strlen(socket_path) >= sizeof(sockaddr_un::sun_path)) {
    return;
  }
  path_ = socket_path;
  fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  uint64_t usec = 0;
  const char* wd = getenv("WATCHDOG_USEC");
  const char* wd_pid = getenv("WATCHDOG_PID");
  uint64_t pid = 0;
  const bool for_us = wd_pid == nullptr ||
                      (absl::SimpleAtoi(wd_pid, &pid) && pid == static_cast<uint64_t>(getpid()));
  if (wd != nullptr && for_us && absl::SimpleAtoi(wd, &usec) && usec > 0) {
    watchdog_interval_ = usec * 1000 / 2;
  }
}

SystemdNotifier::~SystemdNotifier() {
  if (fd_ >= 0) {
    close(fd_);
  }
}

void SystemdNotifier::Send(const std::string& state) const {
  if (fd_ < 0) {
    return;
  }
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::memcpy(a.sun_path, path_.data(), path_.size());
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path_.size());
  if (a.sun_path[0] == '@') {
    a.sun_path[0] = '\0';  // an abstract socket
  }
  sendto(fd_, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&a), len);
}

}  // namespace knockgate
