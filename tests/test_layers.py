"""The three layers: statistics and pipeline load no torch; the training layer registers everything."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest


def torch_loaded_after(code: str) -> bool:
    script = f"import sys\n{code}\nprint('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1] == "True"


@pytest.mark.parametrize("code", ["import fptopt.stats", "import fptopt.pipeline.stages, fptopt.pipeline.tables",
                                  "import fptopt.pipeline.plots, fptopt.pipeline.paths",
                                  "import fptopt.cli; fptopt.cli.build_parser().parse_args(['analyze', '--help'])"])
def test_statistics_and_pipeline_leave_torch_out(code):
    if "--help" in code:
        code = f"try:\n    {code}\nexcept SystemExit:\n    pass"
    assert not torch_loaded_after(code)


def test_a_whole_fptopt_analyze_run_leaves_torch_out(tmp_path):
    rng = np.random.default_rng(0)
    for name, period in (("baseline", None), ("perturbed", 10)):
        age = (np.arange(40) % period + 1) if period else np.arange(1, 41)
        values = 70 - 40 * np.exp(-age / 2) + rng.normal(0, 1, (60, 40))
        replicas, epochs = np.indices(values.shape)
        pd.DataFrame({"replica": replicas.ravel(), "epoch": epochs.ravel() + 1,
                      "test_acc": values.ravel()}).to_parquet(tmp_path / f"{name}.parquet")
    code = (f"from fptopt.cli import main\n"
            f"assert main(['analyze', '--baseline', r'{tmp_path / 'baseline.parquet'}', '--perturbed', "
            f"r'10={tmp_path / 'perturbed.parquet'}', '--target', '71.5', '--out', r'{tmp_path / 'out'}']) == 0")
    assert not torch_loaded_after(code)
    assert (tmp_path / "out" / "mfpt_vs_tau.png").exists()


def test_importing_the_training_layer_registers_every_entry():
    import fptopt.train as train

    assert {"digits", "diabetes", "cifar10", "cifar100"} <= set(train.DATASETS)
    assert {"mlp", "fc_regression", "resnet18_cifar"} <= set(train.MODELS)
    assert set(train.OPTIMIZERS) == {"sgd", "adam"}
    assert set(train.PROTOCOLS) == {"shrink_perturb", "partial_reset", "full_reset"}
    with pytest.raises(ValueError, match=r"model.name: unknown model 'vit'; known: \['fc_regression', 'mlp', "):
        train.MODELS.lookup("vit")
    with pytest.raises(ValueError, match="registered twice"):
        train.MODELS.register("mlp")(object())
