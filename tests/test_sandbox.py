"""Templates from a card tree (chat templates, a card's or an organisation's own) run in `sandbox`'s worker:
each ends within its time and memory bounds as a diagnostic, in any thread, at compile time too, and the
process that asked stays small and answers."""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from cardgen import limits, sandbox

from conftest import edit, line_of

# -- the worker itself ------------------------------------------------------------------------------


def _add(a: int, b: int) -> int:
    return a + b


def _fails() -> None:
    raise ValueError("its own error")


def _spin_deaf() -> None:
    """A loop that no alarm interrupts (as work inside one C call): only the caller's kill stops it."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    while True:
        pass


def _spin() -> None:
    while True:
        pass


def _huge() -> int:
    return len("a" * 3_000_000_000)


def _crash() -> None:
    os.kill(os.getpid(), signal.SIGSEGV)


def _pid() -> int:
    return os.getpid()


def test_the_worker_answers_and_raises_what_was_raised():
    assert sandbox.call(_add, 2, 3, seconds=2) == 5
    with pytest.raises(ValueError, match="its own error"):
        sandbox.call(_fails, seconds=2)
    assert sandbox.call(_pid, seconds=2) != os.getpid()


def test_work_that_ignores_the_alarm_is_killed_in_time_and_a_fresh_worker_follows():
    before = sandbox.call(_pid, seconds=2)
    t0 = time.monotonic()
    with pytest.raises(sandbox.OutOfTime, match="ran longer than 1 s"):
        sandbox.call(_spin_deaf, seconds=1)
    assert time.monotonic() - t0 < 1 + limits.SANDBOX_GRACE + 1
    assert sandbox.call(_pid, seconds=2) != before  # the stuck one was killed
    assert sandbox.call(_add, 1, 1, seconds=2) == 2


def test_the_time_limit_holds_outside_the_main_thread():
    def ask() -> str:
        try:
            sandbox.call(_spin, seconds=1)
        except sandbox.OutOfTime as e:
            return str(e)
        return "no limit"

    sandbox._end()  # the worker is forked from that thread, and keeps time there itself
    t0 = time.monotonic()
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(ask).result(timeout=30) == "ran longer than 1 s"
    assert time.monotonic() - t0 < 1 + limits.SANDBOX_GRACE + 1


def test_memory_is_the_workers_to_run_out_of_and_a_crash_is_an_answer():
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.monotonic()
    with pytest.raises(sandbox.OutOfMemory, match="needed more than 512 MiB"):
        sandbox.call(_huge, seconds=10)
    assert time.monotonic() - t0 < 2
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss < 100 * 1024  # KiB: this process did not grow
    with pytest.raises(sandbox.Crashed, match="SIGSEGV"):
        sandbox.call(_crash, seconds=2)
    assert sandbox.call(_add, 2, 2, seconds=2) == 4


def test_the_worker_keeps_no_socket_of_its_caller_open():
    """A served port (preview's) is free once its server closes it, though the worker was forked after."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    sandbox._end()  # the next call forks a worker now, while the socket is open
    assert sandbox.call(_add, 1, 2, seconds=2) == 3
    listener.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5)


def test_a_forked_process_has_a_worker_of_its_own():
    import multiprocessing

    mine = sandbox.call(_pid, seconds=2)
    with multiprocessing.get_context("fork").Pool(1) as pool:
        theirs = pool.apply(_pid_of_worker)
    assert theirs != mine and sandbox.call(_pid, seconds=2) == mine


def _pid_of_worker() -> int:
    return sandbox.call(_pid, seconds=2)


# -- chat templates and a card's own templates: each bound a diagnostic -----------------------------------

HOSTILE = {
    "power": "{{ (3 ** (3 ** 16)) % 7 }}",  # folded while Jinja compiles: 30-55 s of one C call
    "string": "{{ ('a' * 3000000000)|length }}",  # 2.9 GB
    "parentheses": "{{ " + "(" * 300 + "1" + ")" * 300 + " }}",
    "for": "{% for a in [1] %}" * 30 + "x" + "{% endfor %}" * 30,
    "if": "{% if true %}" * 500 + "x" + "{% endif %}" * 500,
}
EXPECTED = {
    "power": "ran longer than {s:g} s", "string": "needed more than 512 MiB of memory",
    "parentheses": "nests too deeply", "for": "nests too deeply", "if": "nests too deeply",
}
#: runs `cardgen` and prints, last, the exit code and this process's own peak memory in MiB (VmHWM: of this
#: program alone, where ru_maxrss would count what the test's process held when it forked this one)
DRIVER = ("import sys\nfrom cardgen.cli import main\ncode = main(sys.argv[1:])\n"
          "peak = next(int(ln.split()[1]) for ln in open('/proc/self/status') if ln.startswith('VmHWM:'))\n"
          "print(f'@@ {code} {peak // 1024}')")


