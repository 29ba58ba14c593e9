"""A command that needs an optional extra that is not installed says which extra to install."""

import subprocess
import sys

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
    monkeypatch.setitem(sys.modules, "optuna", None)
    monkeypatch.delitem(sys.modules, "microlift.training.tune", raising=False)
    # when
    code = main(["tune", "--data", str(tmp_path)])
    # then
    err = capsys.readouterr().err
    assert code == 2 and "'tune' extra" in err and "pip install 'microlift[tune]'" in err
    assert "Traceback" not in err


def test_commands_that_do_not_use_dask_load_without_it():
    # given a machine without the dask extra (a fresh interpreter in which dask cannot be imported)
    program = (
        "import sys\n"
        "for name in ('dask', 'dask.dataframe', 'distributed'): sys.modules[name] = None\n"
        "import microlift.commands.planning as planning, microlift.commands.training\n"
        "assert planning.scoring.score_in_process\n"
        "try:\n"
        "    import microlift.training.distributed.score\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    # when the planner's and the data scientist's commands load (in-process scoring among them)
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)
    # then they do, and only the Dask engine asks for the extra
    assert done.returncode == 0, done.stderr
    assert "'dask' extra" in done.stdout
