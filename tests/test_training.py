from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from run_checks import check_resume_after_kill_9
from vivid.cli.main import main
from vivid.errors import VividError
from vivid.nets.srresnet import Generator, GeneratorConfig
from vivid.nets.weights_file import load_generator, load_model
from vivid.training.checkpoints import list_checkpoints
from vivid.training.config import load_config
from vivid.training.config_checks import STAGES
from vivid.training.data import PairedCrops
from vivid.training.loop import STAGE_FUNCTIONS, run_training
from vivid.training.losses import content_loss

REPO = Path(__file__).resolve().parents[1]
SMOKE = REPO / "configs" / "smoke.toml"


def _images(folder: Path, count: int = 6, size: int = 48) -> Path:
    """Smooth random images (low-frequency noise), so SR is learnable in a few steps."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for index in range(count):
        small = rng.integers(0, 256, (size // 8, size // 8, 3), dtype=np.uint8)
        Image.fromarray(small).resize((size, size), Image.BICUBIC).save(folder / f"{index}.png")
    return folder


def test_every_stage_has_a_step_and_a_validation() -> None:
    assert sorted(STAGE_FUNCTIONS) == sorted(STAGES)
    assert all(callable(step) and callable(score) for step, score in STAGE_FUNCTIONS.values())


def _fixed_batch_loss(generator: torch.nn.Module, pairs: PairedCrops) -> float:
    lr_batch, hr_batch = pairs.batch(seed=123, iteration=0, batch_size=8)
    with torch.no_grad():
        return torch.nn.functional.mse_loss(generator.eval()(lr_batch), hr_batch).item()


def test_srresnet_stage_lowers_the_loss(tmp_path: Path) -> None:
    data = _images(tmp_path / "hr")
    config = load_config(SMOKE, [f'data.train=["{data}"]', "run.precision='fp32'"])
    pairs = PairedCrops.from_folders([data], 4, 32)
    torch.manual_seed(config.run.seed)
    from vivid.training.steps import build_generator

    before = _fixed_batch_loss(build_generator(config), pairs)
    run_training(config, tmp_path / "run", progress=False)
    generator, metadata = load_model(tmp_path / "run" / "generator.safetensors")
    assert _fixed_batch_loss(generator, pairs) < 0.5 * before
    assert metadata["stage"] == "srresnet" and metadata["iterations"] == 50


def test_smoke_config_trains_both_stages_on_shared_data(data_dir: Path, tmp_path: Path) -> None:
    train = [f'data.train=["{data_dir / "T91"}"]']
    stage1 = load_config(SMOKE, train)
    run_training(stage1, tmp_path / "s1", progress=False)
    vgg = data_dir / "VGG19" / "vgg19_conv1_1-conv3_4_keras_imagenet_rgb.pth"
    stage2 = load_config(SMOKE, [*train, "run.stage='srgan'", "optim.learning_rate=1e-4",
                                 f"run.init='{tmp_path / 's1' / 'generator.safetensors'}'",
                                 f"loss.vgg_weights='{vgg}'", "loss.content_layer='relu3_3'"])
    from vivid.training.steps import build_nets

    nets = build_nets(stage2)
    pairs = PairedCrops.from_folders([data_dir / "T91"], 4, 32)
    lr_batch, hr_batch = pairs.batch(seed=7, iteration=0, batch_size=8)

    def content(generator: torch.nn.Module) -> float:
        with torch.no_grad():
            return content_loss(nets.vgg, generator.eval()(lr_batch), hr_batch, 1 / 12.75).item()

    before = content(nets.generator)
    last = run_training(stage2, tmp_path / "s2", progress=False).numbers
    after = content(load_generator(tmp_path / "s2" / "generator.safetensors"))
    assert after < before
    assert {"loss_d", "d_real", "d_fake", "loss_adversarial"} <= set(last)
    _, metadata = load_model(tmp_path / "s2" / "generator.safetensors")
    assert metadata["stage"] == "srgan" and metadata["content_layer"] == "relu3_3"


def _train_command(data: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "vivid", "train", str(SMOKE), "--out", str(out),
            "--quiet", "--set", f'data.train=["{data}"]', "--set", "optim.iterations=12",
            "--set", "run.checkpoint_every=1", "--set", "run.log_every=1",
            "--set", "run.deterministic=true", "--set", "run.precision='fp32'",
            "--set", "optim.ema=0.9", "--set", "optim.schedule='cosine'", *extra]


def test_resume_after_kill_9_continues_exactly(tmp_path: Path) -> None:
    data = _images(tmp_path / "hr")
    check_resume_after_kill_9(lambda out: _train_command(data, out), tmp_path, 12)


def test_sigterm_checkpoints_and_stops(tmp_path: Path) -> None:
    data = _images(tmp_path / "hr")
    command = _train_command(data, tmp_path / "run", "--set", "optim.iterations=100000",
                             "--set", "run.checkpoint_every=1000")
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (tmp_path / "run" / "log.jsonl").exists() and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=120)
    assert process.returncode == 0 and "stopped (resume with --resume)" in out
    assert len(list_checkpoints(tmp_path / "run" / "checkpoints")) == 1


def test_config_rejects_unknown_keys(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[optim]\nlearning_rat = 1e-4\n")
    with pytest.raises(VividError, match=r"bad.toml: unknown key 'optim.learning_rat'"):
        load_config(path)
    with pytest.raises(VividError, match=r"'optim.iterations': expected int"):
        load_config(None, ["optim.iterations='many'"])


DDP_SCRIPT = """
import sys, torch
from pathlib import Path
from vivid.training.config import load_config
from vivid.training.distributed import unwrap
from vivid.training.config_checks import STAGES
from vivid.training.loop import STAGE_FUNCTIONS, run_training
out = Path(sys.argv[2])
result = run_training(load_config(sys.argv[1], sys.argv[3:]), out, progress=False, device="cpu")
rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else int(
    __import__("os").environ["RANK"])