def _hostile_cards(root: Path) -> dict[str, Path]:
    out = {}
    for case, text in HOSTILE.items():
        for where in ("chat", "own"):
            repo = f"acme/{case}-{where}"
            folder = root / repo
            folder.mkdir(parents=True)
            fields: dict = {"repo_id": repo, "license": "apache-2.0", "pipeline_tag": "text-generation"}
            if where == "chat":
                fields["prompt"] = {"chat_template": text}
            else:
                (folder / "templates").mkdir()
                (folder / "templates/description.md.j2").write_text(f"About it.\n{text}\n", "utf-8")
            (folder / "card.yaml").write_text(yaml.safe_dump(fields, sort_keys=False, width=10**9), "utf-8")
            out[f"{case}-{where}"] = folder / "card.yaml"
    return out


def test_hostile_templates_end_as_diagnostics_within_their_limits(tmp_path):
    """A power folded at compile time, a 3 GB string, 300 parentheses, 30 nested `for`, 500 nested `if`, each
    in a chat template (CG408 at its line, 2 s) and in a card's own template (CG701 at the repo id, 5 s):
    all reported by one `validate`, no internal error, in about the two time limits, in little memory."""
    cards = _hostile_cards(tmp_path / "cards")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "CARDGEN_CACHE_DIR": "off"}
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, "-c", DRIVER, "validate", str(tmp_path / "cards")], capture_output=True,
                       text=True, timeout=120, env=env)
    took = time.monotonic() - t0
    code, rss_mb = p.stdout.strip().splitlines()[-1].split()[1:]
    assert code == "1" and "internal error" not in p.stderr, p.stdout + p.stderr
    # the two powers each wait out their limit; everything else is immediate
    assert took < limits.TEMPLATE_SECONDS + limits.CARD_SECONDS + 2 * limits.SANDBOX_GRACE + 10, p.stdout
    assert int(rss_mb) < 300, p.stdout  # this process's peak (MiB), with a 3 GB string asked for twice
    for case, card in cards.items():
        kind, where = case.rsplit("-", 1)
        expected = EXPECTED[kind].format(s=limits.TEMPLATE_SECONDS if where == "chat" else limits.CARD_SECONDS)
        if where == "chat":
            line = f"{card}:{line_of(card, 'chat_template')}:"
            assert any(ln.startswith(line) and " CG408 the chat template " in ln and expected in ln
                       for ln in p.stdout.splitlines()), (case, p.stdout)
        else:
            line = f"{card}:{line_of(card, 'repo_id')}:"
            assert any(ln.startswith(line) and f" CG701 rendering acme/{case} failed: " in ln and expected in ln
                       for ln in p.stdout.splitlines()), (case, p.stdout)


def test_a_looping_chat_template_costs_its_time_limit_once_per_validate(cli, cards):
    """A card's checks render its chat template several times (its example, CG408, the raw template's
    comparison, the bos claim): a template that loops waits out its limit once, not once per check."""
    source = cards / "cardgen-examples/tiny-chat/card.yaml"
    original = source.read_text("utf-8")
    template = yaml.safe_load(original)["prompt"]["chat_template"]
    loop = "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"
    source.write_text(original.replace(json.dumps(template), json.dumps(loop + template)), "utf-8")
    t0 = time.monotonic()
    r = cli("validate", "--no-cache", cards)
    took = time.monotonic() - t0
    assert r.code == 1 and r.out.count(" CG408 the chat template ran longer than") == 1, r.out
    assert took < 2 * limits.TEMPLATE_SECONDS + limits.SANDBOX_GRACE, took


def test_a_card_of_cardgens_templates_alone_renders_in_process(cards, monkeypatch):
    """Only cards with templates from the cards tree go to the worker; the others cost it nothing."""
    from cardgen.loading.scope import select
    from cardgen.pipeline.run import render_all

    asked = []
    real = sandbox.call

    def spy(fn, *args, seconds):
        asked.append(fn.__qualname__)
        return real(fn, *args, seconds=seconds)

    monkeypatch.setattr(sandbox, "call", spy)
    r = render_all(select([cards]), jobs=1)
    assert not r.failed
    # TheBloke's card (its organisation's templates) renders there; the chat templates' examples are made there
    assert asked.count("_apart") == 1 and "_render_here" in asked


