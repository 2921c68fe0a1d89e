"""Every setting of the service, read once from the environment and `.env`, validated once."""

from __future__ import annotations

import ipaddress
import os
import re
import shlex
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from dotenv import dotenv_values

from . import engine as engine_api
from .engine import TLSConfig, base_url, check_image_ref, socket_path
from .errors import ConfigError
from .hostports import HostPort, parse_port_list

__all__ = ["Config", "ConfigError", "DEFAULT_BIND", "ipv6_loopback_usable", "listen_addresses"]

#: Both loopbacks: a panel calls `http://localhost:7200/v1`, and a client that resolves
#: `localhost` to `::1` first (Debian's /etc/hosts lists it; Node before 20 does not fall
#: back to 127.0.0.1) must find the service there too.
DEFAULT_BIND = "127.0.0.1:7200,[::1]:7200"


_N = TypeVar("_N", int, float)
_INSTANCE = re.compile(r"[A-Za-z0-9_.:/-]{1,128}")


def _checked(name: str, check: Callable[[str], object], raw: str) -> str:
    """`raw` if the engine library's `check` accepts it; its refusal names the field."""
    try:
        check(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from None
    return raw


def _parsed(name: str, raw: str, parse: Callable[[str], _N], expected: str) -> _N:
    """`parse(raw)`; a refusal names the field and what it expected."""
    try:
        return parse(raw)
    except ValueError:
        raise ConfigError(f"{name}: expected {expected}, got {raw!r}") from None


def _int(name: str, raw: str, lo: int, hi: int) -> int:
    if not lo <= (value := _parsed(name, raw, int, "an integer")) <= hi:
        raise ConfigError(f"{name}: must be between {lo} and {hi}, got {value}")
    return value


def _float(name: str, raw: str, lo: float, hi: float) -> float:
    if not lo <= (value := _parsed(name, raw, float, "a number")) <= hi:
        raise ConfigError(f"{name}: must be between {lo:g} and {hi:g}, got {raw}")
    return value


def _bool(name: str, raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}: expected true or false, got {raw!r}")


def _backup_settings(get) -> dict[str, object]:  # noqa: ANN001 - from_mapping's reader
    """Backups and disk use (docs/contract.md §6.3)."""
    kw: dict[str, object] = {}
    if (raw := get("backup_dir")) is not None:
        if not Path(raw).is_absolute():
            raise ConfigError(f"backup_dir: must be an absolute path, got {raw!r}")
        kw["backup_dir"] = str(Path(raw))
    if (raw := get("backup_keep")) is not None:
        kw["backup_keep"] = _int("backup_keep", raw, 1, 1000)
    if (raw := get("backup_max")) is not None:
        kw["backup_max"] = int(_float("backup_max", raw, 0.001, 10_000) * 2**30)  # GiB
    if (raw := get("restore_max_expanded")) is not None:
        kw["restore_max_expanded"] = int(_float("restore_max_expanded", raw, 0.001, 100_000) * 2**30)  # GiB
    if (raw := get("backup_on_delete")) is not None:
        kw["backup_on_delete"] = _bool("backup_on_delete", raw)
    if (raw := get("backup_deleted_days")) is not None:
        kw["backup_deleted_days"] = _int("backup_deleted_days", raw, 0, 3650)
    kw.update(_restic_settings(get))
    if (raw := get("disk_interval")) is not None:
        kw["disk_interval"] = _float("disk_interval", raw, 5, 86400)
    if (raw := get("disk_enforce")) is not None:
        if raw not in ("none", "stop"):
            raise ConfigError(f"disk_enforce: expected none or stop, got {raw!r}")
        kw["disk_enforce"] = raw
    return kw


_TIME_OF_DAY = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")


def _schedule_settings(get) -> dict[str, object]:  # noqa: ANN001 - from_mapping's reader
    """The daily backup schedule and the retention policy (docs/contract.md §6.3, backups)."""
    kw: dict[str, object] = {}
    if (raw := get("backup_schedule")) is not None:
        if not _TIME_OF_DAY.fullmatch(raw):
            raise ConfigError(f"backup_schedule: expected a UTC time of day HH:MM such as 02:30, got {raw[:20]!r}")
        kw["backup_schedule"] = raw
    if (raw := get("backup_window")) is not None:
        kw["backup_window"] = _int("backup_window", raw, 0, 1440)  # minutes
    if (raw := get("backup_concurrency")) is not None:
        kw["backup_concurrency"] = _int("backup_concurrency", raw, 1, 64)
    for name in ("backup_keep_daily", "backup_keep_weekly", "backup_keep_monthly"):
        if (raw := get(name)) is not None:
            kw[name] = _int(name, raw, 0, 10000)
    return kw


#: What restic's backends read from its environment (restic's docs, "Preparing a new
#: repository"), passed through from dockerlink's own (or `.env`) to restic, and to nothing else.
RESTIC_BACKEND_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
    "AWS_PROFILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "RESTIC_REST_USERNAME",
    "RESTIC_REST_PASSWORD",
    "B2_ACCOUNT_ID",
    "B2_ACCOUNT_KEY",
    "AZURE_ACCOUNT_NAME",
    "AZURE_ACCOUNT_KEY",
    "AZURE_ACCOUNT_SAS",
    "GOOGLE_PROJECT_ID",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_ACCESS_TOKEN",
    "OS_AUTH_URL",
    "OS_REGION_NAME",
    "OS_USERNAME",
    "OS_USER_ID",
    "OS_PASSWORD",
    "OS_TENANT_ID",
    "OS_TENANT_NAME",
    "OS_USER_DOMAIN_NAME",
    "OS_PROJECT_NAME",
    "OS_PROJECT_DOMAIN_NAME",
    "OS_APPLICATION_CREDENTIAL_ID",
    "OS_APPLICATION_CREDENTIAL_NAME",
    "OS_APPLICATION_CREDENTIAL_SECRET",
    "OS_STORAGE_URL",
    "OS_AUTH_TOKEN",
    "ST_AUTH",
    "ST_USER",
    "ST_KEY",
    "RCLONE_BWLIMIT",
    "RESTIC_CACERT",
    "RESTIC_TLS_CLIENT_CERT",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
)
BACKUP_TARGETS = ("local", "restic")


