"""The layers: statistics, config checks, the Snakefile and the pipeline's analysis load no torch;
the training layer registers exactly the names the torch-free catalog lists (import-linter
checks the import directions themselves: ``make lint``)."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


def torch_loaded_after(code: str) -> bool:
    script = f"import sys\n{code}\nprint('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1] == "True"


@pytest.mark.parametrize("code", ["import fptopt.stats", "import fptopt.pipeline.stages, fptopt.pipeline.tables",
                                  "import fptopt.pipeline.plots, fptopt.pipeline.paths",
                                  "import fptopt.cli; fptopt.cli.build_parser().parse_args(['analyze', '--help'])",
                                  "import fptopt.cli; assert fptopt.cli.main(['check-config', '--config', "
                                  f"r'{ROOT / 'config.yaml'}']) == 0"])
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


def test_parsing_the_snakefile_and_its_config_leaves_torch_out():
    """``snakemake --list-rules`` reads the Snakefile, every rule file and the config
    (validated and checked by parse_config) in one process: none of it may need torch."""
    code = ("from snakemake.cli import main\n"
            "try:\n"
            f"    main(['--snakefile', r'{ROOT / 'Snakefile'}', '--directory', r'{ROOT}', '--list-rules'])\n"
            "except SystemExit as done:\n"
            "    assert not done.code, done.code")
    assert not torch_loaded_after(code)


def test_importing_the_training_layer_registers_exactly_the_catalog():
    import fptopt.train as train
    from fptopt.catalog import NAMES

    assert set(train.DATASETS) == set(NAMES["dataset"]) >= {"digits", "diabetes", "cifar10", "cifar100"}
    assert set(train.MODELS) == set(NAMES["model"]) >= {"mlp", "fc_regression", "resnet18_cifar"}
    assert set(train.OPTIMIZERS) == set(NAMES["optimizer"]) == {"sgd", "adam"}
    assert set(train.PROTOCOLS) == set(NAMES["protocol"]) == {"shrink_perturb", "partial_reset", "full_reset"}
    with pytest.raises(ValueError, match=r"'vit' is not in fptopt.catalog.NAMES\['model'\]"):
        train.MODELS.register("vit")
    with pytest.raises(ValueError, match=r"model.name: unknown model 'vit'; known: \['fc_regression', 'mlp', "):
        train.MODELS.lookup("vit")
    with pytest.raises(ValueError, match="registered twice"):
        train.MODELS.register("mlp")(object())
