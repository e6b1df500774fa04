"""Integration-test harness: a real lighttpd or Apache httpd in front of a FastCGI responder.

`Lighttpd` and `Apache` are context managers.  Each one writes a server
configuration into a fresh `tempfile.mkdtemp()` directory, starts the server in
the foreground on a loopback port chosen by the kernel, waits until the server
answers HTTP, and on exit stops the server and every process it started, then
removes the directory.  Both include the configuration files shipped in
`lighttpd/kiro-fcgi.conf` and `apache/kiro-fcgi.conf` (only paths, mount,
process count and environment are substituted), so the tests exercise exactly
the streaming, Authorization, body-size and timeout settings users install.

    with Lighttpd("fcgi/kiro-fcgi", ["-c", cfg], env={}, mount="/kiro", procs=2) as srv:
        resp = request(srv.base_url + "/v1/models")

Ports.  Picking a "free" port and handing its number to a server races with
every other process on the machine.  lighttpd 1.4.69 supports systemd socket
activation (`server.systemd-socket-activation`), so for lighttpd the harness
binds 127.0.0.1:0 itself, keeps the listening socket and passes it as fd 3
with LISTEN_FDS=1; lighttpd only accepts it when LISTEN_PID equals its own
pid, so it is started through `sh -c 'LISTEN_PID=$$; export LISTEN_PID; exec
lighttpd ...'` (the shell's pid becomes lighttpd's).  There is no race at all.
Apache has no socket activation, so the harness binds port 0, reads the port,
closes the socket and starts Apache on that port; if another process took it in
between, Apache exits with "Address already in use" and the harness retries
with a new port (up to five times).  Readiness is an `OPTIONS *` request that
the server answers itself (the responder never sees it), polled while checking
that the server process is still alive; if it dies, the error is raised with
the server's logs.

Apache refuses to serve as root, so when the harness runs as root it runs
Apache (and therefore the responder) as www-data: the temporary directory and
the mod_fcgid IPC directory are handed to www-data, and the responder binary
must be executable by www-data (every parent directory searchable); if not,
`HarnessError` names the directory at fault.  lighttpd runs as the invoking
user.

Environment variables read by the harness:
  TRACEME=valgrind   run each responder process under
                     `valgrind --error-exitcode=99 --leak-check=full
                     --log-file=<tmp>/trace/vg.%p`; leaving the context
                     raises AssertionError if any log has errors (the logs are
                     then kept)
  TRACEME=strace     run each responder under
                     `strace -I2 -ff -tt -o <tmp>/trace/strace` (one file per pid)
  HARNESS_KEEP_TMP=1 keep the temporary directory (its path is printed)

Client helpers (standard library only): `request()` for whole responses with
per-chunk arrival times, `open_stream()` + `iter_chunks()` / `sse_events()` for
reading a response incrementally.
"""

from __future__ import annotations

import contextlib
import grp
import http.client
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Iterable, Iterator, NamedTuple

REPO_ROOT = Path(__file__).resolve().parents[2]
LIGHTTPD_INCLUDE = REPO_ROOT / "lighttpd" / "kiro-fcgi.conf"
APACHE_INCLUDE = REPO_ROOT / "apache" / "kiro-fcgi.conf"
# The web UI's static files, served from the source tree by both servers.
UI_DIR = REPO_ROOT / "admin" / "ui"
APACHE_MODULE_DIR = Path("/usr/lib/apache2/modules")
APACHE_USER = "www-data"
LOOPBACK = "127.0.0.1"

START_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0
APACHE_PORT_ATTEMPTS = 5

# Modules the Apache configuration needs beyond the built-in core, http_core,
# mod_so, mod_watchdog, mod_log_config, mod_logio, mod_version and mod_unixd
# (see `apache2 -l`), with the Debian package providing each.
APACHE_MODULES = (
    ("mpm_event_module", "mod_mpm_event.so", "apache2"),
    ("authz_core_module", "mod_authz_core.so", "apache2"),
    ("alias_module", "mod_alias.so", "apache2"),
    ("fcgid_module", "mod_fcgid.so", "libapache2-mod-fcgid"),
    # The web UI's index page and types, as in Debian's default set.
    ("dir_module", "mod_dir.so", "apache2"),
    ("mime_module", "mod_mime.so", "apache2"),
)