def _restic_settings(get) -> dict[str, object]:  # noqa: ANN001 - from_mapping's reader
    """The restic target (docs/contract.md §6.3): its repository, its password file, the
    backend's variables, and which target a backup goes to by default."""
    kw: dict[str, object] = {}
    if (raw := get("restic_repository")) is not None:
        if raw.startswith("-") or "\n" in raw:
            raise ConfigError("restic_repository: expected a repository as restic's -r takes it")
        kw["restic_repository"] = raw
    if (raw := get("restic_password_file")) is not None:
        if not Path(raw).is_absolute():
            raise ConfigError(f"restic_password_file: must be an absolute path, got {raw!r}")
        kw["restic_password_file"] = raw
    if (raw := get("backup_target")) is not None:
        if raw not in BACKUP_TARGETS:
            raise ConfigError(f"backup_target: expected local or restic, got {raw[:40]!r}")
        if raw == "restic" and not ("restic_repository" in kw and "restic_password_file" in kw):
            raise ConfigError("backup_target: restic needs restic_repository and restic_password_file")
        kw["backup_target"] = raw
    if "restic_repository" in kw:
        kw["restic_env"] = tuple((k, v) for k in RESTIC_BACKEND_ENV if (v := get(k)) is not None)
    return kw


_NETWORK = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}")


