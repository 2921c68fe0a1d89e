"""Config.from_env: defaults, .env under the environment, one-line errors naming the field."""

from __future__ import annotations

import pytest

from dockerlink.config import Config, ConfigError, listen_addresses


def test_defaults_are_the_embedded_quick_start():
    c = Config.from_env({}, env_file=None)
    assert (c.docker_sock, c.port_area_size, c.base_image) == ("/var/run/docker.sock", 5000, "dockerlink/base:latest")
    assert (c.bind, c.api_token, c.stats_interval, c.git_host_root) == ("127.0.0.1:7200,[::1]:7200", None, 15.0, None)
    assert c.binds == ("127.0.0.1:7200", "[::1]:7200")  # a panel's `localhost` may resolve to ::1 first


def test_the_environment_wins_over_the_env_file(tmp_path):
    env = tmp_path / ".env"
    env.write_text("port_area_size=3000\nbase_image=my/image:1\n")
    c = Config.from_env({"port_area_size": "4000"}, env_file=env)
    assert c.port_area_size == 4000
    assert c.base_image == "my/image:1"


def test_the_create_lock_has_its_own_path_apart_from_the_stats_database():
    assert Config.from_env({}, env_file=None).create_lock == "./dockerlink-create.lock"
    c = Config.from_env({"create_lock": "/run/dockerlink/create.lock", "stats_db": "/var/lib/s.db"}, env_file=None)
    assert (c.create_lock, c.stats_db) == ("/run/dockerlink/create.lock", "/var/lib/s.db")


def test_docker_host_is_used_when_docker_sock_is_unset():
    assert Config.from_env({"DOCKER_HOST": "tcp://127.0.0.1:2375"}, env_file=None).docker_sock == "tcp://127.0.0.1:2375"


@pytest.mark.parametrize(
    ("env", "field"),
    [
        ({"port_area_size": "abc"}, "port_area_size"),
        ({"port_area_size": "100"}, "port_area_size"),
        ({"docker_sock": "relative.sock"}, "docker_sock"),
        ({"docker_sock": "ftp://x:1"}, "docker_sock"),
        ({"base_image": "Bad Image"}, "base_image"),
        ({"bind": "nohostport"}, "bind"),
        ({"bind": "127.0.0.1:99999"}, "bind"),
        ({"bind": "::1:7200"}, "bind"),
        ({"bind": "127.0.0.1:7200,"}, "bind"),
        ({"bind": "127.0.0.1:7200,[::1]:x"}, "bind"),
        ({"api_token": "short"}, "api_token"),
        ({"cors_origins": "example.com"}, "cors_origins"),
        ({"publish_ip": "localhost"}, "publish_ip"),
        ({"stats_interval": "0"}, "stats_interval"),
        ({"git_host_root": "relative/dir"}, "git_host_root"),
        ({"git_timeout": "forever"}, "git_timeout"),
        ({"git_output_max": "10"}, "git_output_max"),
        ({"git_output_max": "lots"}, "git_output_max"),
        ({"instance_id": "a b"}, "instance_id"),
        ({"read_timeout": "0.5"}, "read_timeout"),
        ({"read_timeout": "soon"}, "read_timeout"),
    ],
)
def test_a_malformed_value_is_refused_with_one_line_naming_the_field(env, field):
    with pytest.raises(ConfigError) as info:
        Config.from_env(env, env_file=None)
    assert str(info.value).startswith(f"{field}:")
    assert "\n" not in str(info.value)


def test_the_time_a_client_has_to_send_its_request_is_a_setting():
    assert Config.from_env({}, env_file=None).read_timeout == 30.0
    assert Config.from_env({"read_timeout": "2.5"}, env_file=None).read_timeout == 2.5


def test_a_public_bind_without_a_token_is_refused():
    with pytest.raises(ConfigError, match="api_token"):
        Config.from_env({"bind": "0.0.0.0:7200"}, env_file=None)
    c = Config.from_env({"bind": "0.0.0.0:7200", "api_token": "x" * 32}, env_file=None)
    assert c.bind_host == "0.0.0.0" and c.bind_port == 7200


@pytest.mark.parametrize(
    "bind", ["127.0.0.1:7200", "localhost:1", "[::1]:7200", "127.9.9.9:80", "127.0.0.1:7300,[::1]:7300"]
)
def test_loopback_binds_need_no_token(bind):
    assert Config.from_env({"bind": bind}, env_file=None).bind == bind


@pytest.mark.parametrize("bind", ["127.0.0.1:7200,0.0.0.0:7200", "[::1]:7200, [::]:7200", "[2001:db8::1]:80"])
def test_one_public_address_among_several_needs_the_token(bind):
    with pytest.raises(ConfigError, match="^api_token: .*not a loopback"):
        Config.from_env({"bind": bind}, env_file=None)
    assert Config.from_env({"bind": bind, "api_token": "x" * 32}, env_file=None).binds == tuple(
        b.strip() for b in bind.split(",")
    )


def test_gunicorn_gets_every_address_of_bind():
    c = Config.from_env({"bind": " 127.0.0.1:7300 , [::1]:7301"}, env_file=None)
    assert listen_addresses(c, ipv6_loopback=lambda: True) == ["127.0.0.1:7300", "[::1]:7301"]
    assert listen_addresses(c, ipv6_loopback=lambda: False) == ["127.0.0.1:7300", "[::1]:7301"]  # as asked