_MOUNT_RE = re.compile(r"^/(?:[A-Za-z0-9._~-]+(?:/[A-Za-z0-9._~-]+)*)?$")


class HarnessError(RuntimeError):
    """The harness could not set up, start or stop a server; the message says why."""


# --- Programs and ports ----------------------------------------------------------


def find_program(name: str) -> str | None:
    """Absolute path of program name on $PATH or in /usr/sbin, /sbin; None if absent."""
    path = os.environ.get("PATH", os.defpath) + os.pathsep + "/usr/sbin:/sbin"
    return shutil.which(name, path=path)


def require_program(name: str, package: str) -> str:
    """Absolute path of program name, or HarnessError naming the Debian package."""
    found = find_program(name)
    if found is None:
        raise HarnessError(f"{name} not found: apt-get install {package}")
    return found


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port that was free a moment ago.

    Racy by nature: another process may take it before the caller binds it.
    Prefer passing a bound socket (as `Lighttpd` does), or retry on
    "Address already in use" (as `Apache` does).
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def listening_socket(host: str = LOOPBACK) -> socket.socket:
    """A TCP socket bound to a kernel-chosen port of host and listening."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, 0))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


# --- Tracing ---------------------------------------------------------------------


def trace_mode() -> str:
    """The TRACEME mode: "", "valgrind" or "strace"."""
    mode = os.environ.get("TRACEME", "")
    if mode not in ("", "valgrind", "strace"):
        raise HarnessError(f"TRACEME={mode!r}: use TRACEME=valgrind or TRACEME=strace")
    return mode


def traced_command(argv: list[str], trace_dir: Path) -> list[str]:
    """argv prefixed with the TRACEME wrapper, if any; logs go to trace_dir."""
    mode = trace_mode()
    if mode == "valgrind":
        # "possibly lost" at exit is the TLS of accept threads still
        # blocked in accept() when SIGTERM ends the process: not a leak.
        # --vgdb=no: no gdbserver, so no /tmp/vgdb-pipe-*-<pid> file; a
        # valgrind killed by a test leaves its file behind, and when its
        # pid comes round again to a responder of another user (Apache's),
        # valgrind cannot start ("cannot create shared_mem file").
        return [require_program("valgrind", "valgrind"), "--vgdb=no", "--error-exitcode=99",
                "--leak-check=full", "--errors-for-leak-kinds=definite,indirect",
                f"--log-file={trace_dir}/vg.%p", *argv]
    if mode == "strace":
        # "-o FILE PROG" makes strace ignore SIGTERM (-I3); with -I2 it passes
        # the server's SIGTERM on to the responder, which can then exit.
        return [require_program("strace", "strace"), "-I2", "-ff", "-tt",
                "-o", f"{trace_dir}/strace", *argv]
    return list(argv)


def valgrind_problems(trace_dir: Path, wait: float = 15.0) -> list[str]:
    """One line per valgrind log in trace_dir that reports errors.

    A responder the server started while it was stopping can still be
    writing its report when the others are gone: a log without its ERROR
    SUMMARY gets up to `wait` seconds to finish before it counts as a
    killed process.
    """
    problems = []
    deadline = time.monotonic() + wait
    for log in sorted(trace_dir.glob("vg.*")):
        while True:
            text = log.read_text(errors="replace")
            match = re.search(r"ERROR SUMMARY: (\d+) errors", text)
            if match is not None or time.monotonic() >= deadline:
                break
            time.sleep(0.1)
        if match is None:
            problems.append(f"{log}: no ERROR SUMMARY (process killed?)")
        elif int(match.group(1)) > 0:
            problems.append(f"{log}: {match.group(0)}")
    return problems


# --- Processes -------------------------------------------------------------------


def _proc_stat(pid: int) -> tuple[str, int, int, str] | None:
    """(state, ppid, pgid, start time) of pid from /proc, or None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may contain anything; the fields
    # after it are: state ppid pgrp ... starttime (field 22 of stat).
    fields = raw[raw.rindex(")") + 2:].split()
    return fields[0], int(fields[1]), int(fields[2]), fields[19]


