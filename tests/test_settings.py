"""Settings: environment parsing, clear errors for bad values, and the README documents every variable."""

from pathlib import Path

import pytest

from core.settings import PREFIX, Settings, settings_table

ROOT = Path(__file__).resolve().parent.parent


def test_environment_overrides_and_types():
    s = Settings.from_env({"GATEWAY_PORT": "9000", "GATEWAY_CACHE_BUDGET_GB": "1.5", "GATEWAY_ALLOW_DOWNLOADS": "no",
                           "GATEWAY_DATA_DIR": "/tmp/x", "UNRELATED": "1"})
    assert s.port == 9000 and s.cache_budget_gb == "1.5" and s.allow_downloads is False
    assert s.data_dir == Path("/tmp/x") and s.db_path == Path("/tmp/x/gateway.sqlite3")
    defaults = Settings.from_env({})
    # No listen address of our own (Gradio's defaults apply), downloads on, no public secret, budget from the device.
    assert defaults.host == "" and defaults.port == 0 and defaults.allow_downloads is True
    assert defaults.owner_secret == "" and defaults.cache_budget_gb == "auto"


def test_bad_values_name_the_variable():
    with pytest.raises(ValueError, match="GATEWAY_PORT"):
        Settings.from_env({"GATEWAY_PORT": "eighty"})
    with pytest.raises(ValueError, match="GATEWAY_ALLOW_DOWNLOADS"):
        Settings.from_env({"GATEWAY_ALLOW_DOWNLOADS": "maybe"})


def test_every_setting_has_a_description_and_is_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    table = settings_table()
    for line in table.splitlines()[2:]:
        name = line.split("`")[1]
        assert name.startswith(PREFIX)
        assert name in readme, f"{name} is missing from the README's settings table (python -m core.settings)"
        assert line.rstrip(" |").split("|")[-1].strip(), f"{name} has no description"