def test_the_default_bind_keeps_to_127_0_0_1_on_a_host_without_ipv6():
    c = Config.from_env({}, env_file=None)
    assert listen_addresses(c, ipv6_loopback=lambda: True) == ["127.0.0.1:7200", "[::1]:7200"]
    assert listen_addresses(c, ipv6_loopback=lambda: False) == ["127.0.0.1:7200"]


def test_the_token_is_not_in_the_repr():
    assert "secret-token-value" not in repr(Config.from_env({"api_token": "secret-token-value"}, env_file=None))


def test_site_access_settings_are_read_and_checked():
    c = Config.from_mapping(
        {"site_domain": "Sites.Example.org.", "nginx_reload": "nginx -p /x -s reload", "tls": "certbot"}
    )
    assert (c.site_domain, c.nginx_reload, c.site_tls) == (
        "sites.example.org",
        ("nginx", "-p", "/x", "-s", "reload"),
        "certbot",
    )
    for bad, field in (
        ({"site_domain": "a_b.org"}, "site_domain"),
        ({"tls": "acme"}, "tls"),
        ({"nginx_listen": "80; include /etc/passwd"}, "nginx_listen"),
        ({"nginx_dir": "conf.d"}, "nginx_dir"),
        ({"certbot_cmd": "'unclosed"}, "certbot_cmd"),
        ({"nginx_tls_listen": "443 ssl; include /etc/passwd"}, "nginx_tls_listen"),
        ({"certbot_dir": "letsencrypt"}, "certbot_dir"),
        ({"tls": "certbot-routes", "nginx_listen": "127.0.0.1:8080", "nginx_tls_listen": "8080"}, "nginx_tls_listen"),
        ({"tls": "certbot-routes", "nginx_tls_listen": "80"}, "nginx_tls_listen"),
    ):
        with pytest.raises(ConfigError, match=f"^{field}: "):
            Config.from_mapping(bad)


def test_certbot_routes_asks_certbot_for_the_certificate_only_unless_told_otherwise():
    c = Config.from_mapping({"tls": "certbot-routes", "nginx_tls_listen": "127.0.0.1:8443"})
    assert c.certbot_cmd == ("certbot", "certonly", "--webroot", "--non-interactive", "--agree-tos")
    assert (c.nginx_tls_listen, c.certbot_dir) == ("127.0.0.1:8443", "/etc/letsencrypt")
    assert Config.from_mapping({"tls": "certbot"}).certbot_cmd == (
        "certbot",
        "--nginx",
        "--non-interactive",
        "--agree-tos",
    )
    own = Config.from_mapping({"tls": "certbot-routes", "certbot_cmd": "/opt/certbot certonly --webroot -q"})
    assert own.certbot_cmd == ("/opt/certbot", "certonly", "--webroot", "-q")


@pytest.mark.parametrize(
    ("env", "field"),
    [
        ({"webhook_url": "ftp://host/x", "webhook_secret": "0123456789abcdef"}, "webhook_url"),
        ({"webhook_url": "http://host/x"}, "webhook_secret"),
        ({"webhook_url": "http://host/x", "webhook_secret": "short"}, "webhook_secret"),
        ({"log_max_size": "10 MB"}, "log_max_size"),
        ({"log_max_files": "0"}, "log_max_files"),
        ({"pids_limit": "-1"}, "pids_limit"),
        ({"events_days": "0"}, "events_days"),
    ],
)
def test_event_and_limit_settings_are_checked(env, field):
    with pytest.raises(ConfigError, match=f"^{field}:"):
        Config.from_mapping(env)


def test_event_and_limit_defaults_and_the_secret_stays_out_of_the_repr():
    c = Config.from_mapping({"webhook_url": "https://panel.example/hook", "webhook_secret": "0123456789abcdef"})
    assert (c.pids_limit, c.log_max_size, c.log_max_bytes, c.log_max_files, c.events_days) == (
        1024,
        "10m",
        10 * 2**20,
        3,
        30.0,
    )
    assert c.webhook_host == "panel.example"
    assert "0123456789abcdef" not in repr(c)
    assert Config(stats_db="/var/lib/dl/stats.sqlite3").events_path == "/var/lib/dl/dockerlink-events.sqlite3"


def test_git_output_max_defaults_to_8_mib_and_is_read():
    assert Config.from_env({}, env_file=None).git_output_max == 8 << 20
    assert Config.from_env({"git_output_max": "65536"}, env_file=None).git_output_max == 65536


def test_two_services_on_one_host_have_different_instances_and_a_restart_keeps_its_own():
    a = Config.from_env({"bind": "127.0.0.1:7200"}, env_file=None)
    b = Config.from_env({"bind": "127.0.0.1:7300"}, env_file=None)
    assert a.instance != b.instance
    assert a.instance == Config.from_env({"bind": "127.0.0.1:7200"}, env_file=None).instance
    assert Config.from_env({"instance_id": "panel-eu-1"}, env_file=None).instance == "panel-eu-1"
    # The default bind's instance is its first address's, as before the second loopback.
    assert Config.from_env({}, env_file=None).instance == a.instance
