"""Typed settings: one TOML file, environment overrides, validated once at start-up.

Order of precedence (lowest first): built-in defaults, the TOML file (``--config PATH`` or
``CBSI_CONNECT_CONFIG``), single-key environment overrides ``CBSI_CONNECT_<SECTION>__<KEY>``
(for example ``CBSI_CONNECT_DATABASE__URL``), then an explicit mapping (tests).

Every problem stops start-up with a :class:`SettingsError` naming the offending key.
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV_CONFIG = "CBSI_CONNECT_CONFIG"
ENV_PREFIX = "CBSI_CONNECT_"


class SettingsError(Exception):
    """The configuration is not valid; the message names the key to fix."""

    code = "invalid_settings"

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        self.problem = problem
        super().__init__(f"configuration key '{key}': {problem}")


@dataclass(frozen=True, kw_only=True)
class ServerSettings:
    """Web service identity and behaviour."""

    base_url: str = "http://localhost:5000"
    bind: str = "127.0.0.1:5000"
    workers: int = 2
    threads: int = 8
    secret_key: str = ""
    demo: bool = False
    log_level: str = "INFO"
    instance_folder: str = "instance"
    max_request_bytes: int = 16 * 1024 * 1024
    # Reverse proxies (addresses or CIDR ranges) whose X-Forwarded-For is believed; empty: the
    # TCP peer is the client (rate limits and lock-outs count per client address).
    trusted_proxies: tuple[str, ...] = ()
    # Operator (admin) sessions: server-side rows, absolute and idle lifetime.
    admin_session_max_seconds: int = 8 * 3600
    admin_session_idle_seconds: int = 30 * 60
    # Operator login lock-out: failed logins allowed per account and per client address in one
    # window; further attempts (even with the right password) wait for the window to end.
    admin_login_max_failures: int = 5
    admin_login_max_failures_per_address: int = 20
    admin_login_window_seconds: int = 15 * 60
    # "text" (readable lines) or "json" (one JSON object per line; recommended in production).
    log_format: str = "text"


@dataclass(frozen=True, kw_only=True)
class DatabaseSettings:
    """Storage engine. Empty ``url`` means embedded SQLite under the instance folder."""

    url: str = ""
    echo: bool = False
    pool_size: int = 10


@dataclass(frozen=True, kw_only=True)
class ContentSettings:
    """Where imported package files live and from which origin they are served."""

    folder: str = ""
    origin: str = ""
    url_ttl_seconds: int = 4 * 3600


@dataclass(frozen=True, kw_only=True)
class KeySettings:
    """The tool's signing keys."""

    folder: str = "keys"
    rotation_overlap_seconds: int = 7 * 24 * 3600
    bits: int = 2048


@dataclass(frozen=True, kw_only=True)
class LtiSettings:
    """LTI 1.3 launch hardening and registration."""

    clock_leeway_seconds: int = 60
    jwks_cache_ttl_seconds: int = 3600
    jwks_refetch_min_interval_seconds: int = 30
    launch_state_ttl_seconds: int = 600
    http_timeout_seconds: float = 10.0
    auto_approve_issuers: tuple[str, ...] = ()
    tool_name: str = "CBSI-Connect"
    #: Plain-http platform issuers accepted outside demo mode (staging LMSs only; off by default, logged loudly).
    insecure_issuers: tuple[str, ...] = ()
    # A disabled platform's tokens, content links, class views and player pages are refused within
    # this many seconds on every node (each node caches a platform's status this long).
    platform_status_cache_seconds: int = 30
    # Anonymous endpoints, per client address: /lti/login starts per minute, /lti/register per hour.
    login_rate_per_minute: int = 300
    register_rate_per_hour: int = 20
    # Open (unexpired) login states kept at most; beyond it /lti/login answers 503 with Retry-After.
    max_open_logins: int = 20000
    # Dynamic registrations awaiting approval: at most this many, forgotten after this long.
    max_pending_registrations: int = 50
    pending_registration_ttl_seconds: int = 7 * 24 * 3600


@dataclass(frozen=True, kw_only=True)
class PackageSettings:
    """Import limits for course packages."""

    max_total_bytes: int = 4 * 1024**3
    max_compression_ratio: int = 200
    max_entries: int = 20000
    max_manifest_bytes: int = 8 * 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class PlayerSettings:
    """Attempts and the runtime API."""

    attempt_policy: str = "resume"
    max_attempts: int = 0
    token_ttl_seconds: int = 12 * 3600
    commit_max_bytes: int = 512 * 1024
    preview_ttl_seconds: int = 30 * 60