def _related_processes(root: int, pgid: int) -> dict[int, str]:
    """Descendants of root plus members of process group pgid: {pid: start time}."""
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _proc_stat(int(entry))
            if stat is not None:
                stats[int(entry)] = stat
    related = {pid: st[3] for pid, st in stats.items() if st[2] == pgid}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, (_, ppid, _, start) in stats.items():
            if ppid == parent and pid not in related:
                related[pid] = start
                frontier.append(pid)
    related.pop(root, None)
    related.pop(os.getpid(), None)
    return related


def _alive(pid: int, start: str) -> bool:
    """True while pid is the same process (same start time) and not a zombie."""
    stat = _proc_stat(pid)
    return stat is not None and stat[3] == start and stat[0] != "Z"


def _reap(processes: dict[int, str], grace: float) -> None:
    """Give processes grace seconds to exit on their own, then SIGKILL the rest."""
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not any(_alive(pid, start) for pid, start in processes.items()):
            return
        time.sleep(0.05)
    for pid, start in processes.items():
        if _alive(pid, start):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


# --- Configuration values ----------------------------------------------------------


def _conf_value(value: object, what: str, spaces: bool = True) -> str:
    """value as a string safe inside a double-quoted lighttpd/Apache config value."""
    text = str(value)
    bad = ['"', "\\", "\n", "\r", "$"] + ([] if spaces else [" ", "\t"])
    if any(ch in text for ch in bad):
        raise HarnessError(f"{what} {text!r} contains a character the generated "
                           f"config cannot carry ({' '.join(map(repr, bad))})")
    return text


def _replace_line(text: str, name: str, new_line: str, source: Path) -> str:
    """Replace the single uncommented line assigning name in text."""
    pattern = re.compile(rf"^{re.escape(name)}\s*=.*$", re.MULTILINE)
    result, count = pattern.subn(lambda _: new_line, text)
    if count != 1:
        raise HarnessError(f"{source}: expected one line assigning {name}, found {count}; "
                           "update tests/integration/harness.py to match")
    return result


# --- Servers ---------------------------------------------------------------------