def _isolation_settings(get) -> dict[str, object]:  # noqa: ANN001 - from_mapping's reader
    """The site network and its firewall (docs/contract.md §7.1)."""
    kw: dict[str, object] = {}
    if (raw := get("site_network")) is not None:
        if not _NETWORK.fullmatch(raw) or raw in ("bridge", "host", "none", "default"):
            raise ConfigError(
                f"site_network: expected a network name of [a-zA-Z0-9_.-], not bridge/host/none, got {raw[:70]!r}"
            )
        kw["site_network"] = raw
    if (raw := get("site_subnet")) is not None:
        try:
            net = ipaddress.IPv4Network(raw, strict=True)
        except ValueError as exc:
            raise ConfigError(f"site_subnet: expected an IPv4 network such as 10.210.0.0/20: {exc}") from None
        if not 8 <= net.prefixlen <= 28:
            raise ConfigError(f"site_subnet: prefix length must be between /8 and /28, got /{net.prefixlen}")
        kw["site_subnet"] = str(net)
    if (raw := get("site_firewall")) is not None:
        kw["site_firewall"] = _bool("site_firewall", raw)
    for name in ("host_allow_ports", "outgoing_deny_ports"):
        if (raw := get(name)) is not None:
            try:
                kw[name] = parse_port_list(raw)
            except ValueError as exc:
                raise ConfigError(f"{name}: {exc}") from None
    return kw


