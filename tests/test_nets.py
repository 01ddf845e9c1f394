from __future__ import annotations

import pytest
import torch

from vivid.nets.discriminator import Discriminator, SpatioTemporalDiscriminator
from vivid.nets.inference_form import fold_batchnorm
from vivid.nets.srresnet import Generator, GeneratorConfig, receptive_radius


def _randomise_batchnorm(net: torch.nn.Module) -> None:
    """Give every BN layer non-trivial statistics and affine parameters, as after training."""
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            with torch.no_grad():
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)


def test_paper_generator_has_1550659_parameters() -> None:
    generator = Generator()
    assert sum(p.numel() for p in generator.parameters()) == 1_550_659


@pytest.mark.parametrize("scale", [2, 3, 4, 8])
def test_generator_output_shape(scale: int) -> None:
    generator = Generator(GeneratorConfig(scale=scale, blocks=2, channels=16))
    sr_image = generator(torch.rand(2, 3, 11, 7))
    assert sr_image.shape == (2, 3, 11 * scale, 7 * scale)


def test_residual_skip_is_a_sum() -> None:
    generator = Generator(GeneratorConfig(blocks=1, channels=8)).eval()
    block = generator.body[0]
    with torch.no_grad():
        block.bn2.weight.zero_()
        block.bn2.bias.zero_()
    features = torch.rand(1, 8, 5, 5)
    assert torch.equal(block(features), features)  # zero branch: sum keeps x, a product would not


def test_backward_reaches_every_parameter() -> None:
    generator = Generator(GeneratorConfig(blocks=2, channels=16))
    discriminator = Discriminator(channels=8)
    loss = discriminator(generator(torch.rand(2, 3, 24, 24))).sum()
    loss.backward()
    for net in (generator, discriminator):
        for name, parameter in net.named_parameters():
            assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


@pytest.mark.parametrize("size", [96, 128, 48, 17])
def test_discriminator_gives_one_logit_per_image(size: int) -> None:
    logits = Discriminator()(torch.rand(3, 3, size, size))
    assert logits.shape == (3,)


def test_discriminator_at_96_uses_the_paper_6x6_features() -> None:
    discriminator = Discriminator()
    assert discriminator.features(torch.rand(1, 3, 96, 96)).shape == (1, 512, 6, 6)
    assert discriminator.classifier[1].in_features == 512 * 6 * 6


@pytest.mark.parametrize("size", [128, 96, 48, 16])
def test_spatio_temporal_discriminator_gives_one_logit_per_sample(size: int) -> None:
    logits = SpatioTemporalDiscriminator(channels=8)(torch.rand(2, 27, size, size))
    assert logits.shape == (2,)


def test_spatio_temporal_discriminator_is_tecogans_size() -> None:
    discriminator = SpatioTemporalDiscriminator()
    assert discriminator.features(torch.rand(1, 27, 128, 128)).shape == (1, 256, 8, 8)
    weights = sum(p.numel() for p in discriminator.parameters())
    assert 0.7e6 < weights < 0.9e6, weights  # SRGAN's D with 27 inputs: 33.6M at 128x128


def test_spatio_temporal_discriminator_scores_each_batch_on_its_own() -> None:
    torch.manual_seed(0)
    discriminator = SpatioTemporalDiscriminator(channels=8)
    real, fake = torch.rand(2, 27, 32, 32), torch.rand(3, 27, 32, 32) * 0.5
    together = discriminator(real, fake)
    apart = torch.cat((discriminator(real), discriminator(fake)))
    assert together.shape == (5,) and torch.allclose(together, apart, atol=1e-6)


def test_batchnorm_folding_matches_eval_mode() -> None:
    generator = Generator()
    _randomise_batchnorm(generator)
    generator.eval()
    folded = fold_batchnorm(generator)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    lr_image = torch.rand(2, 3, 20, 20)
    with torch.no_grad():
        assert torch.allclose(folded(lr_image), generator(lr_image), atol=1e-5, rtol=0)


def test_receptive_radius_bounds_the_influence_of_far_pixels() -> None:
    config = GeneratorConfig(blocks=3, channels=8)
    radius = receptive_radius(config)
    generator = Generator(config).eval()
    lr_image = torch.rand(1, 3, 40, 40)
    changed = lr_image.clone()
    changed[:, :, :, 20 + radius + 1 :] = 0  # only pixels farther than radius from column 20
    with torch.no_grad():
        a, b = generator(lr_image), generator(changed)
    column = slice(20 * 4, 21 * 4)
    assert torch.equal(a[..., column], b[..., column])
    changed_near = lr_image.clone()
    changed_near[:, :, :, 20 + radius] = 0
    with torch.no_grad():
        assert not torch.equal(a[..., column], generator(changed_near)[..., column])
