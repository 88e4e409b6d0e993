// The control socket's server thread (poll over the listening socket and up
// to kMaxClients connections) and its one-shot client.
#include "control/ctl_socket.h"

#include <errno.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/control_cpus.h"

namespace knockgate {
namespace {

absl::StatusOr<sockaddr_un> AddressOf(const std::string& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(a.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("control socket path \"", path, "\" must be 1..",
                                                   sizeof(a.sun_path) - 1, " bytes"));
  }
  std::memcpy(a.sun_path, path.data(), path.size());
  return a;
}

int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void WriteAll(int fd, const std::string& text) {
  for (size_t off = 0; off < text.size();) {
    const ssize_t n = send(fd, text.data() + off, text.size() - off, MSG_NOSIGNAL);
    if (n <= 0) {
      return;  // the client went away; its loss
    }
    off += static_cast<size_t>(n);
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<CtlServer>> CtlServer::Start(const std::string& path,
                                                            Handler handler) {
  absl::StatusOr<sockaddr_un> addr = AddressOf(path);
  if (!addr.ok()) {
    return addr.status();
  }
  std::error_code ec;
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (!dir.empty()) {
    std::filesystem::create_directories(dir, ec);
  }
  // A live gateway answers on the path: never take its socket away.
  if (absl::StatusOr<std::string> other = CtlRequest(path, {"ping"}); other.ok()) {
    return absl::AlreadyExistsError(
        absl::StrCat("another knockgate answers on the control socket ", path));
  }
  // A stale socket from a gateway that died is replaced; anything else at
  // the path (a config, a log a typo pointed at) is never touched.
  struct stat st;
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return absl::FailedPreconditionError(absl::StrCat(
          path,
          " exists and is not a socket: not replacing it (point [control] socket elsewhere)"));
    }
    unlink(path.c_str());
  }
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  const mode_t old_mask = umask(0177);  // 0600 from the start, never wider
  const bool bound =
      fd >= 0 && bind(fd, reinterpret_cast<const sockaddr*>(&*addr), sizeof(sockaddr_un)) == 0;
  umask(old_mask);
  if (!bound || listen(fd, kMaxClients) != 0) {
    const std::string why = std::strerror(errno);
    if (fd >= 0) {
      close(fd);
    }
    return absl::UnavailableError(absl::StrCat("cannot listen on ", path, ": ", why));
  }
  const int wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  std::unique_ptr<CtlServer> s(new CtlServer(path, fd, wake, std::move(handler)));
  s->thread_ = std::thread([p = s.get()] { p->Serve(); });
  return s;
}

CtlServer::CtlServer(std::string path, int listen_fd, int wake_fd, Handler handler)
    : path_(std::move(path)),
      listen_fd_(listen_fd),
      wake_fd_(wake_fd),
      handler_(std::move(handler)) {}

CtlServer::~CtlServer() {
  const uint64_t one = 1;
  if (write(wake_fd_, &one, sizeof(one)) < 0) {
    // The thread then ends at its next poll timeout.
  }
  if (thread_.joinable()) {
    thread_.join();
  }
  close(listen_fd_);
  close(wake_fd_);
  unlink(path_.c_str());
}

void CtlServer::Serve() {
  PlaceControlThread("kg-ctl");
  struct Client {
    int fd;
    std::string in;
    int64_t deadline;
    std::string out;  // the reply, once there is one
    size_t sent = 0;
    bool replied = false;
  };
  // Sends what the socket takes now; whether the client is done with (all
  // sent, or gone).
  auto flush = [](Client& c) {
    while (c.sent < c.out.size()) {
      const ssize_t n = send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return false;  // the rest when the client has read some
      }
      if (n <= 0) {
        return true;  // the client went away; its loss
      }
      c.sent += static_cast<size_t>(n);
    }
    return true;
  };
  std::vector<Client> clients;
  for (;;) {
    std::vector<pollfd> fds = {{wake_fd_, POLLIN, 0}, {listen_fd_, POLLIN, 0}};
    for (const Client& c : clients) {
      fds.push_back({c.fd, static_cast<short>(c.replied ? POLLOUT : POLLIN), 0});
    }
    if (poll(fds.data(), fds.size(), 500) < 0 && errno != EINTR) {
      return;
    }
    if (fds[0].revents != 0) {
      break;
    }
    const int64_t now = NowMillis();
    if (fds[1].revents & POLLIN) {
      const int c = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (c >= 0 && clients.size() < static_cast<size_t>(kMaxClients)) {
        clients.push_back({c, "", now + kIdleMillis, "", 0, false});
      } else if (c >= 0) {
        WriteAll(c, "error\ntoo many control clients at once\n");
        close(c);
      }
    }
    for (size_t i = 0; i < clients.size() && i + 2 < fds.size(); ++i) {
      Client& c = clients[i];
      bool finished = false;
      if (c.replied) {
        // A reader too slow for kReplyMillis gets what it read: its ctl
        // sees fewer bytes than announced and says so.
        finished =
            (fds[i + 2].revents & (POLLOUT | POLLHUP | POLLERR)) != 0 ? flush(c) : now > c.deadline;
      } else {
        if (fds[i + 2].revents & (POLLIN | POLLHUP | POLLERR)) {
          char buf[1024];
          const ssize_t n = recv(c.fd, buf, sizeof(buf), 0);
          if (n <= 0) {
            finished = true;
          } else {
            c.in.append(buf, static_cast<size_t>(n));
          }
        }
        if (const size_t eol = c.in.find('\n'); !finished && eol != std::string::npos) {
          std::vector<std::string> args = absl::StrSplit(c.in.substr(0, eol), '\t');
          absl::StatusOr<std::string> out = args.size() == 1 && args[0] == "ping"
                                                ? absl::StatusOr<std::string>("pong\n")
                                                : handler_(args);
          c.out = out.ok() ? absl::StrCat("ok ", out->size(), "\n", *out)
                           : absl::StrCat("error\n", out.status().message(), "\n");
          c.replied = true;
          c.deadline = NowMillis() + kReplyMillis;
          finished = flush(c);
        } else if (c.in.size() > kMaxRequest) {
          WriteAll(c.fd, "error\nrequest too long\n");
          finished = true;
        } else if (now > c.deadline) {
          finished = true;  // said nothing, or not a whole line, in time
        }
      }
      if (finished) {
        close(c.fd);
        c.fd = -1;
      }
    }
    std::erase_if(clients, [](const Client& c) { return c.fd < 0; });
  }
  for (const Client& c : clients) {
    close(c.fd);
  }
}

