"""The faster formulations used by training and inference compute the paper's functions."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from vivid.nets.discriminator import Discriminator
from vivid.nets.srresnet import Generator, GeneratorConfig
from vivid.nets.subpixel import prelu, subpixel_tail_weight


@settings(max_examples=25, deadline=None)
@given(factor=st.sampled_from([2, 3, 4]), kernel=st.sampled_from([1, 3, 5, 9]),
       height=st.integers(1, 9), width=st.integers(1, 9), out_channels=st.integers(1, 3))
def test_subpixel_tail_weight_equals_conv_after_shuffle(
    factor: int, kernel: int, height: int, width: int, out_channels: int
) -> None:
    generator = torch.Generator().manual_seed(factor * 100 + kernel)
    coarse = torch.randn(2, 2 * factor * factor, height, width, generator=generator,
                         dtype=torch.float64)
    weight = torch.randn(out_channels, 2, kernel, kernel, generator=generator,
                         dtype=torch.float64)
    expected = F.conv2d(F.pixel_shuffle(coarse, factor), weight, padding=kernel // 2)
    big, padding = subpixel_tail_weight(weight, factor)
    actual = F.pixel_shuffle(F.conv2d(coarse, big, padding=padding), factor)
    torch.testing.assert_close(actual, expected, rtol=0, atol=1e-12)


def _with_random_prelu(generator: Generator) -> Generator:
    for name, parameter in generator.named_parameters():
        if name.endswith("act.weight"):
            parameter.data.uniform_(-0.5, 0.5)
    return generator


def test_subpixel_tail_generator_matches_plain_forward_and_gradients() -> None:
    torch.manual_seed(0)
    for scale in (2, 3, 4):
        config = GeneratorConfig(scale=scale, blocks=1, channels=8)
        plain = _with_random_prelu(Generator(config)).double()
        fast = Generator(config, subpixel_tail=True).double()
        fast.load_state_dict(plain.state_dict())
        lr_image = torch.rand(2, 3, 7, 10, dtype=torch.float64)
        plain(lr_image).square().sum().backward()
        fast(lr_image).square().sum().backward()
        torch.testing.assert_close(fast(lr_image), plain(lr_image), rtol=0, atol=1e-12)
        for a, b in zip(plain.parameters(), fast.parameters(), strict=True):
            torch.testing.assert_close(b.grad, a.grad, rtol=1e-12, atol=1e-12)


def test_prelu_matches_torch_values_and_gradients() -> None:
    torch.manual_seed(0)
    x = torch.randn(3, 5, 4, 4, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(5, dtype=torch.float64, requires_grad=True)
    ours = prelu(x, weight)
    theirs = F.prelu(x, weight)
    torch.testing.assert_close(ours, theirs)
    grads_ours = torch.autograd.grad(ours.sin().sum(), (x, weight))
    grads_theirs = torch.autograd.grad(theirs.sin().sum(), (x, weight))
    for a, b in zip(grads_ours, grads_theirs, strict=True):
        torch.testing.assert_close(a, b)


def test_discriminator_on_several_batches_equals_separate_calls() -> None:
    torch.manual_seed(0)
    discriminator = Discriminator(channels=8).train()
    real, fake = torch.rand(3, 3, 32, 32), torch.rand(3, 3, 32, 32)
    together = discriminator(real, fake)
    separate = torch.cat([discriminator(real), discriminator(fake)])  # BN stats per batch
    torch.testing.assert_close(together, separate)
    grads = []
    for logits in (together, separate):
        discriminator.zero_grad()
        logits.square().sum().backward(retain_graph=True)
        grads.append([p.grad.clone() for p in discriminator.parameters()])
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
