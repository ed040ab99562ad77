"""The perturbation callbacks with the real libraries: a tiny run at τ = 5 perturbs exactly
after epochs 5 and 10, after that epoch's evaluation, and the logs the library wrote are read
back by the reader of ``fptopt analyze`` with no conversion, equal to what the trainer measured
(so their first passages, and every number analyze derives from them, are the trainer's)."""

import numpy as np
import pytest
import torch
from torch import nn

from fptopt.stats.logs import read_trajectories

EPOCHS, TAU, SEEDS = 12, 5, (0, 1, 2)


def blobs(seed, n=96):
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 3
    x = torch.randn(n, 4, generator=generator) + 2.0 * nn.functional.one_hot(labels, 4)[:, :4].float()
    return x, labels


def weight_sum(module) -> float:
    return float(sum(p.detach().double().sum() for p in module.parameters()))


# ---------------------------------------------------------------- PyTorch Lightning

def test_lightning_callback_perturbs_after_the_logged_validation(tmp_path):
    pl = pytest.importorskip("pytorch_lightning")
    from fptopt.callbacks.lightning import PerturbationCallback

    class Blobs(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
            self.validated, self.accuracies = {}, []

        def training_step(self, batch, _):
            x, y = batch
            return nn.functional.cross_entropy(self.net(x), y)

        def validation_step(self, batch, _):
            x, y = batch
            self.log("val_acc", (self.net(x).argmax(1) == y).float().mean(), on_epoch=True)

        def on_validation_epoch_end(self):
            self.validated[self.current_epoch + 1] = weight_sum(self)
            self.accuracies.append(float(self.trainer.callback_metrics["val_acc"]))

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1, momentum=0.9)

    class AfterEpoch(pl.Callback):  # runs after PerturbationCallback: the weights the next epoch starts from
        def __init__(self):
            self.after = {}

        def on_train_epoch_end(self, trainer, module):
            self.after[trainer.current_epoch + 1] = weight_sum(module)

    logged = []
    for seed in SEEDS:
        pl.seed_everything(seed, verbose=False)
        data = torch.utils.data.TensorDataset(*blobs(seed))
        loader = torch.utils.data.DataLoader(data, batch_size=32)
        module, perturbation, after = Blobs(), PerturbationCallback("shrink_perturb", TAU, seed=seed), AfterEpoch()
        trainer = pl.Trainer(max_epochs=EPOCHS, callbacks=[perturbation, after], logger=pl.loggers.CSVLogger(
            tmp_path / "sp5"), enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False,
            accelerator="cpu", log_every_n_steps=1)
        trainer.fit(module, loader, loader)
        assert perturbation.perturbed_after == [5, 10]
        changed = [e for e in range(1, EPOCHS + 1) if not np.isclose(module.validated[e], after.after[e])]
        assert changed == [5, 10]  # validation saw the unperturbed weights; the perturbation came after it
        logged.append(module.accuracies[-EPOCHS:])  # without the sanity check's validation
    ids, values = read_trajectories(tmp_path / "sp5" / "lightning_logs", "val_acc")
    assert len(ids) == len(SEEDS)
    np.testing.assert_allclose(values, logged, rtol=1e-6)  # what the trainer measured, epoch by epoch


# ---------------------------------------------------------------- Hugging Face Trainer

def test_huggingface_callback_perturbs_after_the_epochs_evaluation(tmp_path):
    transformers = pytest.importorskip("transformers")
    from fptopt.callbacks.huggingface import PerturbationCallback

    class Blobs(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))

        def forward(self, x, labels=None):
            logits = self.net(x)
            return {"loss": nn.functional.cross_entropy(logits, labels), "logits": logits}

    class Rows(torch.utils.data.Dataset):
        def __init__(self, seed):
            self.x, self.y = blobs(seed)

        def __len__(self):
            return len(self.y)

        def __getitem__(self, i):
            return {"x": self.x[i], "labels": self.y[i]}

    class Recorder(transformers.TrainerCallback):
        def __init__(self):
            self.evaluated, self.started = {}, {}

        def on_evaluate(self, args, state, control, model=None, **kwargs):
            self.evaluated[round(state.epoch)] = weight_sum(model)

        def on_epoch_begin(self, args, state, control, model=None, **kwargs):  # after the perturbation's
            self.started[round(state.epoch or 0)] = weight_sum(model)

    def accuracy(prediction):
        return {"accuracy": float((prediction.predictions.argmax(-1) == prediction.label_ids).mean())}

    logged = []
    for seed in SEEDS:
        perturbation, recorder = PerturbationCallback("full_reset", TAU, seed=seed), Recorder()
        args = transformers.TrainingArguments(
            output_dir=str(tmp_path / "fr5" / f"run_{seed}"), num_train_epochs=EPOCHS, per_device_train_batch_size=32,
            eval_strategy="epoch", save_strategy="epoch", save_total_limit=1, logging_strategy="epoch",
            learning_rate=0.05, seed=seed, report_to=[], use_cpu=True, disable_tqdm=True)
        trainer = transformers.Trainer(model=Blobs(), args=args, train_dataset=Rows(seed), eval_dataset=Rows(seed + 10),
                                       compute_metrics=accuracy, callbacks=[perturbation, recorder])
        trainer.train()
        assert perturbation.perturbed_after == [5, 10]
        changed = [e for e in range(1, EPOCHS) if not np.isclose(recorder.evaluated[e], recorder.started[e])]
        assert changed == [5, 10]
        logged.append([entry["eval_accuracy"] for entry in trainer.state.log_history if "eval_accuracy" in entry])
    ids, values = read_trajectories(tmp_path / "fr5", "eval_accuracy")
    assert len(ids) == len(SEEDS)
    np.testing.assert_allclose(values, logged, rtol=1e-6)


