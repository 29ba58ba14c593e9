"""A command that needs an optional extra that is not installed says which extra to install."""

import pytest

from microlift.cli import main
from microlift.models.extras import MissingExtra, need


def test_a_missing_module_of_an_extra_is_named_with_the_extra_to_install():
    with pytest.raises(MissingExtra, match=r"no_such_module_xyz is not installed: it comes with microlift's 'tune' "
                                           r"extra \(pip install 'microlift\[tune\]'\)"):
        need("tune", "no_such_module_xyz")


def test_an_installed_module_of_an_extra_is_returned():
    assert need("dask", "json").dumps([1]) == "[1]"


def test_the_command_line_names_the_missing_extra_without_a_traceback(monkeypatch, tmp_path, capsys):
    # given a machine without Optuna (its import fails as a missing module would)
    monkeypatch.setitem(__import__("sys").modules, "optuna", None)
    monkeypatch.delitem(__import__("sys").modules, "microlift.training.tune", raising=False)
    # when
    code = main(["tune", "--data", str(tmp_path)])
    # then
    err = capsys.readouterr().err
    assert code == 2 and "'tune' extra" in err and "pip install 'microlift[tune]'" in err
    assert "Traceback" not in err
