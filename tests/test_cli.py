from typer.testing import CliRunner

from tollguard.cli import _register, app


def test_help_lists_commands() -> None:
    _register()
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "international toll fraud" in result.output


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.startswith("tollguard ")