# ---------------------------------------------------------------- Keras 3, torch backend

def test_keras_callback_perturbs_after_the_epochs_metrics(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip(f"keras was imported with the {keras.backend.backend()} backend")
    from fptopt.callbacks.keras import PerturbationCallback

    class Recorder(keras.callbacks.Callback):  # placed before PerturbationCallback: sees the epoch's own weights
        def __init__(self):
            super().__init__()
            self.begun, self.ended = {}, {}

        def on_epoch_begin(self, epoch, logs=None):
            self.begun[epoch + 1] = float(sum(np.sum(w) for w in self.model.get_weights()))

        def on_epoch_end(self, epoch, logs=None):
            self.ended[epoch + 1] = float(sum(np.sum(w) for w in self.model.get_weights()))

    folder = tmp_path / "sp5_keras"
    folder.mkdir()
    logged = []
    for seed in SEEDS:
        keras.utils.set_random_seed(seed)
        x, y = (t.numpy() for t in blobs(seed))
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3)])
        model.compile(optimizer=keras.optimizers.Adam(0.01), metrics=["accuracy"],
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        perturbation, recorder = PerturbationCallback("shrink_perturb", TAU, seed=seed), Recorder()
        history = model.fit(x, y, validation_data=(x, y), epochs=EPOCHS, batch_size=32, verbose=0,
                  callbacks=[keras.callbacks.CSVLogger(str(folder / f"seed{seed}.log")), recorder, perturbation])
        assert perturbation.perturbed_after == [5, 10]
        changed = [e for e in range(1, EPOCHS) if not np.isclose(recorder.ended[e], recorder.begun[e + 1])]
        assert changed == [5, 10]
        assert int(model.optimizer.iterations.numpy()) == (EPOCHS - 10) * 3  # reset after epoch 10 (3 steps/epoch)
        assert np.isclose(float(model.optimizer.learning_rate.numpy()), 0.01)  # kept
        logged.append(history.history["val_accuracy"])
    ids, values = read_trajectories(folder, "val_accuracy")
    assert len(ids) == len(SEEDS)
    np.testing.assert_allclose(values, logged, rtol=1e-6)


def test_keras_fresh_draw_is_the_pipelines_default_init(monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    from fptopt.callbacks.keras import perturb_keras

    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(5), keras.layers.BatchNormalization()])
    perturb_keras(model, "full_reset", generator=torch.Generator().manual_seed(4))
    kernel, bias, gamma, beta, mean, variance = model.get_weights()
    generator = torch.Generator().manual_seed(4)
    bound = 1 / np.sqrt(6)
    np.testing.assert_allclose(kernel, ((2 * torch.rand((6, 5), generator=generator) - 1) * bound).numpy(), rtol=1e-6)
    np.testing.assert_allclose(bias, ((2 * torch.rand((5,), generator=generator) - 1) * bound).numpy(), rtol=1e-6)
    assert np.all(gamma == 1) and np.all(beta == 0) and np.all(mean == 0) and np.all(variance == 1)


def test_a_period_below_one_epoch_is_refused():
    from fptopt.callbacks import PerturbationSchedule

    with pytest.raises(ValueError, match="tau: expected a period of at least 1 epoch, got 0"):
        PerturbationSchedule("shrink_perturb", 0)
    with pytest.raises(ValueError, match="give a period tau or a list of epochs, not both"):
        PerturbationSchedule("shrink_perturb", 5, epochs=[3])


def test_a_schedule_of_epochs_is_due_after_each_listed_epoch_once():
    from fptopt.callbacks import PerturbationSchedule

    schedule = PerturbationSchedule("shrink_perturb", epochs=[10, 16, 22])
    due = []
    for epoch in range(1, 30):
        if schedule.due(epoch):
            due.append(epoch)
            schedule.perturbed_after.append(epoch)
    assert due == [10, 16, 22] and not schedule.due(16)