class WebServer:
    """A web server in front of a responder: common life cycle of Lighttpd and Apache.

    Subclasses provide _launch() (write the config, start, wait) and _probe_ok().
    """

    kind = "server"

    def __init__(self, binary: str | os.PathLike, args: Iterable[str] = (),
                 env: dict[str, str] | None = None, mount: str = "/kiro",
                 procs: int = 2, start_timeout: float | None = None):
        self.binary = Path(binary).resolve()
        if not (self.binary.is_file() and os.access(self.binary, os.X_OK)):
            raise HarnessError(f"responder {self.binary} is not an executable file")
        if not _MOUNT_RE.match(mount):
            raise HarnessError(f"mount {mount!r}: use \"/\" or a prefix like \"/kiro\"")
        if procs < 1:
            raise HarnessError(f"procs={procs}: need at least one responder process")
        self.args = [str(a) for a in args]
        self.env = {str(k): str(v) for k, v in (env or {}).items()}
        for key in self.env:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
                raise HarnessError(f"environment variable name {key!r} is not portable")
        self.mount = mount
        self.procs = procs
        self.trace = trace_mode()
        scale = 4.0 if self.trace == "valgrind" else 1.0
        self.start_timeout = start_timeout or START_TIMEOUT * scale
        self.tmpdir: Path | None = None
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None
        self._final_log = ""
        self._trace_problems: list[str] = []

    # public interface

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:PORT plus the mount prefix, without a trailing slash."""
        if self.port is None:
            raise HarnessError(f"{self.kind} is not running")
        prefix = "" if self.mount == "/" else self.mount
        return f"http://{LOOPBACK}:{self.port}{prefix}"

    def url(self, path: str = "") -> str:
        """base_url + path (path starts with "/" or "?", or is empty)."""
        return self.base_url + path

    def target(self, path: str = "") -> str:
        """The request target for path under the mount: "/kiro" + path, or path at "/"."""
        return ("" if self.mount == "/" else self.mount) + path

    @property
    def root_url(self) -> str:
        """http://127.0.0.1:PORT, without the mount prefix."""
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def responder_user(self) -> str:
        """Login name the responder runs as; its config and state must be usable by it."""
        return pwd.getpwuid(os.geteuid()).pw_name

    def log_files(self) -> list[Path]:
        """The server's log files: error log, captured stdout/stderr, responder log."""
        logs = self.tmpdir / "logs" if self.tmpdir is not None else None
        if logs is None or not logs.is_dir():
            return []
        return sorted(p for p in logs.iterdir() if p.is_file())

    def error_log(self) -> str:
        """Text of every log file, each under a "==> name <==" header."""
        if self.tmpdir is None or not self.tmpdir.exists():
            return self._final_log
        parts = []
        for path in self.log_files():
            with contextlib.suppress(OSError):
                parts.append(f"==> {path.name} <==\n{path.read_text(errors='replace')}")
        return "\n".join(parts)

    def trace_dir(self) -> Path:
        """Where TRACEME logs go."""
        if self.tmpdir is None:
            raise HarnessError(f"{self.kind} has no temporary directory")
        return self.tmpdir / "trace"

    def start(self) -> None:
        """Write the configuration and start the server; return once it answers."""
        if self.proc is not None:
            raise HarnessError(f"{self.kind} already started")
        self.tmpdir = Path(tempfile.mkdtemp(prefix=f"kiro-{self.kind}-"))
        for sub in ("logs", "trace", "run", "www"):
            (self.tmpdir / sub).mkdir()
        try:
            self._launch()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the server and everything it started; remove the temporary directory."""
        proc, self.proc = self.proc, None
        grace = STOP_TIMEOUT if self.trace == "valgrind" else 5.0
        if proc is not None:
            related = _related_processes(proc.pid, proc.pid)
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            # Responders may outlive the server (valgrind writes its report
            # after SIGTERM); wait for them, then kill what is left.
            related.update(_related_processes(proc.pid, proc.pid))
            _reap(related, grace)
        if self.tmpdir is None:
            return
        self._final_log = self.error_log()
        if self.trace == "valgrind":
            self._trace_problems = valgrind_problems(self.trace_dir())
        # Stale mod_fcgid sockets would pile up in a kept directory.
        ipc = self.tmpdir / "fcgid"
        if ipc.is_dir():
            for stale in ipc.iterdir():
                stale.unlink(missing_ok=True)
        keep = bool(os.environ.get("HARNESS_KEEP_TMP")) or bool(self._trace_problems)
        if keep:
            print(f"harness: kept {self.tmpdir}", file=sys.stderr)
        else:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
        self.tmpdir = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.stop()
        if exc_type is None and self._trace_problems:
            raise AssertionError("valgrind reported errors:\n" + "\n".join(self._trace_problems))

    # helpers for subclasses

    def _responder_argv(self) -> list[str]:
        return traced_command([str(self.binary), *self.args], self.trace_dir())

    def _server_env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """A small, predictable environment for the server process."""
        env = {"PATH": os.environ.get("PATH", os.defpath), "LANG": "C"}
        for key, value in os.environ.items():
            # KIRO_TEST_RUN marks this run's servers (tests/run-all.sh).
            if key.startswith(("ASAN_", "UBSAN_", "LSAN_", "MSAN_", "VALGRIND_",
                               "KIRO_TEST_RUN")):
                env[key] = value
        env.update(extra or {})
        return env

    def _spawn(self, argv: list[str], env: dict[str, str], pass_fds=()) -> None:
        assert self.tmpdir is not None
        with open(self.tmpdir / "logs" / "stderr.log", "ab") as out:
            self.proc = subprocess.Popen(
                argv, env=env, cwd=self.tmpdir, stdin=subprocess.DEVNULL,
                stdout=out, stderr=subprocess.STDOUT, pass_fds=pass_fds,
                start_new_session=True)

    def _wait_ready(self) -> None:
        """Poll with OPTIONS * until the server answers; raise if it dies first."""
        assert self.proc is not None
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self.proc.poll() is not None:
                raise _ServerDied(self.proc.returncode, self.error_log())
            if self._probe():
                return
            if time.monotonic() > deadline:
                raise HarnessError(f"{self.kind} did not answer within "
                                   f"{self.start_timeout:.0f} s\n{self.error_log()}")
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(0.05)

    def _probe(self) -> bool:
        conn = http.client.HTTPConnection(LOOPBACK, self.port, timeout=2)
        try:
            conn.request("OPTIONS", "*")
            resp = conn.getresponse()
            resp.read()
            return self._probe_ok(resp.getheader("Server", ""))
        except (OSError, http.client.HTTPException):
            return False
        finally:
            conn.close()

    def _launch(self) -> None:
        raise NotImplementedError

    def _probe_ok(self, server_header: str) -> bool:
        raise NotImplementedError


class _ServerDied(HarnessError):
    def __init__(self, returncode: int, log: str):
        super().__init__(f"server exited with status {returncode} during startup\n{log}")
        self.returncode = returncode
        self.log = log


class Lighttpd(WebServer):
    """lighttpd + mod_fastcgi (bin-path) with the shipped lighttpd/kiro-fcgi.conf."""

    kind = "lighttpd"

    @staticmethod
    def missing() -> str | None:
        """Why lighttpd cannot run here, or None."""
        if find_program("lighttpd") is None:
            return "lighttpd not found: apt-get install lighttpd"
        return None

    def _launch(self) -> None:
        assert self.tmpdir is not None
        lighttpd = require_program("lighttpd", "lighttpd")
        (self.tmpdir / "sock").mkdir()
        (self.tmpdir / "upload").mkdir()
        sock = listening_socket()
        try:
            self.port = sock.getsockname()[1]
            conf = self._write_config()
            check = subprocess.run([lighttpd, "-tt", "-f", str(conf)], capture_output=True,
                                   text=True, env=self._server_env())
            # -tt exits 0 even when it complains about bin-path; treat any
            # output as failure.
            if check.returncode != 0 or check.stdout.strip() or check.stderr.strip():
                raise HarnessError(f"lighttpd -tt -f {conf} failed:\n{check.stdout}{check.stderr}")
            fd = sock.fileno()
            # lighttpd takes the listening socket from fd 3 when LISTEN_FDS=1
            # and LISTEN_PID is its own pid; the shell sets LISTEN_PID to $$,
            # moves the socket to fd 3, closes the original fd, and execs.
            redirect = "" if fd == 3 else f" 3<&{fd} {fd}<&-"
            script = 'LISTEN_PID=$$; export LISTEN_PID; exec "$@"' + redirect
            argv = ["/bin/sh", "-c", script, "sh", lighttpd, "-D", "-f", str(conf)]
            self._spawn(argv, self._server_env({"LISTEN_FDS": "1"}), pass_fds=(fd,))
        finally:
            sock.close()
        try:
            self._wait_ready()
        except _ServerDied as died:
            raise HarnessError(f"lighttpd exited with status {died.returncode} "
                               f"during startup\n{died.log}") from None

    def _write_config(self) -> Path:
        assert self.tmpdir is not None
        tmp = self.tmpdir
        argv = self._responder_argv()
        for arg in argv:
            _conf_value(arg, "responder argument (lighttpd splits bin-path at spaces)",
                        spaces=False)
        if self.mount == "/":
            prefix, match = "/", "^/"
        else:
            prefix, match = self.mount, f"^{re.escape(self.mount)}(/|$)"
        settings = {
            "var.kiro_fcgi_bin": f'"{" ".join(argv)}"',
            "var.kiro_fcgi_socket": f'"{tmp}/sock/kiro-fcgi.sock"',
            "var.kiro_fcgi_procs": str(self.procs),
            "var.kiro_fcgi_prefix": f'"{prefix}"',
            "var.kiro_fcgi_match": f'"{match}"',
            "var.kiro_fcgi_ui_dir": f'"{_conf_value(UI_DIR, "UI directory")}"',
        }
        env = dict(self.env)
        if "KIRO_FCGI_CONFIG" in env:
            config = _conf_value(env.pop("KIRO_FCGI_CONFIG"), "KIRO_FCGI_CONFIG")
            settings["var.kiro_fcgi_config"] = f'"{config}"'
        src = LIGHTTPD_INCLUDE
        text = src.read_text()
        for name, value in settings.items():
            text = _replace_line(text, name, f"{name} = {value}", src)
        if env:
            # Appended right after the shipped environment, before its use.
            pairs = ", ".join(f'"{k}" => "{_conf_value(v, k)}"' for k, v in env.items())
            env_line = re.search(r"^var\.kiro_fcgi_env\s*=.*$", text, re.MULTILINE)
            if env_line is None:
                raise HarnessError(f"{src}: no line assigning var.kiro_fcgi_env")
            text = (text[:env_line.end()] + f"\nvar.kiro_fcgi_env += ( {pairs} )"
                    + text[env_line.end():])
        include = tmp / "kiro-fcgi.conf"
        include.write_text(text)

        conf = tmp / "lighttpd.conf"
        conf.write_text(f"""\
