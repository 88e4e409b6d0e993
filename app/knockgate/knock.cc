// knockgate knock: derives a rotating [[knock]]'s sequence for now from the
// same config file the gateway reads, and knocks it (a TCP SYN or an empty
// UDP datagram per step) or prints it for knock(1) or nmap.
#include "knock.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "policy/config_loader.h"
#include "policy/duration.h"
#include "policy/knock_rotation.h"

namespace knockgate {
namespace {

constexpr char kKnockUsage[] =
    R"(usage: knockgate knock --config FILE [--print] [--at SECONDS] [--delay DURATION] NAME [HOST]
  Knocks the current sequence of the rotating [[knock]] NAME (one with a secret)
  on HOST: a TCP SYN or an empty UDP datagram per step, DURATION apart
  (default 100ms). Reads the secret from FILE, as the gateway does.
  --print      print the sequence as knock(1) takes it (PORT:PROTO ...) instead
  --at SECONDS the sequence at this Unix time instead of now
)";

// One step: a SYN (a non-blocking connect, closed before any answer: no RST,
// no retransmission) or an empty datagram.
absl::Status SendStep(const addrinfo& host, uint8_t protocol, uint16_t port) {
  sockaddr_storage to{};
  std::memcpy(&to, host.ai_addr, host.ai_addrlen);
  if (to.ss_family == AF_INET) {
    reinterpret_cast<sockaddr_in*>(&to)->sin_port = htons(port);
  } else {
    reinterpret_cast<sockaddr_in6*>(&to)->sin6_port = htons(port);
  }
  const bool tcp = protocol == 6;
  const int fd = socket(to.ss_family, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  }
  const auto* addr = reinterpret_cast<const sockaddr*>(&to);
  int rc;
  if (tcp) {
    rc = connect(fd, addr, host.ai_addrlen);
    rc = rc < 0 && (errno == EINPROGRESS || errno == ECONNREFUSED) ? 0 : rc;
  } else {
    rc = static_cast<int>(sendto(fd, "", 0, 0, addr, host.ai_addrlen));
  }
  const int err = errno;
  close(fd);
  if (rc < 0) {
    return absl::UnavailableError(absl::StrCat(tcp ? "tcp" : "udp", " step: ", std::strerror(err)));
  }
  return absl::OkStatus();
}

}  // namespace

int RunKnock(int argc, char** argv) {
  std::string config_path;
  bool print = false;
  std::optional<int64_t> at;
  Nanos delay = kNanosPerSecond / 10;
  std::vector<std::string> args;
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if ((a == "--config" || a == "-c") && has_value) {
      config_path = argv[++i];
    } else if (a == "--print") {
      print = true;
    } else if (a == "--at" && has_value) {
      int64_t seconds = 0;
      if (!absl::SimpleAtoi(argv[++i], &seconds) || seconds < 0) {
        std::cerr << "knockgate knock: --at takes Unix seconds, got \"" << argv[i] << "\"\n";
        return 2;
      }
      at = seconds;
    } else if (a == "--delay" && has_value) {
      absl::StatusOr<Nanos> d = ParseDuration(argv[++i]);
      if (!d.ok()) {
        std::cerr << "knockgate knock: --delay: " << d.status().message() << "\n";
        return 2;
      }
      delay = *d;
    } else if (a == "-h" || a == "--help") {
      std::cout << kKnockUsage;
      return 0;
    } else {
      args.push_back(a);
    }
  }
  if (config_path.empty() || args.empty() || args.size() > 2 || (!print && args.size() != 2)) {
    std::cerr << kKnockUsage;
    return 2;
  }
  absl::StatusOr<Config> config = LoadConfigFile(config_path);
  if (!config.ok()) {
    std::cerr << config.status().message() << "\n";
    return 1;
  }
  const KnockRotation rotation(*config);
  const int k = rotation.Find(args[0]);
  if (k < 0) {
    std::cerr << "knockgate knock: " << config_path << " has no rotating [[knock]] named \""
              << args[0] << "\" (one with a secret)\n";
    return 1;
  }
  const RotatingKnock& knock = rotation.knock(static_cast<size_t>(k));
  const Nanos unix_now = at ? *at * kNanosPerSecond : WallNow();
  absl::StatusOr<std::vector<uint16_t>> ports =
      rotation.PortsAt(static_cast<size_t>(k), KnockPeriodAt(unix_now, knock.period));
  if (!ports.ok()) {
    std::cerr << "knockgate knock: " << ports.status().message() << "\n";
    return 1;
  }
  if (print) {
    for (size_t i = 0; i < ports->size(); ++i) {
      std::cout << (i ? " " : "") << (*ports)[i] << (knock.protocols[i] == 6 ? ":tcp" : ":udp");
    }
    std::cout << "\n";
    return 0;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* host = nullptr;
  if (const int rc = getaddrinfo(args[1].c_str(), nullptr, &hints, &host); rc != 0) {
    std::cerr << "knockgate knock: " << args[1] << ": " << gai_strerror(rc) << "\n";
    return 1;
  }
  for (size_t i = 0; i < ports->size(); ++i) {
    if (i > 0) {
      std::this_thread::sleep_for(std::chrono::nanoseconds(delay));
    }
    if (absl::Status s = SendStep(*host, knock.protocols[i], (*ports)[i]); !s.ok()) {
      std::cerr << "knockgate knock: " << args[1] << ": " << s.message() << "\n";
      freeaddrinfo(host);
      return 1;
    }
  }
  freeaddrinfo(host);
  return 0;
}

}  // namespace knockgate
