"""The scale-out layout on one machine: two web nodes and two grade workers on one PostgreSQL,
HAProxy in front with TLS from a throwaway CA, one shared instance/content/keys folder.

Every process is started from what ``deploy/`` ships: the web and sync commands are read from the
systemd units' ``ExecStart`` (``%i`` and the install prefix substituted), the load balancer runs
``deploy/haproxy.cfg`` as it is, configured through its environment variables.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
HAPROXY = "/usr/sbin/haproxy"
INSTALL_PREFIX = "/opt/cbsi/.venv/bin/"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# -- a throwaway certificate authority ----------------------------------------------------------


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_tls(folder: Path) -> tuple[Path, Path]:
    """A CA and a server certificate for 127.0.0.1/localhost; returns (CA PEM, chain+key PEM)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("CBSI scale-out test CA"))
        .issuer_name(_name("CBSI scale-out test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem = folder / "ca.pem"
    ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    bundle = folder / "lb.pem"
    bundle.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + ca.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    bundle.chmod(0o600)
    return ca_pem, bundle


# -- the shipped units --------------------------------------------------------------------------


def unit_command(unit: str, instance: str) -> list[str]:
    """The ``ExecStart`` of a shipped systemd unit, for this checkout's virtual environment."""
    text = (DEPLOY / "systemd" / unit).read_text()
    match = re.search(r"^ExecStart=(.+)$", text, re.MULTILINE)
    if match is None:
        raise AssertionError(f"deploy/systemd/{unit} has no ExecStart")
    argv = shlex.split(match.group(1).replace("%i", instance))
    if not argv[0].startswith(INSTALL_PREFIX):
        raise AssertionError(f"deploy/systemd/{unit}: ExecStart should run {INSTALL_PREFIX}…, not {argv[0]}")
    argv[0] = str(Path(sys.executable).parent / argv[0].removeprefix(INSTALL_PREFIX))
    return argv


def unit_config_variable(unit: str) -> str:
    """The configuration file variable a shipped unit sets (``CBSI_CONNECT_CONFIG``)."""
    text = (DEPLOY / "systemd" / unit).read_text()
    match = re.search(r"^Environment=(CBSI_CONNECT_CONFIG)=", text, re.MULTILINE)
    if match is None:
        raise AssertionError(f"deploy/systemd/{unit} does not set CBSI_CONNECT_CONFIG")
    return match.group(1)


@dataclass
class Proc:
    """A process group we started (gunicorn forks workers: kill -9 must reach all of them)."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill9(self) -> None:
        os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self) -> None:
        if self.popen.poll() is not None:
            return
        try:
            os.killpg(self.popen.pid, signal.SIGTERM)
            self.popen.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.popen.wait(timeout=10)

    def tail(self, lines: int = 40) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Layout:
    """The running layout; ``base`` is the load balancer's https URL."""

    folder: Path
    config: Path
    ca: Path
    env: dict[str, str]
    base: str
    web_ports: list[int]
    stats_socket: Path
    procs: dict[str, Proc] = field(default_factory=dict)

    def start(self, name: str, argv: list[str], extra_env: dict[str, str] | None = None) -> Proc:
        log = self.folder / f"{name}.log"
        fh = log.open("ab")
        popen = subprocess.Popen(
            argv,
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**self.env, **(extra_env or {})},
            cwd=self.folder,
            start_new_session=True,
        )
        fh.close()
        proc = Proc(name, popen, log)
        self.procs[name] = proc
        return proc

    def start_web(self, name: str, port: int) -> Proc:
        return self.start(name, unit_command("cbsi-connect-web@.service", str(port)))

    def start_worker(self, name: str) -> Proc:
        return self.start(name, unit_command("cbsi-connect-sync@.service", name))

    def start_balancer(self) -> Proc:
        return self.start("haproxy", [HAPROXY, "-db", "-f", str(DEPLOY / "haproxy.cfg")])

    def stop_all(self) -> None:
        for proc in reversed(list(self.procs.values())):
            proc.stop()

    def session(self) -> requests.Session:
        return tls_session(self.ca)

    def backend_states(self) -> dict[str, str]:
        """HAProxy's view of each web node (``UP``, ``DOWN``, …) from its stats socket."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(str(self.stats_socket))
            s.sendall(b"show stat\n")
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
        rows = b"".join(chunks).decode().splitlines()
        header = rows[0].lstrip("# ").split(",")
        states = {}
        for row in rows[1:]:
            cells = dict(zip(header, row.split(","), strict=False))
            if cells.get("pxname") == "cbsi_web" and cells.get("svname", "").startswith("web"):
                states[cells["svname"]] = cells.get("status", "")
        return states


def tls_session(ca: Path) -> requests.Session:
    """A client trusting only the test CA (``trust_env`` off: a REQUESTS_CA_BUNDLE in the
    environment would otherwise replace ``verify``)."""
    s = requests.Session()
    s.trust_env = False
    s.verify = str(ca)
    return s


def write_config(folder: Path, database_url: str, base: str, port: int) -> Path:
    config = folder / "cbsi-connect.toml"
    config.write_text(
        f"""[server]
base_url = "{base}"
bind = "127.0.0.1:{port}"
workers = 1
threads = 8
secret_key = "scale-out-test-secret-{"s" * 40}"
demo = true
log_level = "WARNING"
instance_folder = "{folder / "instance"}"

[database]
url = "{database_url}"
pool_size = 10

[content]
folder = "{folder / "content"}"

[keys]
folder = "{folder / "keys"}"

[sync]
poll_interval_seconds = 0.5
lease_seconds = 6
backoff_base_seconds = 0.5
backoff_cap_seconds = 2.0
"""
    )
    return config


def run_cli(layout: Layout, *args: str) -> str:
    cli = str(Path(sys.executable).parent / "cbsi-connect")
    done = subprocess.run(
        [cli, *args], env=layout.env, cwd=layout.folder, capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        raise AssertionError(f"cbsi-connect {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout
