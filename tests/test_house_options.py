"""Declared metric options: validation of params, parsing of METRIC.OPTION=VALUE."""

from __future__ import annotations

import pytest

from iqa.errors import UsageError
from iqa.registry import parse_metric_options, resolve_pair_metrics, validate_params


def test_declared_options_are_filled_with_their_defaults():
    params = validate_params({}, ["lpips", "kid"])
    assert params == {"lpips.net": "alex", "kid.subsets": 100, "kid.subset_size": 1000,
                      "kid.seed": 2020}


def test_text_values_are_converted_to_the_declared_type():
    params = validate_params(parse_metric_options(["kid.subsets=3", "lpips.net=vgg"]),
                             ["kid", "lpips"])
    assert params["kid.subsets"] == 3 and params["lpips.net"] == "vgg"


def test_a_misspelt_option_names_the_metric_and_its_options():
    with pytest.raises(UsageError) as info:
        validate_params({"lpips.nett": "vgg"}, ["lpips"])
    text = str(info.value)
    assert "lpips" in text and "nett" in text and "net" in text.replace("nett", "")
    assert "\n" not in text


def test_a_value_outside_the_choices_is_refused():
    with pytest.raises(UsageError, match="alex, vgg, squeeze"):
        validate_params({"lpips.net": "resnet"}, ["lpips"])


def test_a_value_of_the_wrong_type_is_refused():
    with pytest.raises(UsageError, match="kid.subsets.*integer"):
        validate_params({"kid.subsets": "many"}, ["kid"])


def test_an_option_for_a_metric_not_in_the_run_is_refused():
    with pytest.raises(UsageError, match="lpips is not"):
        validate_params({"lpips.net": "vgg"}, ["ssim"])


def test_options_of_a_metric_that_declares_none():
    with pytest.raises(UsageError, match="ssim takes no options"):
        validate_params({"ssim.win": "7"}, ["ssim"])


@pytest.mark.parametrize("bad", ["lpips.net", "net=vgg", "=vgg", "lpips.=vgg"])
def test_malformed_metric_options(bad):
    with pytest.raises(UsageError, match="METRIC.OPTION=VALUE"):
        parse_metric_options([bad])


def test_bool_options_take_the_usual_spellings(monkeypatch):
    from iqa.metrics.base import MetricInfo, Option, PairMetric

    class Flag(PairMetric):
        info = MetricInfo("flagged", "pair", True, "pixels", "test",
                          options=(Option("luma", bool, False, "on luma"),))

        def score(self, pairs):
            return [0.0 for _ in pairs]

    monkeypatch.setattr("iqa.registry.load", lambda name: Flag)
    assert validate_params({"flagged.luma": "yes"}, ["flagged"])["flagged.luma"] is True
    assert validate_params({"flagged.luma": "0"}, ["flagged"])["flagged.luma"] is False
    with pytest.raises(UsageError, match="true or false"):
        validate_params({"flagged.luma": "maybe"}, ["flagged"])


def test_kid_in_compare_names_the_command_that_exists():
    with pytest.raises(UsageError) as info:
        resolve_pair_metrics("kid")
    assert "iqa kid" not in str(info.value) and "iqa fid" in str(info.value)


def test_iqa_metrics_lists_the_declared_options(capsys):
    import json

    from iqa.cli import main

    with pytest.raises(SystemExit) as info:
        main(["metrics", "--format", "json"])
    assert info.value.code == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)["metrics"]}
    assert rows["lpips"]["options"] == [{"name": "net", "type": "str", "default": "alex",
                                         "help": rows["lpips"]["options"][0]["help"],
                                         "choices": ["alex", "vgg", "squeeze"]}]
    assert [o["name"] for o in rows["kid"]["options"]] == ["subsets", "subset_size", "seed"]
    main_table = pytest.raises(SystemExit)
    with main_table:
        main(["metrics"])
    assert "net=alex" in capsys.readouterr().out
