"""Samples from a CSV file (samples: {csv: FILE, inputs: [...], targets: [...] or one_hot: COLUMN}):
the numbers read, every error at its file:line:column, the caps, saving, init --from-csv."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
import yaml
from conftest import run

from stepprop import config as configs
from stepprop.errors import ConfigError

LAYERS = """
eta: 0.5
layers:
  - weights: [[0.1, 0.2], [0.3, 0.4]]
    bias: 0.1
  - weights: [[0.5, 0.6], [0.7, 0.8]]
    bias: 0.2
"""
DATA = "a,b,species,t,u\n1,2,y,0.5,0.25\n3,4.5,x,0.75,1\n-5,6e-1,y,0,0.125\n"


def write(folder: Path, data: str = DATA, samples: str = "  inputs: [a, b]\n  targets: [t, u]\n", name="d.csv") -> Path:
    (folder / name).write_text(data)
    path = folder / "c.yaml"
    path.write_text(f"samples:\n  csv: {name}\n{samples}{LAYERS}")
    return path


def error(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        configs.load(path)
    result = run("explain", str(path), code=1)  # the command line: exit 1, no traceback
    assert str(caught.value) in result.stderr
    return caught.value


def test_the_numbers_read_are_the_csv_files(tmp_path):
    cfg = configs.load(write(tmp_path))
    assert [(s.inputs, s.targets) for s in cfg.samples] == [
        ((1.0, 2.0), (0.5, 0.25)),
        ((3.0, 4.5), (0.75, 1.0)),
        ((-5.0, 0.6), (0.0, 0.125)),
    ]


def test_one_hot_expands_a_class_column_in_sorted_order(tmp_path):
    cfg = configs.load(write(tmp_path, samples="  inputs: [a, b]\n  one_hot: species\n"))
    assert [s.targets for s in cfg.samples] == [(0.0, 1.0), (1.0, 0.0), (0.0, 1.0)]
    assert cfg.csv is not None and cfg.csv.targets == ("x", "y")
    assert "in sorted order: x -> o1, y -> o2" in run("explain", str(tmp_path / "c.yaml"), code=0).stdout


def test_number_classes_sort_by_value(tmp_path):
    data = "a,b,k\n1,2,10\n1,2,2\n"
    cfg = configs.load(write(tmp_path, data, "  inputs: [a, b]\n  one_hot: k\n"))
    assert cfg.csv is not None and cfg.csv.targets == ("2", "10")


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_semicolons_tabs_and_decimal_commas(tmp_path, delimiter):
    data = DATA.replace(",", delimiter).replace("4.5", "4,5").replace("0.75", "0,75")
    cfg = configs.load(write(tmp_path, data))
    assert cfg.samples[1] == ((3.0, 4.5), (0.75, 1.0))


@pytest.mark.parametrize(
    ("data", "samples", "where", "words"),
    [
        (DATA, "  inputs: [a, bb]\n  targets: [t, u]\n", "d.csv:1:1", "no column 'bb'"),
        (DATA.replace("4.5", "four"), None, "d.csv:3:3", "'four' is not a number"),
        (DATA.replace("4.5", "nan"), None, "d.csv:3:3", "not a finite number"),
        (DATA.replace("0.75", "inf"), None, "d.csv:3:9", "not a finite number"),
        (DATA.replace("-5,", "-5,,"), None, "d.csv:4:", "ragged"),
        (DATA.replace("1,2,y,0.5,0.25", "1,2,y,0.5"), None, "d.csv:2:10", "ragged"),
        ("", None, "d.csv:1:1", "empty"),
        ("a,b,t,u\n", None, "d.csv:2:1", "no samples"),
        ("a,b,a,t,u\n1,2,3,4,5\n", None, "d.csv:1:5", "named twice"),
        (DATA.replace("3,4.5", '3,"4.5'), None, "d.csv:3:", "ragged"),
    ],
)
def test_every_csv_error_is_located(tmp_path, data, samples, where, words):
    path = write(tmp_path, data, samples) if samples else write(tmp_path, data)
    found = error(path)
    assert str(found).startswith(str(tmp_path / where)) or str(found).startswith(where), str(found)
    assert words in str(found)


def test_a_missing_column_is_suggested(tmp_path):
    found = error(write(tmp_path, samples="  inputs: [a, b]\n  targets: [t, uu]\n"))
    assert "did you mean 'u'" in str(found) and "c.yaml:4:" in str(found)


@pytest.mark.parametrize(
    ("samples", "where", "words"),
    [
        ("samples:\n  inputs: [a]\n  targets: [t]\n", "c.yaml:2:3", "missing 'csv: FILE'"),
        ("samples:\n  csv: d.csv\n  inputs: [a, b]\n  targets: [t]\n  one_hot: species\n", "c.yaml:5:3", "not both"),
        ("samples:\n  csv: d.csv\n  inputs: [a, b]\n  tragets: [t, u]\n", "c.yaml:4:3", "did you mean 'targets'"),
        ("samples:\n  csv: d.csv\n  targets: [t, u]\n", "c.yaml:2:3", "missing 'inputs'"),
        ("samples:\n  csv: nothere.csv\n  inputs: [a, b]\n  targets: [t, u]\n", "c.yaml:2:8", "no such file"),
        ("samples:\n  csv: d.csv\n  inputs: [a, b]\n  targets: [t]\n", "c.yaml:4:12", "expected 2 targets"),
    ],
)
def test_the_configs_keys_are_checked_where_written(tmp_path, samples, where, words):
    (tmp_path / "d.csv").write_text(DATA)
    path = tmp_path / "c.yaml"
    path.write_text(samples + LAYERS)
    found = error(path)
    assert str(found).startswith(f"{tmp_path}/{where}") and words in str(found), str(found)


def test_the_row_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(configs, "MAX_SAMPLES", 50)
    data = "a,b,t,u\n" + "1,2,0.5,0.5\n" * 51
    found = error(write(tmp_path, data))
    assert "more than 50 rows" in str(found) and ":52" in str(found)


def test_100000_rows_are_read(tmp_path):
    path = write(tmp_path, "a,b,t,u\n" + "1,2,0.5,0.5\n" * configs.MAX_SAMPLES)
    assert len(configs.load(path).samples) == configs.MAX_SAMPLES
    (tmp_path / "d.csv").write_text("a,b,t,u\n" + "1,2,0.5,0.5\n" * (configs.MAX_SAMPLES + 1))
    assert f"more than {configs.MAX_SAMPLES:,} rows" in str(error(path))


def test_the_byte_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(configs, "MAX_CSV_BYTES", 1000)
    found = error(write(tmp_path, "a,b,t,u\n" + "1,2,0.5,0.5\n" * 100))
    assert "at most 1,000" in str(found) and "c.yaml:2:8" in str(found)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero here")
def test_an_endless_csv_is_read_no_further_than_the_cap(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("samples:\n  csv: /dev/zero\n  inputs: [a]\n  targets: [t]\n" + LAYERS)
    assert "at most 50,000,000" in str(error(path))


def test_a_fifo_fed_forever_is_read_no_further_than_the_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(configs, "MAX_CSV_BYTES", 100_000)
    fifo = tmp_path / "d.csv"
    os.mkfifo(fifo)

    def feed() -> None:
        try:
            with open(fifo, "w") as handle:
                while True:
                    handle.write("1,2,0.5,0.5\n" * 1000)
        except (BrokenPipeError, OSError):
            pass

    threading.Thread(target=feed, daemon=True).start()
    path = tmp_path / "c.yaml"
    path.write_text("samples:\n  csv: d.csv\n  inputs: [a]\n  targets: [t]\n" + LAYERS)
    with pytest.raises(ConfigError, match="at most 100,000"):
        configs.load(path)


def test_the_csv_is_relative_to_the_config_not_the_current_folder(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    write(tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    assert len(configs.load(Path("data") / "c.yaml").samples) == 3
    run("train", "data/c.yaml", "--epochs", "5", code=0)


def test_the_bundled_example_runs_from_any_folder(workdir):
    assert "4-3-3" in run("examples", code=0).stdout
    assert "daisy -> o1, lily -> o2, tulip -> o3" in run("explain", "flowers", code=0).stdout
    run("train", "flowers", "--epochs", "5", code=0)
    run("init", "--from", "flowers", "-o", "copy.yaml", code=0)
    assert len(configs.load(workdir / "copy.yaml").samples) == 12


def test_the_wheel_ships_the_csv():
    pyproject = (Path(__file__).resolve().parent.parent / "pyproject.toml").read_text()
    assert '"configs/*.csv"' in pyproject


def test_saving_keeps_the_csv_reference(tmp_path):
    path = write(tmp_path)
    run("train", str(path), "--epochs", "3", "--save", str(tmp_path / "trained.yaml"), code=0)
    saved = yaml.safe_load((tmp_path / "trained.yaml").read_text())
    assert saved["samples"] == {"csv": "d.csv", "inputs": ["a", "b"], "targets": ["t", "u"]}
    elsewhere = tmp_path / "out"
    elsewhere.mkdir()
    run("train", str(path), "--epochs", "3", "--save", str(elsewhere / "trained.yaml"), code=0)
    saved = yaml.safe_load((elsewhere / "trained.yaml").read_text())
    assert saved["samples"]["csv"] == str(tmp_path / "d.csv")  # outside the folder: absolute
    assert configs.load(elsewhere / "trained.yaml").samples == configs.load(path).samples


def test_init_from_csv_writes_a_config_that_trains(workdir):
    (workdir / "data.csv").write_text(DATA)
    run("init", "--from-csv", "data.csv", "--inputs", "a,b", "--one-hot", "species", "2-3-2", "-o", "mine.yaml", code=0)
    cfg = configs.load(workdir / "mine.yaml")
    assert cfg.loss == "cross_entropy" and cfg.csv is not None and cfg.csv.targets == ("x", "y")
    run("train", "mine.yaml", "--epochs", "5", code=0)
    run("init", "--from-csv", "data.csv", "--inputs", "a,b", "--targets", "t,u", "2-2", "-o", "two.yaml", code=0)
    assert configs.load(workdir / "two.yaml").samples == configs.load(write(workdir)).samples
    bad = run("init", "--from-csv", "data.csv", "--inputs", "a,b", "--targets", "t,u", "3-2-2", code=1)
    assert "start with 2" in bad.stderr
    assert "--targets" in run("init", "--from-csv", "data.csv", "--inputs", "a", "2-2", code=2).stderr
    assert "--from-csv" in run("init", "--inputs", "a", "2-2", code=2).stderr
