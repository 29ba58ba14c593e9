"""`microlift serve`'s start-up checks: whether gunicorn could listen on MICROLIFT_BIND, and what it says about
API keys."""

from __future__ import annotations

import socket
import sys

import pytest

from microlift.serving import serve
from microlift.serving.auth import digest
from microlift.serving.settings import ServiceSettings


@pytest.fixture
def held():
    """A port on 127.0.0.1 another server listens on."""
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        other.bind(("127.0.0.1", 0))
        other.listen(1)
        yield other.getsockname()[1]


def test_a_free_port_passes(held):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert serve.check_bind(f"127.0.0.1:{port}") is None


def test_a_port_another_server_listens_on_is_named_with_the_variable_and_a_free_port_to_set_it_to(held):
    problem = serve.check_bind(f"127.0.0.1:{held}")
    assert problem is not None and problem.startswith(f"127.0.0.1:{held} is in use (another microlift?); set "
                                                      "MICROLIFT_BIND=127.0.0.1:")
    suggested = int(problem.split("MICROLIFT_BIND=127.0.0.1:")[1].split()[0])
    assert suggested != held and serve.check_bind(f"127.0.0.1:{suggested}") is None


def test_unix_sockets_and_descriptors_are_left_to_gunicorn():
    assert serve.check_bind("unix:/tmp/microlift.sock") is None
    assert serve.check_bind("fd://3") is None


def test_a_malformed_bind_names_the_variable_and_what_is_accepted():
    with pytest.raises(ValueError, match=r"MICROLIFT_BIND: got '127.0.0.1:http'; expected HOST:PORT"):
        serve.check_bind("127.0.0.1:http")


def test_an_address_of_no_interface_here_says_why():
    problem = serve.check_bind("192.0.2.1:8000")  # TEST-NET-1: never an address of this machine
    assert problem is not None and problem.startswith("cannot listen on 192.0.2.1:8000 (MICROLIFT_BIND=")


def _settings(tmp_path, **env) -> ServiceSettings:
    return ServiceSettings.from_env({"MICROLIFT_HOME": str(tmp_path), **env})


def test_with_a_key_configured_it_says_a_key_is_shown_once_and_how_to_make_another(tmp_path, capsys):
    serve.ensure_key(_settings(tmp_path, MICROLIFT_API_KEY_HASHES=digest("a-key")))
    said = capsys.readouterr().out
    assert "API keys: 1 configured" in said and "MICROLIFT_API_KEY_HASHES" in said
    assert "shown once, when it is made" in said and "`microlift keygen` makes a new one" in said
    assert not (tmp_path / "api-keys.sha256").exists()


def test_a_key_made_at_start_up_is_shown_once_as_an_export_line(tmp_path, capsys, monkeypatch):
    # given no key and a terminal on stderr
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    serve.ensure_key(_settings(tmp_path))
    said = capsys.readouterr()
    # then the key is on stderr, once, as a line to run, and its digest is kept
    exports = [line.strip() for line in said.err.splitlines() if line.strip().startswith("export KEY=")]
    assert len(exports) == 1 and said.err.count(exports[0].removeprefix("export KEY=")) == 1
    assert said.out == ""
    assert digest(exports[0].removeprefix("export KEY=")) in (tmp_path / "api-keys.sha256").read_text()
