"""The layers contract (pyproject.toml, checked by ``lint-imports`` in ``make lint``) covers every
module of ``loyalty_site``: its settings and helpers are listed one by one as the bottom layer,
so a new module left out of the list would escape the check."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _layers() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = [c for c in config["contracts"] if c["type"] == "layers"]
    return contract["layers"]


def _modules(layer: str) -> set[str]:
    return {name.strip().strip("()") for name in layer.split(":")}


def test_layers_contract_orders_the_apps_top_to_bottom():
    layers = _layers()
    assert "loyalty_site.site" in _modules(layers[0])
    assert layers[1:5] == ["optimizer", "campaigns", "customers", "retailers"]
    assert "loyalty_site.settings" in _modules(layers[5])


def test_layers_contract_lists_every_loyalty_site_module():
    listed = set().union(*(_modules(layer) for layer in _layers()))
    package = ROOT / "loyalty_site"
    present = {f"loyalty_site.{path.stem}" for path in package.glob("*.py")}
    present |= {f"loyalty_site.{path.parent.name}" for path in package.glob("*/__init__.py")}
    missing = present - {"loyalty_site.__init__"} - listed
    assert not missing, f"add to the layers contract in pyproject.toml: {sorted(missing)}"