# Generated by tests/integration/harness.py
server.document-root = "{tmp}/www"
server.bind = "{LOOPBACK}"
server.port = {self.port}
server.systemd-socket-activation = "enable"
server.errorlog = "{tmp}/logs/error.log"
server.breakagelog = "{tmp}/logs/responder.log"
server.upload-dirs = ( "{tmp}/upload" )
include "{include}"
""")
        return conf

    def _probe_ok(self, server_header: str) -> bool:
        return server_header.startswith("lighttpd")


class Apache(WebServer):
    """Apache httpd 2.4 (event MPM) + mod_fcgid with the shipped apache/kiro-fcgi.conf."""

    kind = "apache"

    @staticmethod
    def missing() -> str | None:
        """Why Apache + mod_fcgid cannot run here, or None."""
        if find_program("apache2") is None:
            return "apache2 not found: apt-get install apache2"
        for _, filename, package in APACHE_MODULES:
            if not (APACHE_MODULE_DIR / filename).is_file():
                return f"{APACHE_MODULE_DIR / filename} not found: apt-get install {package}"
        return None

    @property
    def responder_user(self) -> str:
        return APACHE_USER if os.geteuid() == 0 else super().responder_user

    def _launch(self) -> None:
        assert self.tmpdir is not None
        why = self.missing()
        if why is not None:
            raise HarnessError(why)
        apache2 = require_program("apache2", "apache2")
        self._prepare_dirs()
        for attempt in range(APACHE_PORT_ATTEMPTS):
            self.port = free_port()
            conf = self._write_config()
            if attempt == 0:
                check = subprocess.run([apache2, "-t", "-f", str(conf)], capture_output=True,
                                       text=True, env=self._server_env())
                if check.returncode != 0:
                    raise HarnessError(f"apache2 -t -f {conf} failed:\n"
                                       f"{check.stdout}{check.stderr}")
            (self.tmpdir / "logs" / "error.log").unlink(missing_ok=True)
            self._spawn([apache2, "-f", str(conf), "-DFOREGROUND"], self._server_env())
            try:
                self._wait_ready()
                return
            except _ServerDied as died:
                self.proc = None
                if "Address already in use" not in died.log:
                    raise HarnessError(f"apache2 exited with status {died.returncode} "
                                       f"during startup\n{died.log}") from None
        raise HarnessError(f"apache2: port taken {APACHE_PORT_ATTEMPTS} times in a row\n"
                           f"{self.error_log()}")

    def _prepare_dirs(self) -> None:
        """Create the IPC directory and make what the responder needs reachable by www-data."""
        assert self.tmpdir is not None
        tmp = self.tmpdir
        self.ui_dir = UI_DIR
        for sub in ("fcgid", "htdocs"):
            (tmp / sub).mkdir()
        if os.geteuid() != 0:
            return  # Apache keeps the invoking user; nothing to hand over.
        uid = pwd.getpwnam(APACHE_USER).pw_uid
        gid = grp.getgrnam(APACHE_USER).gr_gid
        tmp.chmod(0o755)
        for sub in ("fcgid", "trace"):
            os.chown(tmp / sub, uid, gid)
        if subprocess.run(["test", "-r", str(UI_DIR / "index.html")], user=uid, group=gid,
                          extra_groups=[], check=False).returncode != 0:
            # The same for the web UI's files: a copy www-data can read.
            self.ui_dir = tmp / "ui"
            shutil.copytree(UI_DIR, self.ui_dir)
            for path in [self.ui_dir, *self.ui_dir.iterdir()]:
                path.chmod(0o755 if path.is_dir() else 0o644)
        if not self._www_data_can_run(uid, gid):
            # A checkout under /root (CI, a user's home) is closed to
            # www-data; the responder is one self-contained executable
            # (its own code is linked in statically), so a copy does.
            copy = tmp / "bin" / self.binary.name
            copy.parent.mkdir()
            shutil.copy2(self.binary, copy)
            copy.parent.chmod(0o755)
            copy.chmod(0o755)
            self.binary = copy
        self._check_www_data_can_run(uid, gid)

    def _www_data_can_run(self, uid: int, gid: int) -> bool:
        return subprocess.run(["test", "-x", str(self.binary)], user=uid, group=gid,
                              extra_groups=[], check=False).returncode == 0

    def _check_www_data_can_run(self, uid: int, gid: int) -> None:
        """HarnessError naming the first path www-data cannot pass on the way to the binary."""
        checks = [(path, "-x") for path in reversed(self.binary.parents)]
        checks.append((self.binary, "-x"))
        if self.trace:
            # The tracer runs as www-data and must read the binary it loads.
            checks += [(self.binary, "-r"), (Path(self._responder_argv()[0]), "-x")]
        for path, test in checks:
            ok = subprocess.run(["test", test, str(path)], user=uid, group=gid,
                                extra_groups=[], check=False).returncode == 0
            if not ok:
                verb = {"-x": "search" if path.is_dir() else "execute", "-r": "read"}[test]
                raise HarnessError(
                    f"{APACHE_USER} cannot {verb} {path} (mode "
                    f"{oct(path.stat().st_mode & 0o7777)}, owner {path.owner()}:{path.group()}); "
                    f"Apache runs the responder {self.binary} as {APACHE_USER}: make every "
                    f"parent directory searchable (chmod o+x) or build the responder elsewhere")

    def _write_config(self) -> Path:
        assert self.tmpdir is not None
        tmp = self.tmpdir
        run_as = f"User {APACHE_USER}\nGroup {APACHE_USER}\n" if os.geteuid() == 0 else ""
        modules = "".join(f"LoadModule {name} {APACHE_MODULE_DIR / filename}\n"
                          for name, filename, _ in APACHE_MODULES)
        mount_re = "^(/.*)$" if self.mount == "/" else f"^{re.escape(self.mount)}(/.*)?$"
        lines = [
            f'Define KIRO_FCGI_DIR "{_conf_value(self.binary.parent, "responder directory")}"',
            f'Define KIRO_FCGI_NAME "{_conf_value(self.binary.name, "responder name")}"',
            f'Define KIRO_FCGI_MOUNT "{mount_re}"',
            f"Define KIRO_FCGI_MAX_PROCS {self.procs}",
            f"Define KIRO_FCGI_MIN_PROCS {self.procs}",
            f'Define KIRO_FCGI_UI_DIR "{_conf_value(self.ui_dir, "UI directory")}"',
        ]
        env = dict(self.env)
        if "KIRO_FCGI_CONFIG" in env:
            config = _conf_value(env.pop("KIRO_FCGI_CONFIG"), "KIRO_FCGI_CONFIG")
            lines.append(f'Define KIRO_FCGI_CONFIG "{config}"')
        lines += [f'FcgidInitialEnv {k} "{_conf_value(v, k)}"' for k, v in env.items()]
        wrapper = ""
        argv = self._responder_argv()
        if argv != [str(self.binary)]:
            # mod_fcgid splits the wrapper command at spaces.
            for arg in argv:
                _conf_value(arg, "responder argument (FcgidWrapper splits at spaces)", spaces=False)
            wrapper = f'FcgidWrapper "{" ".join(argv)}"\n'
        conf = tmp / "httpd.conf"
        conf.write_text(f"""\