torch.save(dict(unwrap(result.nets.generator).named_parameters()), out / f"rank{rank}.pt")
"""


def test_two_rank_gloo_run_ends_with_identical_weights(tmp_path: Path) -> None:
    data = _images(tmp_path / "hr")
    script = tmp_path / "ddp.py"
    script.write_text(DDP_SCRIPT)
    out = tmp_path / "run"
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
               "--standalone", str(script), str(SMOKE), str(out),
               f'data.train=["{data}"]', "optim.iterations=6", "run.precision='fp32'"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(command, check=True, env=env, timeout=300)
    rank0 = torch.load(out / "rank0.pt", weights_only=True)  # parameters (BN running stats
    # are per rank between DDP's broadcasts; rank 0's are the ones checkpointed)
    rank1 = torch.load(out / "rank1.pt", weights_only=True)
    assert rank0.keys() == rank1.keys()
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
    assert len(list_checkpoints(out / "checkpoints")) == 1  # rank 0 alone writes
    torch.manual_seed(0)  # the smoke config's seed: the initial weights of both ranks
    initial = dict(Generator(GeneratorConfig(4, 2, 16)).named_parameters())
    assert initial.keys() == rank0.keys()
    assert not torch.equal(initial["head.weight"], rank0["head.weight"])  # it did train


def test_export_writes_the_ema_weights_with_metadata(tmp_path: Path) -> None:
    data = _images(tmp_path / "hr")
    config = load_config(SMOKE, [f'data.train=["{data}"]', "optim.iterations=4",
                                 "optim.ema=0.5", f'data.validation="{data}"',
                                 "run.validate_every=2", "run.checkpoint_every=2"])
    result = run_training(config, tmp_path / "run", progress=False)
    assert main(["export", str(tmp_path / "run"), "-o", str(tmp_path / "g.safetensors")]) == 0
    generator, metadata = load_model(tmp_path / "g.safetensors")
    ema = result.nets.ema.state_dict()
    assert all(torch.equal(v, ema[k]) for k, v in generator.state_dict().items()
               if v.is_floating_point())
    assert metadata["iterations"] == 4 and metadata["ema"] is True
    assert set(metadata["metrics"]) == {"val_psnr", "val_ssim"}
    assert list((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))
    checkpoint = list_checkpoints(tmp_path / "run" / "checkpoints")[-1]
    assert torch.equal(load_generator(checkpoint).state_dict()["head.weight"],
                       ema["head.weight"])  # a checkpoint loads directly (params_ema)


def test_non_finite_loss_stops_with_a_clear_error_and_keeps_the_last_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import vivid.training.steps

    data = _images(tmp_path / "hr")
    calls = {"n": 0}
    real = vivid.training.steps.pixel_loss

    def exploding(sr_image: torch.Tensor, hr_image: torch.Tensor, kind: str) -> torch.Tensor:
        calls["n"] += 1
        loss = real(sr_image, hr_image, kind)
        return loss * float("nan") if calls["n"] == 3 else loss

    monkeypatch.setattr(vivid.training.steps, "pixel_loss", exploding)
    config = load_config(SMOKE, [f'data.train=["{data}"]', "optim.iterations=10",
                                 "run.checkpoint_every=2"])
    with pytest.raises(VividError, match="non-finite loss at iteration 3"):
        run_training(config, tmp_path / "run", progress=False)
    assert [p.name for p in list_checkpoints(tmp_path / "run" / "checkpoints")] == [
        "iter-00000002.pt"]


def test_every_bundled_config_loads() -> None:
    names = sorted(p.stem for p in (REPO / "configs").glob("*.toml"))
    assert {"smoke", "paper-srresnet", "paper-srgan-vgg54", "paper-srgan-vgg22",
            "vivid-srgan-vgg33"} <= set(names)
    for name in names:
        assert load_config(REPO / "configs" / f"{name}.toml").model.scale == 4


def test_ema_ramps_up_and_averages_batchnorm_statistics() -> None:
    from vivid.training.steps import update_ema

    generator = Generator(GeneratorConfig(blocks=1, channels=4))
    ema = Generator(GeneratorConfig(blocks=1, channels=4))
    before = {k: v.clone() for k, v in ema.state_dict().items()}
    generator.body[0].bn1.running_mean.fill_(1.0)
    generator.body[0].bn1.num_batches_tracked.fill_(7)
    update_ema(ema, generator, decay=0.999, iteration=0)  # effective decay 1/10 at the start
    after = {k: v.clone() for k, v in ema.state_dict().items()}
    live = generator.state_dict()
    for key in ("head.weight", "body.0.bn1.running_mean"):
        assert torch.allclose(after[key], 0.1 * before[key] + 0.9 * live[key], atol=1e-6)
    assert int(after["body.0.bn1.num_batches_tracked"]) == 7
    update_ema(ema, generator, decay=0.999, iteration=10**6)  # later: the configured decay
    head = ema.state_dict()["head.weight"]
    assert torch.allclose(head, after["head.weight"].lerp(live["head.weight"], 0.001),
                          atol=1e-7)


def test_resuming_a_finished_run_with_validation_just_reports_it(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from vivid.cli.main import main

    data = _images(tmp_path / "hr")
    args = ["train", str(SMOKE), "--out", str(tmp_path / "run"), "--quiet",
            "--set", f'data.train=["{data}"]', "--set", f'data.validation="{data}"',
            "--set", 'data.validation_images=["0.png"]', "--set", "optim.iterations=4",
            "--set", "run.checkpoint_every=2", "--set", "run.precision='fp32'"]
    assert main(args) == 0
    assert main([*args, "--resume"]) == 0  # a chained script may run a finished stage again
    assert capsys.readouterr().out.count("training finished at iteration 4") == 2
    assert (tmp_path / "run" / "generator.safetensors").is_file()
    log = (tmp_path / "run" / "log.jsonl").read_text().splitlines()
    assert sum('"val_psnr"' in line and '"iteration": 4,' in line for line in log) == 1
