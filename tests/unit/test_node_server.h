/* test_node_server.h — one node.js test server per test program (s3rver, dynalite: npm
 * packages in tests/node_modules, pinned in tests/package.json), started on a free
 * 127.0.0.1 port, ready once the port accepts a connection, and stopped by its PID on every
 * exit path: the test's group teardown calls node_server_stop(), atexit and a fatal signal
 * do too, and PR_SET_PDEATHSIG kills the child should the test die without either.
 *
 * Whether node and the package are there, and what to say when they are not, stays with
 * each test: they differ (test_blob_s3.c, test_table_dynamodb_fx.h). */
#ifndef TEST_NODE_SERVER_H
#define TEST_NODE_SERVER_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* In the argument list of node_server_start(): replaced by the port it picked. */
#define NODE_SERVER_PORT "{port}"

static pid_t node_pid = -1; /* the server; -1: none */
static int node_port;       /* where it listens */

/* A port nothing listens on now (the kernel's pick); -1 if there is none. */
static inline int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
      getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
    if (fd >= 0) close(fd);
    return -1;
  }
  close(fd);
  return ntohs(a.sin_port);
}

/* 1 when 127.0.0.1:port accepts a connection. */
static inline int port_answers(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
  if (fd >= 0) close(fd);
  return ok;
}

/* 1 when prog is an executable in a directory of $PATH. */
static inline int on_path(const char *prog) {
  const char *path = getenv("PATH");
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", path ? path : "/usr/bin:/bin");
  for (char *dir = strtok(buf, ":"); dir != NULL; dir = strtok(NULL, ":")) {
    char full[4200];
    snprintf(full, sizeof full, "%s/%s", dir, prog);
    if (access(full, X_OK) == 0) return 1;
  }
  return 0;
}

/* The source tree: $DM_SOURCE_DIR, else from this file's path (CMake compiles with
 * absolute paths), else ".". */
static inline void source_dir(char *out, size_t len) {
  const char *env = getenv("DM_SOURCE_DIR");
  if (env != NULL && env[0] != '\0') {
    snprintf(out, len, "%s", env);
    return;
  }
  snprintf(out, len, "%s", __FILE__);
  char *p = strstr(out, "/tests/unit/");
  if (p != NULL) *p = '\0';
  else snprintf(out, len, ".");
}

/* SIGTERM, up to 2 s to exit, then SIGKILL. Again, or with no server, does nothing. */
static inline void node_server_stop(void) {
  if (node_pid <= 0) return;
  kill(node_pid, SIGTERM);
  for (int i = 0; i < 100 && waitpid(node_pid, NULL, WNOHANG) == 0; i++) usleep(20000);
  if (waitpid(node_pid, NULL, WNOHANG) == 0) {
    kill(node_pid, SIGKILL);
    waitpid(node_pid, NULL, 0);
  }
  node_pid = -1;
}

static inline void node_server_on_signal(int sig) {
  if (node_pid > 0) kill(node_pid, SIGKILL); /* async-signal-safe; the kernel reaps it */
  signal(sig, SIG_DFL);
  raise(sig);
}

/* Starts `node args...` (NULL-terminated; NODE_SERVER_PORT stands for the port) with
 * stdout to /dev/null, on a port from free_port(), and waits up to 15 s for the port to
 * answer. A server that exits first (the port was taken in between, or node failed) is
 * tried again on a new port, up to tries times in all. 0: node_pid and node_port are set;
 * -1: no server runs. */
static inline int node_server_start(const char *const *args, int tries) {
  enum { MAX_ARGS = 30 };
  static int hooked;
  if (!hooked) {
    hooked = 1;
    atexit(node_server_stop);
    signal(SIGSEGV, node_server_on_signal);
    signal(SIGABRT, node_server_on_signal);
    signal(SIGBUS, node_server_on_signal);
    signal(SIGINT, node_server_on_signal);
    signal(SIGTERM, node_server_on_signal);
  }
  for (int t = 0; t < tries && node_pid < 0; t++) {
    node_port = free_port();
    if (node_port <= 0) return -1;
    char port[16];
    snprintf(port, sizeof port, "%d", node_port);
    char *argv[MAX_ARGS + 2] = {"node"};
    int n = 1;
    for (; args[n - 1] != NULL && n <= MAX_ARGS; n++)
      argv[n] = strcmp(args[n - 1], NODE_SERVER_PORT) == 0 ? port : (char *)args[n - 1];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
      if (freopen("/dev/null", "w", stdout) == NULL) _exit(126); /* "listening on" */
      execvp("node", argv);
      _exit(127);
    }
    node_pid = pid;
    int up = 0;
    for (int i = 0; i < 750 && !up; i++) { /* 15 s */
      if (waitpid(pid, NULL, WNOHANG) == pid) { /* died: try another port */
        node_pid = -1;
        break;
      }
      up = port_answers(node_port);
      if (!up) usleep(20000);
    }
    if (!up && node_pid > 0) node_server_stop();
  }
  return node_pid > 0 ? 0 : -1;
}

#endif
