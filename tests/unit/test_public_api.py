"""The public surface of the `papote` package is explicit; changing it is a decision."""

from __future__ import annotations

import papote


def test_exported_members() -> None:
    assert sorted(papote.__all__) == ["CloseCode", "Config", "ErrorCode", "PapoteError", "__version__", "create_app"]
    for name in papote.__all__:
        assert hasattr(papote, name)


def test_config_from_env() -> None:
    config = papote.Config.from_env({"PAPOTE_PORT": "9001", "PAPOTE_SYNCHRONOUS": "normal",
                                     "PAPOTE_DEMO": "true"})
    assert config.port == 9001 and config.demo and config.base_url == "http://127.0.0.1:9001"


def test_bad_config_is_explained() -> None:
    import pytest

    with pytest.raises(ValueError, match="PAPOTE_PORT"):
        papote.Config.from_env({"PAPOTE_PORT": "eighty"})
    with pytest.raises(ValueError, match="SYNCHRONOUS"):
        papote.Config.from_env({"PAPOTE_SYNCHRONOUS": "OFF"})
