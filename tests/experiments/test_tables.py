"""The experiments' results tables and option parsing (no training)."""

from __future__ import annotations

import pytest

from jaxaxon.experiments import mixing, pretrain
from jaxaxon.experiments import protocol as rp

ENV = {"device": "cpu", "platform": "cpu", "cpu_count": 2, "jax": "0.10"}


def _run(**extra) -> dict:
    return {"dice": 0.51234, "cldice": None, "best_threshold": 0.3, "bouton_f1": 0.25, "synthetic_val_dice": 0.9,
            "train_seconds": 12.4, **extra}  # fmt: skip


def _tables(text: str) -> list[list[list[str]]]:
    found, current = [], []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            current.append([c.strip() for c in line.strip().strip("|").split("|")])
        elif current:
            found, current = [*found, current], []
    return found


def test_mixing_tables_have_one_row_per_run_share_and_baseline():
    runs = [_run(share=s, seed=seed, real_per_step=round(8 * s), synthetic_per_step=8 - round(8 * s))
            for seed in (0, 1) for s in (1.0, 0.25)]  # fmt: skip
    result = {
        "command": "python scripts/mixing_experiment.py", "environment": ENV, "folds_text": "folds",
        "training": {"preset": "quick", "steps": 10, "batch_size": 8, "crop": 64, "heads": ["axon"]},
        "runs": runs, "means": mixing.means(runs), "baselines": [{"name": "LoG", "bouton_f1": 0.5, "note": "fit"}],
    }  # fmt: skip
    per_run, per_share, baselines = _tables(mixing.markdown(result))
    header, _, *rows = per_run
    assert len(rows) == 4 and all(len(r) == len(header) for r in rows)
    assert header[3:-1] == [label for _, label in rp.COLUMNS]
    assert rows[0][:3] == ["100 %", "8 / 0", "0"] and "0.512" in rows[0] and rows[0][-1] == "12"
    assert [r[0] for r in per_share[2:]] == ["100 %", "25 %"]  # one row per share, means over seeds
    assert len(baselines) == 3 and baselines[2][0] == "LoG" and "0.500" in baselines[2]


def test_pretrain_table_has_one_row_per_run():
    result = {
        "command": "python scripts/pretrain_finetune.py", "environment": ENV, "folds_text": "folds",
        "training": {"ae_preset": "ae-quick", "ae_steps": 5, "ae_final_loss": 0.1, "ae_seconds": 3.0, "preset": "quick",
                     "steps": 5, "batch_size": 8, "real_share": 0.0, "heads": ["axon"]},
        "runs": [_run(init="autoencoder", seed=0), _run(init="random (scratch)", seed=0)],
    }  # fmt: skip
    (table,) = _tables(pretrain.markdown(result))
    assert [r[0] for r in table[2:]] == ["autoencoder", "random (scratch)"]
    assert all("–" in r for r in table[2:])  # a missing metric is marked, not left out


def test_means_over_seeds():
    runs = [_run(share=0.5, seed=0, dice=0.4), _run(share=0.5, seed=1, dice=0.6)]
    (m,) = mixing.means(runs)
    assert m["dice"][0] == pytest.approx(0.5) and m["dice"][1] == pytest.approx(0.1414, abs=1e-4)
    assert m["cldice"] is None


@pytest.mark.parametrize("text", ["1,1.5", "", "a"])
def test_shares_must_be_fractions(text):
    with pytest.raises(rp.ProtocolError, match="--shares"):
        mixing.parse_shares(text)


def test_arm_names():
    assert mixing.arm_name(0.25, 3) == "real025_seed3" and mixing.arm_name(1.0, 0) == "real100_seed0"