@dataclass(frozen=True, kw_only=True)
class SyncSettings:
    """Grade delivery worker."""

    concurrency_per_platform: int = 4
    global_concurrency: int = 32
    poll_interval_seconds: float = 5.0
    lease_seconds: int = 120
    batch_size: int = 200
    http_timeout_seconds: float = 10.0
    backoff_base_seconds: float = 5.0
    backoff_cap_seconds: float = 3600.0


@dataclass(frozen=True, kw_only=True)
class OutboundSettings:
    """Every call to another server: total deadline, size cap, internal-address allow-list."""

    deadline_seconds: float = 15.0
    connect_timeout_seconds: float = 3.05
    max_response_bytes: int = 8 * 1024 * 1024
    pool_connections: int = 32
    pool_maxsize: int = 16
    allow_private: tuple[str, ...] = ()
    service_hosts: tuple[str, ...] = ()
    ca_bundle: str = ""


@dataclass(frozen=True, kw_only=True)
class MetricsSettings:
    """Who may read ``/metrics`` (see config.example.toml [metrics])."""

    token: str = ""
    listen: str = ""
    allow_from: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class ForwardingSettings:
    """Copies of academies' statements to their own LRSs (``cbsi-connect platforms forward``)."""

    batch_size: int = 50
    max_batch_bytes: int = 1_000_000
    settle_seconds: float = 10.0
    poll_interval_seconds: float = 2.0
    lease_seconds: int = 300


