"""The examples/ scripts run and do what they say."""

import runpy
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_barlow_step_by_step_loss_falls(capsys):
    main = runpy.run_path(str(EXAMPLES / "barlow_step_by_step.py"))["main"]
    main(steps=30)
    losses = [float(line.split()[3]) for line in capsys.readouterr().out.splitlines()
              if line.startswith("step")]
    assert len(losses) == 4 and losses[-1] < 0.75 * losses[0]
