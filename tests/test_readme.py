"""The README's excerpt of explain's output is real: it is checked against the command."""

import re
import shlex
from pathlib import Path

from click.testing import CliRunner

from stepprop.cli import main

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_excerpts_match_the_real_output():
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"<!-- excerpt: (.+?) -->\n```text\n(.*?)```\n<!-- end excerpt -->", text, re.S)
    assert blocks, "the README has no checked excerpt"
    for command, excerpt in blocks:
        args = shlex.split(command)
        assert args[0] == "stepprop"
        result = CliRunner().invoke(main, args[1:])
        # check exits 1 when an answer is wrong, which is what its excerpt shows
        assert result.exit_code in ((0, 1) if args[1] == "check" else (0,)), result.output
        assert excerpt in result.stdout, f"README excerpt of '{command}' is out of date"


def test_readme_opens_with_the_two_setup_commands():
    text = README.read_text(encoding="utf-8")
    block = re.search(r"```sh\n(.*?)```", text, re.S).group(1).splitlines()
    assert block[0] == "pip install . && stepprop explain"
    assert block[1] == "pip install -e '.[test]' && pytest"
