"""Hostile and broken input: one clear diagnostic with a location, exit 1, no traceback,
in bounded time and memory (each run is a child process with a 1 GiB address-space cap)."""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

MEM_CAP = 1 << 30


def _cap():
    resource.setrlimit(resource.RLIMIT_AS, (MEM_CAP, MEM_CAP))


def validate(path: Path, cwd: Path):
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, "-m", "cardgen", "validate", str(path)], cwd=cwd, capture_output=True,
                       text=True, timeout=30, preexec_fn=_cap)
    return p, time.monotonic() - t0


def card_dir(tmp_path: Path) -> Path:
    d = tmp_path / "cards" / "acme" / "model"
    d.mkdir(parents=True)
    (tmp_path / "cards" / "_shared").mkdir()
    return d


CASES = {
    "malformed": (b"repo_id: acme/model\nname: [unclosed\n", "CG004", 3),
    "not-utf8": (b"repo_id: acme/model\nname: caf\xe9\n", "CG002", 2),
    "empty": (b"", "CG003", 1),
    "only-comment": (b"# nothing here\n", "CG003", 1),
    "list-at-top": (b"- repo_id: acme/model\n", "CG101", 1),
    "alias-bomb": (b"a: &a [x, x, x, x, x, x, x, x, x]\n" + b"".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n".encode()
        for i in range(9)), "CG006", None),
    "deep-nesting": (b"a: " + b"[" * 5000 + b"]" * 5000 + b"\n", "CG006", None),
    "python-tag": (b"repo_id: !!python/object/apply:os.system ['echo pwned']\n", "CG007", 1),
    "duplicate-key": (b"repo_id: acme/model\nlicense: mit\nname: A\nname: B\n", "CG005", 4),
    "nul-bytes": (b"repo_id: acme/model\nname: \x00\x00\n", "CG004", None),
    "many-nodes": (b"x: [" + b",".join([b"1"] * 900_000) + b"]\n", "CG006", 1),  # 1.8 MB, under the size limit
}


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_file(tmp_path, name):
    content, code, line = CASES[name]
    d = card_dir(tmp_path)
    f = d / "card.yaml"
    f.write_bytes(content)
    p, took = validate(tmp_path / "cards", tmp_path)
    out = p.stdout + p.stderr
    assert p.returncode == 1, out
    assert "Traceback" not in out
    diags = re.findall(r"^(\S+):(\d+):(\d+): (CG\d+) ", p.stdout, re.M)
    assert [d[3] for d in diags] == [code], out  # exactly one, clear diagnostic
    assert diags[0][0].endswith("card.yaml")
    if line is not None:
        assert int(diags[0][1]) == line, out
    assert took < 20


def test_huge_file_is_refused_without_reading_it(tmp_path):
    d = card_dir(tmp_path)
    f = d / "card.yaml"
    with open(f, "wb") as fh:
        fh.write(b"repo_id: acme/model\nname: x\n")
        fh.seek(50 * 1024 * 1024)
        fh.write(b"\n")
    p, took = validate(tmp_path / "cards", tmp_path)
    assert p.returncode == 1 and "CG001" in p.stdout and "Traceback" not in p.stderr
    assert re.search(r"card.yaml:1:1: CG001 file is 52,428,801 bytes", p.stdout), p.stdout
    assert took < 20


def test_section_file_escaping_cards_is_refused(tmp_path):
    d = card_dir(tmp_path)
    (d / "card.yaml").write_text(
        "repo_id: acme/model\nlicense: mit\nsections:\n  - heading: Secrets\n    file: ../../../../etc/passwd\n")
    p, _ = validate(tmp_path / "cards", tmp_path)
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert re.search(r"card.yaml:5:11: CG304 section file '../../../../etc/passwd' escapes", p.stdout), p.stdout
    assert "root:" not in p.stdout


def test_symlinked_source_outside_cards_is_refused(tmp_path):
    d = card_dir(tmp_path)
    outside = tmp_path / "outside.yaml"
    outside.write_text("repo_id: acme/model\nlicense: mit\n")
    os.symlink(outside, d / "card.yaml")
    p, _ = validate(tmp_path / "cards", tmp_path)
    assert p.returncode == 1 and "CG304" in p.stdout and "Traceback" not in p.stderr


def test_missing_section_file_is_a_dangling_reference(tmp_path):
    d = card_dir(tmp_path)
    (d / "card.yaml").write_text("repo_id: acme/model\nlicense: mit\nsections:\n  - heading: X\n    file: nope.md\n")
    p, _ = validate(tmp_path / "cards", tmp_path)
    assert p.returncode == 1 and re.search(r"card.yaml:5:11: CG301 section file 'nope.md'", p.stdout), p.stdout


def test_a_minimal_card_is_valid(tmp_path):
    d = card_dir(tmp_path)
    (d / "card.yaml").write_text("repo_id: acme/model\nlicense: mit\n")
    p, _ = validate(tmp_path / "cards", tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr


def test_a_document_of_many_tiny_nodes_is_refused_before_it_is_built(tmp_path):
    d = card_dir(tmp_path)
    (d / "card.yaml").write_bytes(b"x: [" + b",".join([b"1"] * 900_000) + b"]\n")
    if not Path("/proc/self/status").is_file():
        pytest.skip("peak memory is read from /proc (Linux)")
    # VmHWM: this process's peak resident memory (getrusage's ru_maxrss would include the parent's)
    probe = ("import re, sys\nfrom cardgen.cli import main\nrc = main(['validate', 'cards'])\n"
             "hwm = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)\n"
             "print('peak', hwm, file=sys.stderr)\nsys.exit(rc)")
    p = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "CG006" in p.stdout, p.stdout + p.stderr
    peak_kb = int(re.search(r"peak (\d+)", p.stderr).group(1))
    assert peak_kb < 150_000, f"{peak_kb} KB"  # composing all 900,000 nodes first took about 300 MB