absl::StatusOr<std::string> CtlRequest(const std::string& path,
                                       const std::vector<std::string>& args) {
  absl::StatusOr<sockaddr_un> addr = AddressOf(path);
  if (!addr.ok()) {
    return addr.status();
  }
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, reinterpret_cast<const sockaddr*>(&*addr), sizeof(sockaddr_un)) != 0) {
    const std::string why = std::strerror(errno);
    if (fd >= 0) {
      close(fd);
    }
    return absl::UnavailableError(absl::StrCat("cannot reach knockgate on ", path, ": ", why,
                                               " (is it running? [control] socket)"));
  }
  timeval tv{70, 0};  // a reload may take a while; never forever
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  WriteAll(fd, absl::StrCat(absl::StrJoin(args, "\t"), "\n"));
  std::string reply;
  char buf[4096];
  for (ssize_t n; (n = recv(fd, buf, sizeof(buf), 0)) > 0;) {
    reply.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  const size_t eol = reply.find('\n');
  const std::string head = reply.substr(0, eol);
  const std::string body = eol == std::string::npos ? "" : reply.substr(eol + 1);
  absl::string_view size_text = head;
  size_t announced = 0;
  if (absl::ConsumePrefix(&size_text, "ok ") && absl::SimpleAtoi(size_text, &announced)) {
    if (body.size() != announced) {
      return absl::DataLossError(absl::StrCat("the reply was cut short: ", body.size(), " of ",
                                              announced, " bytes came (nothing printed)"));
    }
    return body;
  }
  if (head == "error") {
    return absl::InvalidArgumentError(
        body.empty() || body.back() != '\n' ? body : body.substr(0, body.size() - 1));
  }
  return absl::UnavailableError(absl::StrCat("no answer from knockgate on ", path));
}

}  // namespace knockgate
