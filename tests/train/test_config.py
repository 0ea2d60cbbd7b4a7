import pytest

from jaxaxon.train import get_preset
from jaxaxon.train.config import RunConfigError, parse_overrides


def test_parse_overrides_reads_json_values_and_keeps_plain_strings():
    out = parse_overrides(["lr=0.001", "model.heads=[\"axon\", \"bouton\"]", "preset=my run", "flag=true"])
    assert out == {"lr": 0.001, "model.heads": ["axon", "bouton"], "preset": "my run", "flag": True}
    rc = get_preset("quick").replace(**{k: v for k, v in out.items() if k != "flag"})
    assert rc.lr == 0.001 and rc.model.heads == ("axon", "bouton") and rc.preset == "my run"


@pytest.mark.parametrize("item", ["lr", "=3"])
def test_parse_overrides_refuses_items_without_key_or_value(item):
    with pytest.raises(RunConfigError, match="KEY=VALUE"):
        parse_overrides([item])