# Generated by tests/integration/harness.py
ServerRoot "{tmp}"
ServerName {LOOPBACK}
Listen {LOOPBACK}:{self.port}
PidFile "{tmp}/run/httpd.pid"
DefaultRuntimeDir "{tmp}/run"
ErrorLog "{tmp}/logs/error.log"
LogLevel warn
{run_as}{modules}StartServers 1
DocumentRoot "{tmp}/htdocs"
FcgidIPCDir "{tmp}/fcgid"
FcgidProcessTableFile "{tmp}/fcgid/shm"
TypesConfig /dev/null
{chr(10).join(lines)}
Include "{APACHE_INCLUDE}"
{wrapper}""")
        return conf

    def _probe_ok(self, server_header: str) -> bool:
        # The pid file proves the answer comes from this Apache, not from
        # whoever else might hold the port.
        assert self.tmpdir is not None and self.proc is not None
        try:
            pid = int((self.tmpdir / "run" / "httpd.pid").read_text().strip())
        except (OSError, ValueError):
            return False
        return pid == self.proc.pid and server_header.startswith("Apache")


# --- HTTP client -------------------------------------------------------------------


class Response(NamedTuple):
    """A whole HTTP response and when each piece of its body arrived."""

    status: int
    reason: str
    headers: http.client.HTTPMessage
    body: bytes
    chunks: list[tuple[float, bytes]]  # (time.monotonic() at arrival, data)

    def json(self):
        """The body parsed as JSON (invalid UTF-8 replaced)."""
        return json.loads(self.body.decode("utf-8", errors="replace"))


class SSEEvent(NamedTuple):
    """One server-sent event: its type, its data lines joined by "\\n", arrival time."""

    event: str
    data: str
    arrival: float


def _connection(url: str, timeout: float) -> tuple[http.client.HTTPConnection, str]:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http":
        raise HarnessError(f"{url}: only http:// URLs are supported")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout), target


def _send(conn: http.client.HTTPConnection, target: str, method: str,
          body: bytes | None, headers: dict[str, str] | None, chunked: bool,
          chunk_size: int) -> None:
    headers = dict(headers or {})
    if chunked:
        data = memoryview(body or b"")
        pieces = (data[i:i + chunk_size] for i in range(0, len(data), chunk_size))
        conn.request(method, target, body=pieces, headers=headers, encode_chunked=True)
    else:
        conn.request(method, target, body=body, headers=headers)


def iter_chunks(resp: http.client.HTTPResponse, size: int = 65536) -> Iterator[tuple[float, bytes]]:
    """Yield (arrival time, data) for each piece of resp's body as it arrives."""
    while True:
        data = resp.read1(size)
        if not data:
            return
        yield time.monotonic(), data


