"""The scale-out layout on one machine: two web nodes and two grade workers on one PostgreSQL,
HAProxy in front with TLS from a throwaway CA, one shared instance/content/keys folder.

Every process is started from what ``deploy/`` ships: the web and sync commands are read from the
systemd units' ``ExecStart`` (``%i`` and the install prefix substituted), the load balancer runs
``deploy/haproxy.cfg`` as it is, configured through its environment variables.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
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
from html import unescape
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


def write_config(folder: Path, database_url: str, base: str, port: int, ca: Path) -> Path:
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

[outbound]
ca_bundle = "{ca}"

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


# -- one release's processes, launches through the development LMS ------------------------------

PLAYER_CONFIG = re.compile(r'<script type="application/json" id="cbsi-player-config"[^>]*>(.*?)</script>', re.S)


def instance_env(database: str, folder: Path) -> dict[str, str]:
    """The environment of a demo-mode instance on ``database`` with its folders under ``folder``."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("CBSI_", "PYTHON"))},
        "CBSI_CONNECT_DATABASE__URL": database,
        "CBSI_CONNECT_SERVER__DEMO": "true",
        "CBSI_CONNECT_SERVER__SECRET_KEY": "operations-test-secret-" + "o" * 40,
        "CBSI_CONNECT_SERVER__INSTANCE_FOLDER": str(folder / "instance"),
        "CBSI_CONNECT_SERVER__LOG_LEVEL": "WARNING",
        "CBSI_CONNECT_CONTENT__FOLDER": str(folder / "content"),
        "CBSI_CONNECT_KEYS__FOLDER": str(folder / "keys"),
    }


class Release:
    """One release's code: its CLI run from its own tree with this checkout's environment."""

    def __init__(self, tree: Path, env: dict[str, str]) -> None:
        self.tree, self.env = tree, env

    def cli(self, *args: str, extra: dict[str, str] | None = None) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "lti_tool", *args],
            cwd=self.tree,
            env={**self.env, **(extra or {})},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise AssertionError(f"{self.tree.name}: cbsi-connect {' '.join(args)} failed:\n{done.stderr[-2000:]}")
        return done.stdout

    def serve(self, port: int, log: Path) -> subprocess.Popen[bytes]:
        with log.open("wb") as fh:
            return subprocess.Popen(
                [sys.executable, "-m", "lti_tool", "serve", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
                cwd=self.tree,
                env={**self.env, "CBSI_CONNECT_SERVER__BASE_URL": f"http://127.0.0.1:{port}"},
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )


def seed_release(release: Release, base: str) -> None:
    """The development LMS of ``base`` and the sample course, with this release's own code."""
    # the development LMS moved into lti_tool.devlms; a previous release has the old module paths
    moved = (release.tree / "lti_tool" / "devlms").is_dir()
    seed_module, identity_module = ("devlms.seed", "devlms.identity") if moved else ("demo", "lti.devplatform")
    script = (
        "from pathlib import Path\n"
        "from lti_tool.catalogue import import_package\n"
        f"from lti_tool.{seed_module} import build_demo_package\n"
        f"from lti_tool.{identity_module} import ensure_registered\n"
        "from lti_tool.services import build_services\n"
        "from lti_tool.settings import load_settings\n"
        "s = build_services(load_settings())\n"
        f"ensure_registered(s.db, {base!r})\n"
        "import_package(s, build_demo_package(Path('demo-course.zip')), imported_by='upgrade test')\n"
        "import lti_tool; print(lti_tool.__file__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=release.tree, env=release.env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().startswith(str(release.tree)), f"ran the wrong tree's code: {done.stdout}"


def launch(base: str, learner: str) -> tuple[requests.Session, dict[str, Any]]:
    """A learner's launch from the development LMS of ``base``, as a browser makes it: the
    session and the player's configuration."""
    s = requests.Session()
    s.trust_env = False
    assert s.get(f"{base}/dev/platform", timeout=15).status_code == 200  # its home page makes the activity
    auth = s.get(f"{base}/dev/platform/launch?user={learner}&link=1", timeout=15)
    form = re.search(r'<form id="form_post" method="post" action="([^"]+)"', auth.text)
    assert auth.status_code == 200 and form is not None, auth.text[:500]
    fields = {unescape(n): unescape(v) for n, v in re.findall(r'name="([^"]+)" value="([^"]*)"', auth.text)}
    for cookie in s.cookies:
        cookie.secure = False  # http://127.0.0.1 is a secure context for browsers
    page = s.post(unescape(form.group(1)), data=fields, timeout=15)
    config = PLAYER_CONFIG.search(page.text)
    assert page.status_code == 200 and config is not None, page.text[:500]
    return s, json.loads(config.group(1))


def commit(
    s: requests.Session, base: str, runtime: dict[str, Any], seq: int, changes: dict[str, str], **extra: Any
) -> None:
    """One runtime commit of the launched SCO (``extra``: e.g. ``terminate=True``)."""
    headers = {"Authorization": f"Bearer {runtime['token']}"}
    body = {"seq": seq, "changes": changes, **extra}
    answer = s.post(base + runtime["commitUrl"], json=body, headers=headers, timeout=15)
    assert answer.status_code == 200, answer.text


def launch_and_commit(base: str, learner: str) -> str:
    """A launch and two commits (incomplete, then passed with 80); the attempt id."""
    s, config = launch(base, learner)
    runtime = config["runtime"]
    for n, status in ((1, "incomplete"), (2, "passed")):
        commit(s, base, runtime, runtime["seq"] + n, {"cmi.core.lesson_status": status, "cmi.core.score.raw": "80"})
    return str(runtime["attemptId"])


def ready(base: str) -> dict[str, str] | None:
    try:
        answer = requests.get(base + "/ready", timeout=2)
    except requests.RequestException:
        return None
    return answer.json() if answer.status_code == 200 else None


