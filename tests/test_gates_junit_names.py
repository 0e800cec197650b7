"""JUnit reports are well-formed UTF-8 XML whatever the file names, and keep them recoverable."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET

import pytest
from PIL import Image

from iqa.gates import InputProblem
from iqa.output.junit import raw_name, write_junit, xml_safe
from tests.test_cli_gates import _base, _noisy, compare


@pytest.mark.parametrize(
    "name, shown",
    [
        ("plain.png", "plain.png"),
        ("caf\u00e9 \u6771.png", "caf\u00e9 \u6771.png"),
        ("esc\x1b[31m.png", "esc\\x1b[31m.png"),
        ("tab\there.png", "tab\\there.png"),
        ("line\nbreak.png", "line\\nbreak.png"),
        ("nul\x00.png", "nul\\x00.png"),
        ("back\\slash.png", "back\\\\slash.png"),
        ("bad\udcff\udcfe.png", "bad\\xff\\xfe.png"),  # os.fsdecode(b"bad\xff\xfe.png")
        ("nonchar\ufffe.png", "nonchar\\ufffe.png"),
    ],
)
def test_xml_safe_escapes_and_raw_name_recovers_the_bytes(name, shown):
    assert xml_safe(name) == shown
    assert raw_name(shown) == os.fsencode(name)


def test_junit_with_hostile_names_is_well_formed_utf8(tmp_path):
    names = ["esc\x1b.png", "bad\udcff.png", "form\x0cfeed.png", "ok.png"]
    path = tmp_path / "r.xml"
    write_junit(str(path), "iqa compare", None, results=names,
                problems=[InputProblem("bad\udcff.png", "cannot decode bad\udcff.png\x07")],
                properties={"iqa.baseline": "b\x01.json"})
    data = path.read_bytes()
    data.decode("utf-8")  # strict
    root = ET.fromstring(data)
    cases = [c.get("name") for c in root.iter("testcase")]
    assert cases == ["esc\\x1b.png [input]", "bad\\xff.png [input]",
                     "form\\x0cfeed.png [input]", "ok.png [input]"]
    error = root.find(".//error")
    assert error.get("message") == "cannot decode bad\\xff.png\\x07"
    assert raw_name(cases[1].removesuffix(" [input]")) == b"bad\xff.png"
    assert root.find(".//property[@name='iqa.baseline']").get("value") == "b\\x01.json"


def test_control_characters_in_file_names_through_the_cli(tmp_path):
    ref, out = tmp_path / "refs", tmp_path / "outs"
    ref.mkdir()
    out.mkdir()
    name = "esc\x1b[1mbold\x07.png"
    img = _base("x")
    Image.fromarray(img).save(ref / name)
    Image.fromarray(_noisy(img, 12.0, 1)).save(out / name)
    report = tmp_path / "r.xml"
    result = compare(ref, out, "--fail-if", "psnr<40", "--format", "json",
                     "-o", tmp_path / "r.json", "--junit", report)
    assert result.returncode == 1, result.stderr
    root = ET.parse(report).getroot()
    names = {c.get("name") for c in root.iter("testcase")}
    assert "esc\\x1b[1mbold\\x07.png [psnr<40]" in names
    assert root.get("failures") == "1"
