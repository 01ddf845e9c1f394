"""The one device/precision policy (vivid.device) and the --device option every command shares."""

from __future__ import annotations

import pytest
import torch

from vivid.cli.main import main
from vivid.device import parse_device, resolve_device, resolve_precision
from vivid.errors import VividError


def test_auto_is_the_cpu_without_a_gpu_and_names_are_checked() -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    assert parse_device("cuda:1") == torch.device("cuda", 1)
    for bad in ("gpu", "cuda:x", "cpu:3", ""):
        with pytest.raises(VividError, match="not a device"):
            parse_device(bad)
    with pytest.raises(VividError, match="CUDA is not available"):
        resolve_device("cuda:1")


def test_precision_policy_is_shared_by_inference_and_training() -> None:
    cpu, cuda, mps = torch.device("cpu"), torch.device("cuda"), torch.device("mps")
    assert resolve_precision("auto", cuda) == torch.float16
    assert resolve_precision("auto", mps) == torch.float16
    assert resolve_precision("auto", mps, training=True) == torch.float32
    assert resolve_precision(torch.bfloat16, cpu) == torch.bfloat16
    assert resolve_precision("fp32", cuda, training=True) == torch.float32
    with pytest.raises(VividError, match="needs a GPU"):
        resolve_precision("fp16", cpu)
    with pytest.raises(VividError, match="choose one of"):
        resolve_precision("int8", cpu)


@pytest.mark.parametrize("command", [["upscale", "x.png"], ["eval", "--model", "bicubic",
                                     "--dataset", "."], ["train", "x.toml"],
                                     ["eval-video", "--dataset", "."]])
def test_every_command_rejects_a_bad_device_the_same_way(
        command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main([*command, "--device", "gpu0"])
    assert stop.value.code == 2
    assert "--device gpu0: not a device" in capsys.readouterr().err