# -- preview: a template edited into an endless loop while serving ------------------------------------------


@pytest.mark.parametrize("what", ["own template", "chat template"])
def test_a_looping_template_edited_while_serving_gives_an_error_page_in_time(cards, what):
    """The page of a card whose template is edited into an endless loop while preview serves it: rendered
    again in a thread of the server's, it comes within the limit, naming the problem; mended, the card is back."""
    from cardgen.commands.preview import LiveSite, server

    loop = "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"
    if what == "own template":
        repo, limit = "TheBloke/StableBeluga2-70B-GPTQ", limits.CARD_SECONDS
        source = cards / "TheBloke/_templates/footer.md.j2"
        original = source.read_text("utf-8")
        looping = original + loop + "\n"
        problem = f"CG701 rendering {repo} failed: its templates ("
    else:
        repo, limit = "cardgen-examples/tiny-chat", limits.TEMPLATE_SECONDS
        source = cards / repo / "card.yaml"
        original = source.read_text("utf-8")
        template = yaml.safe_load(original)["prompt"]["chat_template"]
        looping = original.replace(json.dumps(template), json.dumps(loop + template))
        assert looping != original
        problem = f"CG408 the chat template ran longer than {limits.TEMPLATE_SECONDS:g} s on the example conversation"
    httpd = server(LiveSite([cards]), 0)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/{repo}.html"

    def get() -> tuple[int, str]:  # from a thread of its own; the server renders in another
        try:
            with urllib.request.urlopen(url, timeout=30) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    try:
        with ThreadPoolExecutor(1) as pool:
            assert "This card was not rendered" not in pool.submit(get).result(timeout=60)[1]
            source.write_text(looping, "utf-8")
            t0 = time.monotonic()
            status, page = pool.submit(get).result(timeout=60)
            took = time.monotonic() - t0
            assert took < limit + limits.SANDBOX_GRACE + 5, took
            assert "This card was not rendered" in page and problem in page and "ran longer than" in page, page
            source.write_text(original, "utf-8")  # mended: the card is back
            assert "This card was not rendered" not in pool.submit(get).result(timeout=60)[1]
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_the_report_of_a_looping_own_template_names_its_line(cards):
    from cardgen.loading.scope import select
    from cardgen.pipeline.run import render_all

    footer = cards / "TheBloke/_templates/footer.md.j2"
    edit(footer, "\n", "\n{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}\n")
    done: list = []
    render = threading.Thread(target=lambda: done.append(render_all(select([cards / "TheBloke"]), jobs=1)),
                              daemon=True)
    render.start()
    render.join(limits.CARD_SECONDS + limits.SANDBOX_GRACE + 5)
    assert done, "the render did not end in time"
    [d] = [d for d in done[0].diagnostics if d.code == "CG701"]
    assert f"ran longer than {limits.CARD_SECONDS:g} s (in {footer}:2)" in d.message, d.message


# -- smoke: the environment a card's snippet runs in --------------------------------------------------------


def test_a_snippets_environment_holds_no_credential_and_keeps_the_model_cache(monkeypatch, tmp_path):
    from huggingface_hub import constants

    from cardgen.smoke.snippet import environment

    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "GITHUB_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
                 "HF_OIDC_RESOURCE", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AZURE_CLIENT_SECRET",
                 "GOOGLE_APPLICATION_CREDENTIALS", "WANDB_API_KEY", "SSH_AUTH_SOCK"):
        monkeypatch.setenv(name, "secret")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    env = environment(str(tmp_path), allow_download=False)
    assert "secret" not in env.values()
    assert env["TOKENIZERS_PARALLELISM"] == "false" and env["PATH"] == os.environ["PATH"]
    assert env["HF_HOME"] == str(tmp_path) and env["HF_TOKEN_PATH"].startswith(str(tmp_path))
    assert env["HF_HUB_CACHE"] == constants.HF_HUB_CACHE  # what is downloaded is found
    assert env["HF_HUB_OFFLINE"] == env["TRANSFORMERS_OFFLINE"] == "1"
    assert environment(str(tmp_path), allow_download=True)["HF_HUB_OFFLINE"] == "0"  # as the caller has it
