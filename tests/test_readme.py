"""The README's excerpt of explain's output is real: it is checked against the command."""

import re
import shlex

from conftest import REPO, run

README = REPO / "README.md"


def test_readme_excerpts_match_the_real_output():
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"<!-- excerpt: (.+?) -->\n```text\n(.*?)```\n<!-- end excerpt -->", text, re.S)
    assert blocks, "the README has no checked excerpt"
    for command, excerpt in blocks:
        args = shlex.split(command)
        assert args[0] == "stepprop"
        result = run(*args[1:])
        # check exits 1 when an answer is wrong, which is what its excerpt shows
        assert result.exit_code in ((0, 1) if args[1] == "check" else (0,)), result.output
        assert excerpt in result.stdout, f"README excerpt of '{command}' is out of date"


def test_readme_opens_with_the_two_setup_commands():
    text = README.read_text(encoding="utf-8")
    block = re.search(r"```sh\n(.*?)```", text, re.S).group(1).splitlines()
    assert block[0] == "pip install . && stepprop explain"
    assert block[1] == "pip install -e '.[test]' && pytest"


def test_the_from_python_section_runs_and_prints_what_it_says(tmp_path):
    """The README's Python example, run as a user would (a fresh interpreter, in an
    empty folder); every '# number' comment on a print line is what it prints."""
    import subprocess
    import sys

    text = README.read_text(encoding="utf-8")
    code = re.search(r"## From Python\n.*?```python\n(.*?)```", text, re.S).group(1)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    printed = iter(result.stdout.splitlines())
    for line in code.splitlines():
        if not line.startswith("print("):
            continue
        said = re.search(r"#\s*(\S+)", line)
        out = next(printed)
        if "render(" in line:  # a whole worked example, and the blank line print adds: skip them
            while not out.startswith("E_total+"):
                out = next(printed)
            assert next(printed) == ""
            continue
        if said and re.fullmatch(r"-?[\d.e+-]+", said.group(1)):
            expected = said.group(1)
            digits = len(expected.lower().split("e")[0].replace("-", "").replace(".", "").lstrip("0"))
            assert f"{float(out.split()[0]):.{digits}g}" == f"{float(expected):.{digits}g}", (line, out)
