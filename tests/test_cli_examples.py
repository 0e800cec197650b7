"""Every file under examples/ works: the shell script runs on real codec output (libwebp's
cwebp/dwebp, Debian package "webp"), the CI files' commands parse with today's CLI."""

import os
import re
import shlex
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import click
import numpy as np
import pytest
from PIL import Image

from tests.cli_helpers import ROOT, strict_json
from tests.images import astronaut, camera

EXAMPLES = ROOT / "examples"


def test_every_example_is_covered():
    found = sorted(str(p.relative_to(EXAMPLES)) for p in EXAMPLES.rglob("*") if p.is_file())
    assert found == ["codec-quality-gate.sh", "github-actions/image-quality.yml",
                     "gitlab-ci.yml"], "a new example needs a test here"


@pytest.fixture
def codec_refs(tmp_path):
    """References as a codec team has them: an RGB photo, gray images, a sub-folder."""
    refs = tmp_path / "refs"
    (refs / "gray").mkdir(parents=True)
    shutil.copy(ROOT / "sample_images" / "reference.png", refs / "reference.png")
    Image.fromarray(camera()).save(refs / "gray" / "camera.png")
    gray_photo = np.asarray(Image.fromarray(astronaut()).convert("L"))[::2, ::2].copy()
    Image.fromarray(gray_photo).save(refs / "gray" / "astronaut.png")
    return refs


def test_codec_quality_gate_script_passes_on_real_codec_output(tmp_path, codec_refs):
    assert shutil.which("cwebp") and shutil.which("dwebp"), (
        "the example needs libwebp's tools: apt-get install webp")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "iqa"
    shim.write_text(f"#!{sys.executable}\nfrom iqa.cli import main\nmain()\n")
    shim.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(ROOT)}

    def run(**extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", str(EXAMPLES / "codec-quality-gate.sh"),
                               str(codec_refs), "out"], cwd=tmp_path, env={**env, **extra},
                              capture_output=True, text=True, timeout=600)

    accept = run(UPDATE_BASELINE="1")
    assert accept.returncode == 0, accept.stdout + accept.stderr
    assert "baseline updated: quality/baseline.json" in accept.stdout
    decoded = tmp_path / "out" / "decoded" / "gray" / "camera.png"
    assert Image.open(decoded).mode == "RGB"  # what made the example fail before

    again = run()
    assert again.returncode == 0, again.stdout + again.stderr
    # 3 thresholds + 2 baseline metrics + the baseline's pair list; the verdict is on stderr
    assert "iqa: PASS 6 gates on 3 pairs" in again.stderr and "FAIL" not in again.stderr
    report = strict_json((tmp_path / "out" / "quality.json").read_text())
    checks = {c["gate"]: c["passed"] for c in report["gates"]["checks"]}
    assert all(checks.values()) and any(g.startswith("psnr vs baseline") for g in checks), checks
    assert report["counts"] == {"pairs": 3, "scored": 3, "failed": 0}
    assert report["settings"]["channels"] == "rgb"
    root = ET.parse(tmp_path / "out" / "quality.xml").getroot()
    assert root.get("failures") == "0" and root.get("errors") == "0"


def _iqa_commands(text: str) -> list[list[str]]:
    """`iqa ...` command lines of a CI file, folded YAML blocks joined into one line."""
    commands, current, indent = [], None, 0
    for line in text.splitlines():
        stripped = line.strip()
        if current is not None:
            if stripped and not stripped.startswith(("-", "#")) and ":" not in stripped[:1]:
                if line.startswith(" " * indent) and not re.match(r"^\s*[\w-]+:\s", line):
                    current.append(stripped)
                    continue
            commands.append(shlex.split(" ".join(current)))
            current = None
        match = re.match(r"^(\s*)(?:- )?(iqa .*)$", line)
        if match:
            indent = len(match.group(1))
            current = [match.group(2)]
    if current is not None:
        commands.append(shlex.split(" ".join(current)))
    return commands


@pytest.mark.parametrize("name", ["github-actions/image-quality.yml", "gitlab-ci.yml"])
def test_ci_files_use_only_what_exists(name):
    from iqa.cli import cli
    from iqa.gates import parse_gates

    text = (EXAMPLES / name).read_text()
    assert "\t" not in text  # YAML forbids tabs for indentation
    for script in re.findall(r"examples/[\w./-]+\.sh", text):
        assert (ROOT / script).is_file() and os.access(ROOT / script, os.X_OK), script
    steps = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    # `pip install iqa` ships no scripts: a CI file may not call one of examples/.
    assert not any("examples/" in line for line in steps), name
    commands = _iqa_commands(text)
    assert len(commands) == 1
    for args in commands:
        assert args[0] == "iqa"
        command = cli.get_command(click.Context(cli), args[1])
        assert command is not None, args
        ctx = command.make_context(args[1], args[2:])  # unknown options raise here
        if ctx.params.get("fail_if"):
            parse_gates(ctx.params["fail_if"])
        if "webp" in " ".join(args) or "cwebp" in text:
            assert "apt-get install -y webp" in text


def test_the_script_command_parses_with_the_cli():
    from iqa.cli.compare import compare

    text = (EXAMPLES / "codec-quality-gate.sh").read_text()
    line = next(x for x in text.splitlines() if x.startswith("iqa compare"))
    assert "--channels rgb" in line
    args = shlex.split(line.replace('"${gates[@]}"', "").rstrip("\\"))
    compare.make_context("compare", [a.replace("$", "") for a in args[2:]])