@dataclass(frozen=True, kw_only=True)
class Settings:
    """All settings of one service instance."""

    server: ServerSettings = field(default_factory=ServerSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    content: ContentSettings = field(default_factory=ContentSettings)
    keys: KeySettings = field(default_factory=KeySettings)
    lti: LtiSettings = field(default_factory=LtiSettings)
    packages: PackageSettings = field(default_factory=PackageSettings)
    player: PlayerSettings = field(default_factory=PlayerSettings)
    sync: SyncSettings = field(default_factory=SyncSettings)
    outbound: OutboundSettings = field(default_factory=OutboundSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    forwarding: ForwardingSettings = field(default_factory=ForwardingSettings)

    @functools.cached_property
    def instance_path(self) -> Path:
        """Absolute instance folder (SQLite file, content, runtime files); resolved once (every
        launch and content request asks)."""
        return Path(self.server.instance_folder).resolve()

    @property
    def database_url(self) -> str:
        """The effective SQLAlchemy URL."""
        if self.database.url:
            return self.database.url
        return f"sqlite:///{self.instance_path / 'cbsi-connect.sqlite3'}"

    @functools.cached_property
    def content_path(self) -> Path:
        """Absolute folder holding extracted packages (resolved once)."""
        if self.content.folder:
            return Path(self.content.folder).resolve()
        return self.instance_path / "content"

    @property
    def content_origin(self) -> str:
        """Base URL under which package files are served."""
        return (self.content.origin or self.server.base_url.rstrip("/") + "/content").rstrip("/")

    @property
    def keys_path(self) -> Path:
        """Absolute folder of the tool's private keys."""
        return Path(self.keys.folder).resolve()


_SECTION_TYPES: dict[str, type] = {
    "server": ServerSettings,
    "database": DatabaseSettings,
    "content": ContentSettings,
    "keys": KeySettings,
    "lti": LtiSettings,
    "packages": PackageSettings,
    "player": PlayerSettings,
    "sync": SyncSettings,
    "outbound": OutboundSettings,
    "metrics": MetricsSettings,
    "forwarding": ForwardingSettings,
}


def _coerce(key: str, value: Any, annotation: Any) -> Any:
    """Check ``value`` against the field's declared type and return it normalised."""
    origin = typing.get_origin(annotation)
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise SettingsError(key, f"expected true or false, got {value!r}")
    if annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise SettingsError(key, f"expected a whole number, got {value!r}")
    if annotation is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise SettingsError(key, f"expected a number, got {value!r}")
    if annotation is str:
        if isinstance(value, str):
            return value
        raise SettingsError(key, f"expected a string, got {value!r}")
    if origin is tuple:
        if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            return tuple(value)
        raise SettingsError(key, f"expected a list of strings, got {value!r}")
    if origin in (typing.Union, types.UnionType):  # pragma: no cover - no such fields yet
        return value
    raise SettingsError(key, f"unsupported setting type {annotation!r}")  # pragma: no cover


def _parse_env_value(raw: str) -> Any:
    """Read an environment value as a TOML literal when it is one, else as a string."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _env_overrides(environ: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name == ENV_CONFIG or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("__")
        out.setdefault(section, {})[key] = _parse_env_value(raw)
    return out


def _merge(base: dict[str, dict[str, Any]], extra: Mapping[str, Any], origin: str) -> None:
    for section, values in extra.items():
        if section not in _SECTION_TYPES:
            raise SettingsError(section, f"unknown section in {origin}")
        if not isinstance(values, Mapping):
            raise SettingsError(section, f"must be a table of keys in {origin}")
        base.setdefault(section, {}).update(values)


def build_settings(raw: Mapping[str, Mapping[str, Any]]) -> Settings:
    """Validate a nested mapping into :class:`Settings`.

    Raises:
        SettingsError: unknown key, wrong type or missing required value.
    """
    sections: dict[str, Any] = {}
    for section, cls in _SECTION_TYPES.items():
        values = dict(raw.get(section, {}))
        hints = typing.get_type_hints(cls)
        known = {f.name for f in dataclasses.fields(cls)}
        for key in values:
            if key not in known:
                raise SettingsError(f"{section}.{key}", "unknown key (check the spelling against config.example.toml)")
        kwargs = {k: _coerce(f"{section}.{k}", v, hints[k]) for k, v in values.items()}
        sections[section] = cls(**kwargs)
    for section in raw:
        if section not in _SECTION_TYPES:
            raise SettingsError(section, "unknown section")
    settings = Settings(**sections)
    _check(settings)
    return settings


def _check(settings: Settings) -> None:
    server = settings.server
    if not server.demo and len(server.secret_key) < 32:
        raise SettingsError(
            "server.secret_key",
            "is required outside demo mode and must be at least 32 characters "
            '(generate one with: python3 -c "import secrets; print(secrets.token_urlsafe(48))")',
        )
    if not server.base_url.startswith(("http://", "https://")):
        raise SettingsError("server.base_url", "must start with http:// or https://")
    if server.log_level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise SettingsError("server.log_level", "must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
    if server.log_format not in ("text", "json"):
        raise SettingsError("server.log_format", 'must be "text" or "json"')
    for key, value in (
        ("server.workers", server.workers),
        ("server.threads", server.threads),
        ("sync.concurrency_per_platform", settings.sync.concurrency_per_platform),
        ("sync.global_concurrency", settings.sync.global_concurrency),
        ("keys.bits", settings.keys.bits),
        ("forwarding.batch_size", settings.forwarding.batch_size),
        ("forwarding.max_batch_bytes", settings.forwarding.max_batch_bytes),
        ("forwarding.lease_seconds", settings.forwarding.lease_seconds),
    ):
        if value < 1:
            raise SettingsError(key, "must be at least 1")
    if settings.forwarding.settle_seconds < 0 or settings.forwarding.poll_interval_seconds <= 0:
        raise SettingsError("forwarding", "settle_seconds must be 0 or more and poll_interval_seconds more than 0")
    if settings.keys.bits < 2048:
        raise SettingsError("keys.bits", "RSA keys must be at least 2048 bits")
    if settings.player.attempt_policy not in ("resume", "new"):
        raise SettingsError("player.attempt_policy", 'must be "resume" or "new"')
    if settings.player.max_attempts < 0:
        raise SettingsError("player.max_attempts", "must be 0 (no limit) or more")
    if settings.lti.clock_leeway_seconds < 0 or settings.lti.clock_leeway_seconds > 600:
        raise SettingsError("lti.clock_leeway_seconds", "must be between 0 and 600")
    for issuer in settings.lti.insecure_issuers:
        if not issuer.startswith("http://") or len(issuer) <= len("http://"):
            raise SettingsError(
                "lti.insecure_issuers",
                f'lists plain-http issuers only (e.g. "http://moodle-staging.academy.local"), got {issuer!r}',
            )
    _check_limits(settings)
    _check_outbound(settings.outbound)
    _check_metrics(settings.metrics)


def _check_limits(settings: Settings) -> None:
    import ipaddress

    for proxy in settings.server.trusted_proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError as exc:
            raise SettingsError("server.trusted_proxies", f"{proxy!r} is not an IP address or CIDR range") from exc
    for key, value in (
        ("server.admin_session_max_seconds", settings.server.admin_session_max_seconds),
        ("server.admin_session_idle_seconds", settings.server.admin_session_idle_seconds),
        ("server.admin_login_max_failures", settings.server.admin_login_max_failures),
        ("server.admin_login_max_failures_per_address", settings.server.admin_login_max_failures_per_address),
        ("server.admin_login_window_seconds", settings.server.admin_login_window_seconds),
        ("lti.login_rate_per_minute", settings.lti.login_rate_per_minute),
        ("lti.register_rate_per_hour", settings.lti.register_rate_per_hour),
        ("lti.max_open_logins", settings.lti.max_open_logins),
        ("lti.max_pending_registrations", settings.lti.max_pending_registrations),
        ("lti.pending_registration_ttl_seconds", settings.lti.pending_registration_ttl_seconds),
    ):
        if value < 1:
            raise SettingsError(key, "must be at least 1")
    if settings.lti.platform_status_cache_seconds < 0 or settings.lti.platform_status_cache_seconds > 300:
        raise SettingsError("lti.platform_status_cache_seconds", "must be between 0 and 300")


def _check_outbound(out: OutboundSettings) -> None:
    for key, value in (
        ("outbound.deadline_seconds", out.deadline_seconds),
        ("outbound.connect_timeout_seconds", out.connect_timeout_seconds),
    ):
        if not 0 < value <= 600:
            raise SettingsError(key, "must be more than 0 and at most 600 seconds")
    for key, number in (
        ("outbound.max_response_bytes", out.max_response_bytes),
        ("outbound.pool_connections", out.pool_connections),
        ("outbound.pool_maxsize", out.pool_maxsize),
    ):
        if number < 1:
            raise SettingsError(key, "must be at least 1")
    for entry in out.allow_private:
        text = entry.strip()
        if not text or "://" in text or "@" in text or any(c.isspace() for c in text):
            raise SettingsError(
                "outbound.allow_private", f"{entry!r} is neither a network (10.1.2.0/24) nor a host name"
            )
        if "/" in text:
            try:
                ipaddress.ip_network(text, strict=False)
            except ValueError as exc:
                raise SettingsError("outbound.allow_private", f"{entry!r} is not a network: {exc}") from exc
    for entry in out.service_hosts:
        if not entry.strip() or "/" in entry or any(c.isspace() for c in entry):
            raise SettingsError("outbound.service_hosts", f"{entry!r} is not a host or host:port")
    if out.ca_bundle and not Path(out.ca_bundle).is_file():
        raise SettingsError("outbound.ca_bundle", f"{out.ca_bundle} is not a readable PEM file")


def _check_metrics(metrics: MetricsSettings) -> None:
    if metrics.token and len(metrics.token) < 24:
        raise SettingsError("metrics.token", "must be at least 24 characters (or empty: no token)")
    if metrics.listen:
        host, _, port = metrics.listen.rpartition(":")
        try:
            ipaddress.ip_address(host.strip("[]"))
            valid = port.isdigit() and 0 < int(port) < 65536
        except ValueError:
            valid = False
        if not valid:
            raise SettingsError("metrics.listen", 'must be "IP:port" of an internal address, e.g. "127.0.0.1:9464"')
    for network in metrics.allow_from:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError as exc:
            raise SettingsError("metrics.allow_from", f"{network!r} is not an IP address or network") from exc


def load_settings(
    path: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Settings:
    """Load settings from a TOML file, environment and overrides.

    Args:
        path: TOML file; defaults to ``$CBSI_CONNECT_CONFIG``; no file means defaults.
        environ: environment to read overrides from (defaults to ``os.environ``).
        overrides: a nested mapping applied last (tests, the ``demo`` command).

    Raises:
        SettingsError: the file is missing or unreadable, or a value is invalid.
    """
    env = os.environ if environ is None else environ
    raw: dict[str, dict[str, Any]] = {}
    config_path = path or env.get(ENV_CONFIG)
    if config_path:
        file = Path(config_path)
        try:
            with file.open("rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError as exc:
            raise SettingsError("--config", f"file {file} does not exist") from exc
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError("--config", f"{file} is not valid TOML: {exc}") from exc
        _merge(raw, data, str(file))
    _merge(raw, _env_overrides(env), "the environment")
    if overrides:
        _merge(raw, overrides, "overrides")
    return build_settings(raw)
