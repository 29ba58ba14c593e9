"""The README's service examples run as written, in order, against a live `microlift serve`: the commands a
newcomer sends first, once `make run` is serving (only the host:port is rewritten, to the test's own)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from microlift.serving.serve import FORECAST_CURL, RANK_CURL
from tests.service_support import TRACEBACK, free_port, microlift, prepare_home, service_env, serving

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCUMENTED = "127.0.0.1:8000"  # where `make run` serves, as the README's examples say
# Each curl also prints its status after the body, so that the test sees every answer of a block.
STATUS = "<<<HTTP {}>>>"
SHELL_PRELUDE = ("set -euo pipefail\n"
                 "curl() { command curl --show-error --write-out '\\n" + STATUS.format("%{http_code}") + "\\n' "
                 "\"$@\"; }\n")


def section(title: str) -> str:
    """The README's text under `title`, up to the next heading of any level (a `#` inside a code block is none)."""
    lines, inside, fenced = [], False, False
    for line in README.read_text().splitlines(keepends=True):
        if not fenced and re.match(r"#{1,6} ", line):
            if inside:
                break
            inside = line.rstrip("\n") == title
        fenced ^= line.startswith("```")
        if inside:
            lines.append(line)
    assert lines, f"README.md has no heading {title!r}"
    return "".join(lines)


def bash_blocks(text: str) -> list[str]:
    return re.findall(r"^```bash\n(.*?)^```", text, re.MULTILINE | re.DOTALL)


def service_blocks() -> list[str]:
    return bash_blocks(section("## The service"))


def test_the_service_examples_are_the_ones_make_run_prints_and_ask_for_the_key_after_saying_how():
    blocks = service_blocks()
    assert blocks, "README.md's 'The service' section has no ```bash block"
    # every URL is where `make run` serves, so that rewriting host:port is all a test needs
    urls = re.findall(r"https?://[^/\s'\"]+", "\n".join(blocks))
    assert urls and set(urls) == {f"http://{DOCUMENTED}"}, urls
    # the banner of `make run` prints the same forecast
    assert FORECAST_CURL.format(host=DOCUMENTED) in blocks[0]
    # before the first example that needs the key, the text says where it is shown and how to export it
    text = section("## The service")
    before = text[:text.index("$KEY")]
    assert "export KEY=ml_" in before and "export KEY=$(.venv/bin/microlift keygen)" in before


def test_the_mlflow_ui_line_reads_the_store_wherever_microlift_home_puts_it():
    line = next(line for line in bash_blocks(section("### Training and the registry"))[0].splitlines()
                if line.startswith("mlflow ui"))
    assert "sqlite:///${MICROLIFT_HOME:-$HOME/.microlift}/mlflow.db" in line


def _answers(output: str) -> list[tuple[str, str]]:
    """(body, HTTP status) of each curl in a block's output."""
    parts = re.split(r"\n?<<<HTTP (\d{3})>>>\n", output)
    return list(zip(parts[0::2], parts[1::2], strict=False))


def _run(command: str, env: dict[str, str]) -> list[tuple[str, str]]:
    done = subprocess.run(["bash", "-c", SHELL_PRELUDE + command], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, f"exit {done.returncode}:\n{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    answers = _answers(done.stdout)
    assert len(answers) == len(re.findall(r"^curl ", command, re.MULTILINE)), f"{command}\n{done.stdout[-3000:]}"
    for body, status in answers:
        assert status.startswith("2"), f"{command}\nanswered {status}: {body[:2000]}"
        assert not TRACEBACK.search(body)
        json.loads(body)  # every example answers JSON
    return answers


@pytest.mark.slow
@pytest.mark.service
def test_the_readme_service_examples_run_as_written_against_a_live_service(tmp_path):
    # given models and a catalog as `make run` leaves them, and a key made by `microlift keygen` (the README's way
    # when the key `make run` showed is gone) before the service starts, since it reads its keys at start-up
    env = service_env(tmp_path / "home", MICROLIFT_BIND=f"127.0.0.1:{free_port()}", MICROLIFT_WORKERS="1",
                      MICROLIFT_RATE_LIMIT="0", MICROLIFT_COMPILED_MODELS="off")
    prepare_home(env, tmp_path / "data", 1200, 60, 3)
    env["KEY"] = microlift(env, "keygen").strip()
    blocks = [block.replace(DOCUMENTED, env["MICROLIFT_BIND"]) for block in service_blocks()]
    log = tmp_path / "serve.log"
    with serving(env, log, tmp_path):
        # when each block of the README runs in bash, in order, from the repository's folder
        answered = [_run(block, env) for block in blocks]
        # and the examples `make run` prints as it starts
        banner = [_run(curl.format(host=env["MICROLIFT_BIND"]), env) for curl in (FORECAST_CURL, RANK_CURL)]
    # then every command answered 2xx with JSON, and the banner showed the README's forecast
    assert sum(map(len, answered)) >= 3 and len(banner) == 2
    # and the sample's creators were added beside the catalog's own simulated ones, none taken for another
    imported = [json.loads(body) for block in answered for body, _ in block if '"catalog_size"' in body]
    assert [(i["created"], i["updated"], i["warnings"]) for i in imported] == [(300, 0, [])], imported
    assert FORECAST_CURL.format(host=env["MICROLIFT_BIND"]) in log.read_text()