def _bind(raw: str) -> tuple[str, int]:
    host, sep, port = raw.rpartition(":")
    if not sep or not host:
        raise ConfigError(f"bind: expected host:port, got {raw!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:  # gunicorn would cut an unbracketed IPv6 address at its first colon
        raise ConfigError(f"bind: write an IPv6 address in brackets, e.g. [::1]:7200, got {raw!r}")
    return host, _int("bind", port, 1, 65535)


def _binds(raw: str) -> tuple[str, ...]:
    """`host:port[,host:port…]`, each checked; as given otherwise (gunicorn reads them)."""
    binds = tuple(b.strip() for b in raw.split(","))
    for b in binds:
        _bind(b)
    return binds


def ipv6_loopback_usable() -> bool:
    """Whether this host can listen on `::1` (not with IPv6 disabled or not built in)."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


def listen_addresses(config: Config, ipv6_loopback: Callable[[], bool] = ipv6_loopback_usable) -> list[str]:
    """What gunicorn binds: `bind` as given; the default without `[::1]` on a host where
    it cannot be (gunicorn would retry it for 5 s, then refuse to start)."""
    if config.bind == DEFAULT_BIND and not ipv6_loopback():
        return [b for b in config.binds if ":" not in _bind(b)[0]]
    return list(config.binds)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_DOMAIN = re.compile(r"(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*")
_LISTEN = re.compile(r"(?:(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:]+\]):)?\d{1,5}")
TLS_MODES = ("none", "certbot", "certbot-routes")
#: certbot's command when `certbot_cmd` is not set: `certbot-routes` asks for the
#: certificate only, through the shared servers' webroot (docs/operations.md, "TLS").
CERTBOT_CMDS = {
    "certbot": ("certbot", "--nginx", "--non-interactive", "--agree-tos"),
    "certbot-routes": ("certbot", "certonly", "--webroot", "--non-interactive", "--agree-tos"),
}


def _argv(name: str, raw: str) -> tuple[str, ...]:
    try:
        argv = tuple(shlex.split(raw))
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from None
    if not argv:
        raise ConfigError(f"{name}: expected a command")
    return argv


_SIZE_UNITS = {"k": 1024, "m": 1024**2, "g": 1024**3}


def _events_settings(get) -> dict[str, object]:  # noqa: ANN001 - from_mapping's getter
    """events_*, webhook_*, and the limits that protect the host (docs/contract.md §6.2)."""
    kw: dict[str, object] = {}
    if (raw := get("events_db")) is not None:
        kw["events_db"] = raw
    if (raw := get("events_days")) is not None:
        kw["events_days"] = _float("events_days", raw, 0.01, 3650)
    url, secret = get("webhook_url"), get("webhook_secret")
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"webhook_url: expected an http or https URL, got {url[:80]!r}")
        if secret is None:
            raise ConfigError("webhook_secret: required when webhook_url is set")
        kw["webhook_url"] = url
    if secret is not None:
        if len(secret) < 16:
            raise ConfigError("webhook_secret: must be at least 16 characters")
        kw["webhook_secret"] = secret
    if (raw := get("pids_limit")) is not None:
        kw["pids_limit"] = _int("pids_limit", raw, 0, 4194304)
    if (raw := get("log_max_size")) is not None:
        if not re.fullmatch(r"[1-9][0-9]{0,5}[kmg]", raw):
            raise ConfigError(f"log_max_size: expected a size such as 10m (k, m or g), got {raw!r}")
        kw["log_max_size"] = raw
    if (raw := get("log_max_files")) is not None:
        kw["log_max_files"] = _int("log_max_files", raw, 1, 100)
    return kw


@dataclass(frozen=True)
class Config:
    docker_sock: str = "/var/run/docker.sock"
    port_area_size: int = 5000
    base_image: str = "dockerlink/base:latest"
    bind: str = DEFAULT_BIND
    api_token: str | None = field(default=None, repr=False)
    cors_origins: tuple[str, ...] = ()
    publish_ip: str = "0.0.0.0"
    stats_db: str = "./dockerlink-stats.sqlite3"
    create_lock: str = "./dockerlink-create.lock"
    stats_interval: float = 15.0  # the original's code sleeps 15 s (its README says 10)
    git_host_root: str | None = None
    git_timeout: float = 120.0
    docker_tls_verify: bool = False
    docker_cert_path: str | None = None
    site_domain: str | None = None
    nginx_dir: str = "/etc/nginx/conf.d"
    nginx_listen: str = "80"
    nginx_check: tuple[str, ...] = ("nginx", "-t")
    nginx_reload: tuple[str, ...] = ("nginx", "-s", "reload")
    site_tls: str = "none"  # setting `tls` (`tls` is the engine connection's TLSConfig)
    certbot_cmd: tuple[str, ...] = CERTBOT_CMDS["certbot"]
    nginx_tls_listen: str = "443"
    certbot_dir: str = "/etc/letsencrypt"
    events_db: str | None = None  # default: dockerlink-events.sqlite3 beside stats_db
    events_days: float = 30.0
    webhook_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)
    pids_limit: int = 1024
    log_max_size: str = "10m"
    log_max_files: int = 3
    git_output_max: int = 8 << 20
    git_per_site: int = 2
    instance_id: str | None = None
    backup_dir: str = "/var/lib/dockerlink/backups"
    backup_keep: int = 7
    backup_max: int = 50 * 2**30
    restore_max_expanded: int = 100 * 2**30
    backup_on_delete: bool = True
    backup_deleted_days: int = 7
    backup_schedule: str | None = None  # HH:MM, UTC; None: no scheduled backups
    backup_window: int = 60  # minutes over which the scheduled backups are spread
    backup_concurrency: int = 2
    backup_keep_daily: int = 0
    backup_keep_weekly: int = 0
    backup_keep_monthly: int = 0
    restic_repository: str | None = field(default=None, repr=False)  # may hold a backend's credentials
    restic_password_file: str | None = None
    backup_target: str = "local"
    restic_env: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # RESTIC_BACKEND_ENV's, as set
    disk_interval: float = 300.0
    disk_enforce: str = "none"
    site_network: str = "dockerlink-sites"
    site_subnet: str | None = None  # the engine's default address pool (a /16 here)
    site_firewall: bool = True
    host_allow_ports: tuple[HostPort, ...] = ()
    outgoing_deny_ports: tuple[HostPort, ...] = ()
    read_timeout: float = 30.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, env_file: str | os.PathLike | None = ".env") -> Config:
        """Settings from `environ` (default: os.environ) over those of `env_file` if it exists."""
        return cls.from_mapping(cls.read_env(environ, env_file))

    @staticmethod
    def read_env(
        environ: Mapping[str, str] | None = None, env_file: str | os.PathLike | None = ".env"
    ) -> dict[str, str]:
        """The raw settings `from_env` reads: `env_file`'s, under the environment's."""
        values: dict[str, str] = {}
        if env_file is not None and Path(env_file).is_file():
            values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
        values.update(os.environ if environ is None else environ)
        return values

    @classmethod
    def from_mapping(cls, values: Mapping[str, str]) -> Config:
        def get(name: str) -> str | None:
            raw = values.get(name)
            return raw.strip() if raw is not None and raw.strip() != "" else None

        kw: dict[str, object] = {}
        if (raw := get("docker_sock")) is not None:
            kw["docker_sock"] = _checked("docker_sock", base_url, raw)
        elif values.get("DOCKER_HOST"):
            kw["docker_sock"] = values["DOCKER_HOST"]
        if (raw := get("port_area_size")) is not None:
            kw["port_area_size"] = _int("port_area_size", raw, 444, 65535)
        if (raw := get("base_image")) is not None:
            kw["base_image"] = _checked("base_image", check_image_ref, raw)
        if (raw := get("bind")) is not None:
            kw["bind"] = ",".join(_binds(raw))
        if (raw := get("api_token")) is not None:
            if len(raw) < 16:
                raise ConfigError("api_token: must be at least 16 characters")
            kw["api_token"] = raw
        if (raw := get("cors_origins")) is not None:
            origins = tuple(o.strip() for o in raw.split(",") if o.strip())
            for o in origins:
                if o != "*" and not o.startswith(("http://", "https://")):
                    raise ConfigError(f"cors_origins: not an origin: {o!r}")
            kw["cors_origins"] = origins
        if (raw := get("publish_ip")) is not None:
            try:
                ipaddress.ip_address(raw)
            except ValueError:
                raise ConfigError(f"publish_ip: not an IP address: {raw!r}") from None
            kw["publish_ip"] = raw
        if (raw := get("stats_db")) is not None:
            kw["stats_db"] = raw
        if (raw := get("create_lock")) is not None:
            kw["create_lock"] = raw
        if (raw := get("stats_interval")) is not None:
            kw["stats_interval"] = _float("stats_interval", raw, 0.5, 3600)
        if (raw := get("git_host_root")) is not None:
            root = Path(raw)
            if not root.is_absolute():
                raise ConfigError(f"git_host_root: must be an absolute path, got {raw!r}")
            kw["git_host_root"] = str(root.resolve())
        if (raw := get("git_timeout")) is not None:
            kw["git_timeout"] = _float("git_timeout", raw, 1, 3600)
        tls_verify = get("docker_tls_verify") or (values.get("DOCKER_TLS_VERIFY") or "").strip() or None
        if tls_verify is not None:
            kw["docker_tls_verify"] = _bool("docker_tls_verify", tls_verify)
        if (raw := get("docker_cert_path") or (values.get("DOCKER_CERT_PATH") or "").strip() or None) is not None:
            if not Path(raw).is_absolute():
                raise ConfigError(f"docker_cert_path: must be an absolute path, got {raw!r}")
            kw["docker_cert_path"] = raw
        if kw.get("docker_tls_verify") and "docker_cert_path" not in kw:
            raise ConfigError("docker_cert_path: required with docker_tls_verify (ca.pem, cert.pem, key.pem)")
        if (raw := get("site_domain")) is not None:
            if not _DOMAIN.fullmatch(raw.lower().rstrip(".")):
                raise ConfigError(f"site_domain: not a domain name: {raw!r}")
            kw["site_domain"] = raw.lower().rstrip(".")
        if (raw := get("nginx_dir")) is not None:
            if not Path(raw).is_absolute():
                raise ConfigError(f"nginx_dir: must be an absolute path, got {raw!r}")
            kw["nginx_dir"] = raw
        if (raw := get("nginx_listen")) is not None:
            if not _LISTEN.fullmatch(raw):
                raise ConfigError(f"nginx_listen: expected [ip:]port, got {raw!r}")
            kw["nginx_listen"] = raw
        if (raw := get("nginx_tls_listen")) is not None:
            if not _LISTEN.fullmatch(raw):
                raise ConfigError(f"nginx_tls_listen: expected [ip:]port, got {raw!r}")
            kw["nginx_tls_listen"] = raw
        if (raw := get("certbot_dir")) is not None:
            if not Path(raw).is_absolute():
                raise ConfigError(f"certbot_dir: must be an absolute path, got {raw!r}")
            kw["certbot_dir"] = raw
        for name in ("nginx_check", "nginx_reload", "certbot_cmd"):
            if (raw := get(name)) is not None:
                kw[name] = _argv(name, raw)
        if (raw := get("tls")) is not None:
            if raw not in TLS_MODES:
                raise ConfigError(f"tls: expected one of {', '.join(TLS_MODES)}, got {raw!r}")
            kw["site_tls"] = raw
            if "certbot_cmd" not in kw and raw in CERTBOT_CMDS:
                kw["certbot_cmd"] = CERTBOT_CMDS[raw]
        if kw.get("site_tls") == "certbot-routes":
            plain, tls = (
                str(kw.get("nginx_listen", cls.nginx_listen)),
                str(kw.get("nginx_tls_listen", cls.nginx_tls_listen)),
            )
            if plain.rsplit(":", 1)[-1] == tls.rsplit(":", 1)[-1]:
                raise ConfigError(f"nginx_tls_listen: must be another port than nginx_listen ({plain}), got {tls!r}")
        kw.update(_events_settings(get))
        if (raw := get("git_output_max")) is not None:
            kw["git_output_max"] = _int("git_output_max", raw, 4096, 1 << 30)
        if (raw := get("git_per_site")) is not None:
            kw["git_per_site"] = _int("git_per_site", raw, 1, 64)
        if (raw := get("instance_id")) is not None:
            if not _INSTANCE.fullmatch(raw):
                raise ConfigError(f"instance_id: expected 1-128 of [A-Za-z0-9_.:/-], got {raw[:40]!r}")
            kw["instance_id"] = raw
        kw.update(_backup_settings(get))
        kw.update(_schedule_settings(get))
        kw.update(_isolation_settings(get))
        if (raw := get("read_timeout")) is not None:
            kw["read_timeout"] = _float("read_timeout", raw, 1, 3600)
        config = cls(**kw)  # type: ignore[arg-type]
        if config.tls is not None:
            try:
                config.tls.check()
            except ValueError as exc:
                raise ConfigError(f"docker_cert_path: {exc}") from None
        config.check_exposure()
        return config

    @property
    def tls(self) -> TLSConfig | None:
        """TLS to a TCP engine: on with docker_tls_verify, or with docker_cert_path alone
        (encrypted, the engine not verified), as the docker CLI's --tlsverify / --tls."""
        if socket_path(self.docker_sock) is not None or not (self.docker_tls_verify or self.docker_cert_path):
            return None
        return TLSConfig(self.docker_cert_path or "", verify=self.docker_tls_verify)

    def engine(self) -> engine_api.Engine:
        """A client of the engine at `docker_sock` with the `tls` settings: how every part
        (the workers, each job of the collector, the start checks) makes one, so none speaks
        plain HTTP to a TLS engine."""
        return engine_api.Engine(self.docker_sock, tls=self.tls)

    @property
    def events_path(self) -> str:
        return self.events_db or os.path.join(os.path.dirname(self.stats_db) or ".", "dockerlink-events.sqlite3")

    @property
    def webhook_host(self) -> str | None:
        """Where webhooks go (for logs: the URL may hold a secret path)."""
        return urlsplit(self.webhook_url).hostname if self.webhook_url else None

    @property
    def log_max_bytes(self) -> int:
        """`log_max_size` in bytes."""
        return int(self.log_max_size[:-1]) * _SIZE_UNITS[self.log_max_size[-1]]

    @property
    def instance(self) -> str:
        """What marks this service's git execs, so that its shutdown kills only those: the
        `instance_id` setting, else `<hostname>/<bind>` (two services sharing an engine never
        have both; the same service after a restart keeps it)."""
        return self.instance_id or f"{socket.gethostname()}/{self.binds[0]}"

    @property
    def binds(self) -> tuple[str, ...]:
        """Each address of `bind` (several, comma-separated)."""
        return tuple(b.strip() for b in self.bind.split(","))

    @property
    def bind_host(self) -> str:
        """The first bind's host."""
        return _bind(self.binds[0])[0]

    @property
    def bind_port(self) -> int:
        """The first bind's port."""
        return _bind(self.binds[0])[1]

    def check_exposure(self) -> None:
        """Refuse to listen beyond loopback without a token: the socket is root on this host.
        Every address of `bind` counts: one public among loopbacks exposes the service."""
        exposed = [b for b in self.binds if not _is_loopback(_bind(b)[0])]
        if exposed and not self.api_token:
            raise ConfigError(f"api_token: required when bind ({exposed[0]}) is not a loopback address")
