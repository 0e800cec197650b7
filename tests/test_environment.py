"""Every environment variable is checked when a command starts: a bad value is one line
naming it, exit code 2, before any work, whether or not the command uses it."""

from __future__ import annotations

import pytest

from iqa.errors import UsageError
from tests.cli_helpers import ROOT, run_iqa

SAMPLE = ROOT / "sample_images" / "reference.png"


@pytest.mark.parametrize("variable, value, needle", [
    ("IQA_OFFLINE", "maybe", "IQA_OFFLINE='maybe' is not valid"),
    ("IQA_SSIM_ENGINE", "foo", "IQA_SSIM_ENGINE='foo' is not an SSIM engine"),
    ("IQA_THREADS", "0", "IQA_THREADS='0' is not valid"),
    ("IQA_THREADS", "1.5", "IQA_THREADS='1.5' is not valid"),
    ("IQA_WEIGHTS_MIRROR", "notaurl", "IQA_WEIGHTS_MIRROR='notaurl' is not a URL"),
    ("IQA_DOWNLOAD_TIMEOUT", "-3", "IQA_DOWNLOAD_TIMEOUT='-3' is not valid"),
    # read only under torchrun: checked there (WORLD_SIZE and RANK set, below)
    ("IQA_DIST_TIMEOUT", "abc", "IQA_DIST_TIMEOUT='abc' is not valid"),
    ("IQA_DIST_TIMEOUT", "nan", "IQA_DIST_TIMEOUT='nan' is not valid"),
    ("IQA_DIST_TIMEOUT", "inf", "IQA_DIST_TIMEOUT='inf' is not valid"),
    ("IQA_DIST_TIMEOUT", "0", "IQA_DIST_TIMEOUT='0' is not valid"),
    ("IQA_DIST_TIMEOUT", "-5", "IQA_DIST_TIMEOUT='-5' is not valid"),
    ("IQA_DIST_TIMEOUT", "1e12", "IQA_DIST_TIMEOUT='1e12' is not valid"),
    ("IQA_DIST_BACKEND", "bogus", "IQA_DIST_BACKEND='bogus' is not valid"),
])
def test_a_bad_value_stops_any_command_with_one_line(variable, value, needle):
    # PSNR alone uses none of these variables: they are refused anyway
    env = {variable: value}
    if variable.startswith("IQA_DIST_"):  # as torchrun sets them; refused before joining
        env.update(WORLD_SIZE="2", RANK="0", LOCAL_RANK="0")
    result = run_iqa("compare", SAMPLE, SAMPLE, "-m", "psnr", env=env)
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], result.stderr
    helped = run_iqa("compare", "--help", env=env)
    assert helped.returncode == 0 and "Usage:" in helped.stdout


@pytest.mark.parametrize("variable, value", [("IQA_DIST_TIMEOUT", "600s"),
                                             ("IQA_DIST_BACKEND", "mpi")])
def test_the_distributed_variables_do_not_stop_a_run_outside_torchrun(variable, value):
    result = run_iqa("compare", SAMPLE, SAMPLE, "-m", "psnr", env={variable: value,
                                                                    "WORLD_SIZE": "1"})
    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_good_values_pass_and_are_used(monkeypatch):
    from iqa import environment
    from iqa.metrics._ssim_filter import thread_count

    monkeypatch.setenv("IQA_THREADS", "3")
    monkeypatch.setenv("IQA_OFFLINE", "yes")
    monkeypatch.setenv("IQA_WEIGHTS_MIRROR", "https://example.org/w/")
    environment.check()
    assert thread_count() == 3 and environment.offline() is True
    assert environment.mirror() == "https://example.org/w"
    monkeypatch.setenv("IQA_WEIGHTS_MIRROR", "ftp//x")
    with pytest.raises(UsageError, match="is not a URL"):
        environment.check()


def test_the_distributed_variables_parse_once_for_every_reader(monkeypatch):
    """ranks.start reads them through these parsers: the same rules as the check."""
    from iqa import environment

    monkeypatch.delenv("IQA_DIST_TIMEOUT", raising=False)
    monkeypatch.delenv("IQA_DIST_BACKEND", raising=False)
    assert environment.dist_timeout() == 1800 and environment.dist_backend() is None
    monkeypatch.setenv("IQA_DIST_TIMEOUT", " 90 ")
    monkeypatch.setenv("IQA_DIST_BACKEND", "GLOO")
    environment.check()
    assert environment.dist_timeout() == 90 and environment.dist_backend() == "gloo"