def request(url: str, method: str = "GET", body: bytes | None = None,
            headers: dict[str, str] | None = None, *, chunked: bool = False,
            chunk_size: int = 65536, timeout: float = 120.0) -> Response:
    """Send one request and read the whole response, recording chunk arrival times.

    chunked=True sends body with Transfer-Encoding: chunked (no Content-Length).
    """
    conn, target = _connection(url, timeout)
    try:
        _send(conn, target, method, body, headers, chunked, chunk_size)
        resp = conn.getresponse()
        chunks = list(iter_chunks(resp))
        return Response(resp.status, resp.reason, resp.headers,
                        b"".join(data for _, data in chunks), chunks)
    finally:
        conn.close()


@contextlib.contextmanager
def open_stream(url: str, method: str = "GET", body: bytes | None = None,
                headers: dict[str, str] | None = None, *, chunked: bool = False,
                timeout: float = 120.0) -> Iterator[http.client.HTTPResponse]:
    """Send one request and yield the response unread, for iter_chunks() or sse_events()."""
    conn, target = _connection(url, timeout)
    try:
        _send(conn, target, method, body, headers, chunked, 65536)
        yield conn.getresponse()
    finally:
        conn.close()


_LINE_END = re.compile(rb"\r\n|\r|\n")


def sse_events(source: http.client.HTTPResponse | Iterable[tuple[float, bytes]],
               ) -> Iterator[SSEEvent]:
    """Parse a text/event-stream incrementally into SSEEvent(event, data, arrival).

    source is a response (read as it arrives) or (arrival, bytes) pairs such as
    Response.chunks.  An event's arrival is the arrival of the chunk holding the
    blank line that ends it.  Follows the WHATWG rules: "event" and "data"
    fields, comments (":") ignored, events without data not dispatched.
    """
    chunks = iter_chunks(source) if isinstance(source, http.client.HTTPResponse) else source
    pending = b""
    event, data_lines = "", []
    for arrival, data in chunks:
        pending += data
        while True:
            match = _LINE_END.search(pending)
            # A lone CR at the end may be the first half of CRLF: wait for more.
            if match is None or (match.group() == b"\r" and match.end() == len(pending)):
                break
            line = pending[:match.start()].decode("utf-8", errors="replace")
            pending = pending[match.end():]
            if line == "":
                if data_lines:
                    yield SSEEvent(event or "message", "\n".join(data_lines), arrival)
                event, data_lines = "", []
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            if value.startswith(" "):
                value = value[1:]
            if name == "event":
                event = value
            elif name == "data":
                data_lines.append(value)
