// The control socket: `knockgate ctl` sends one request line (arguments
// separated by tabs), the gateway answers "ok BYTES" or "error" on the first
// line, then the text, and closes. A Unix socket created 0600, served by one
// control thread that never waits on a client: a client that says nothing
// is dropped after a few seconds while others are served, and a long reply
// (a list of a million entries) is streamed as the client reads it, within
// kReplyMillis. The client checks that it got BYTES bytes: a reply cut short
// is an error, never a shorter answer.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"

namespace knockgate {

class CtlServer {
 public:
  // Runs a request's arguments; on the control thread, one request at a time.
  using Handler = std::function<absl::StatusOr<std::string>(const std::vector<std::string>&)>;
  static constexpr int kMaxClients = 16;
  static constexpr int kIdleMillis = 3000;  // a silent client is dropped after this
  static constexpr size_t kMaxRequest = 4096;
  static constexpr int kReplyMillis = 30000;  // to read a whole reply

  // Creates the socket (and its directory), replacing a stale one; fails if
  // a live gateway answers on it already.
  static absl::StatusOr<std::unique_ptr<CtlServer>> Start(const std::string& path, Handler handler);
  ~CtlServer();  // stops the thread, removes the socket

 private:
  CtlServer(std::string path, int listen_fd, int wake_fd, Handler handler);
  void Serve();

  const std::string path_;
  const int listen_fd_;
  const int wake_fd_;  // an eventfd that ends Serve
  Handler handler_;
  std::thread thread_;
};

// The client side: sends `args`, returns the answer's text, or its error
// (the gateway's message, or why the socket could not be reached).
absl::StatusOr<std::string> CtlRequest(const std::string& path,
                                       const std::vector<std::string>& args);

}  // namespace knockgate
