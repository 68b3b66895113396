"""--max-len all: the longest history in the data, resolved to a number once, at validation."""

import json

import numpy as np
import pytest

from tinybt.data.load import load_dataset
from tinybt.errors import TinyBTError
from tinybt.run.config import TrainConfig
from tinybt.train.trainer import train

from train_helpers import run_cli, tiny_config


def _longest_history_by_hand(data_dir, min_interactions):
    """max over kept users of the history cut h = clip(floor(0.8·L), 1, L − 1) (docs/protocol.md)."""
    count = np.bincount(load_dataset("ml-1m", data_dir=data_dir).user)
    L = count[count >= min_interactions]
    return int(np.clip(np.floor(0.8 * L), 1, L - 1).max())


@pytest.mark.parametrize("min_interactions", [5, 20])
def test_all_resolves_to_the_longest_history_and_config_json_keeps_the_number(data_dir, min_interactions):
    cfg = tiny_config(data_dir, max_len="all", min_interactions=min_interactions).validate()
    assert cfg.max_len == _longest_history_by_hand(data_dir, min_interactions)
    assert json.loads(cfg.to_json())["max_len"] == cfg.max_len
    assert TrainConfig.from_json(cfg.to_json()).validate() == cfg


def test_a_run_with_max_len_all_sees_every_history_item(data_dir, tmp_path):
    path = train(tiny_config(data_dir, max_len="all", epochs=1), out=tmp_path / "run", progress=False)
    saved = json.loads((path / "config.json").read_text(encoding="utf-8"))
    assert saved["max_len"] == _longest_history_by_hand(data_dir, 5)


@pytest.mark.parametrize("bad", [0, -3, "ALL", "50", 2.5, True])
def test_bad_max_len_names_the_flag(bad):
    with pytest.raises(TinyBTError, match=r"^--max-len: expected an integer >= 1 or all, got "):
        TrainConfig(max_len=bad).validate()


@pytest.mark.parametrize("bad, says", [("x", "expected an integer or all, got 'x'"),
                                       ("0", "expected an integer >= 1 or all, got 0")])
def test_the_cli_refuses_a_bad_max_len_in_one_line(bad, says, data_dir, tmp_path, monkeypatch, capsys):
    code, out, err = run_cli(["train", "--dataset", "ml-1m", "--data-dir", data_dir, "--max-len", bad,
                              "--out", tmp_path / "run"], monkeypatch, capsys)
    assert code != 0 and err.count("\n") == 1 and err.startswith("error: ") and "--max-len" in err and says in err
    assert not (tmp_path / "run").exists()
