import pytest
import torch

from digit_recognizer.errors import UserError
from digit_recognizer.model.nets import NETS, SeedCNN, build_net, count_parameters
from digit_recognizer.model.probabilities import ProbabilityNet, normalize_images


def test_seed_cnn_has_the_notebooks_parameter_count() -> None:
    assert count_parameters(SeedCNN()) == 93_322


def test_seed_cnn_layer_shapes_match_the_notebook() -> None:
    net = SeedCNN()
    x = torch.zeros(2, 1, 28, 28)
    shapes = []
    for layer in [*net.features, *net.classifier]:
        x = layer(x)
        if not isinstance(layer, torch.nn.ReLU):
            shapes.append(tuple(x.shape[1:]))
    # Keras reports HWC; PyTorch is CHW: 26x26x32, 13x13x32, 11x11x64, 5x5x64, 3x3x64, 576, 64, 10.
    assert shapes == [
        (32, 26, 26),
        (32, 13, 13),
        (64, 11, 11),
        (64, 5, 5),
        (64, 3, 3),
        (576,),
        (64,),
        (10,),
    ]


def keras_order(net: SeedCNN) -> torch.nn.Sequential:
    """The same layers (shared weights) in the notebook's order: each ReLU before its pool."""
    conv1, pool1, relu1, conv2, pool2, relu2, conv3, relu3 = net.features
    return torch.nn.Sequential(
        conv1, relu1, pool1, conv2, relu2, pool2, conv3, relu3, net.classifier
    )


@pytest.mark.parametrize("channels_last", [False, True])
def test_seed_cnn_trains_exactly_as_the_notebooks_layer_order(channels_last: bool) -> None:
    """Pooling before the ReLU is an optimisation, not a change: after training steps on
    random digits, losses and weights are the same, bit for bit, as with the Keras order."""
    torch.manual_seed(0)
    ours, keras = SeedCNN(), SeedCNN()
    keras.load_state_dict(ours.state_dict())
    model = ProbabilityNet(ours, channels_last=channels_last)
    reference = keras_order(keras).to(memory_format=model.memory_format)
    optimizers = [torch.optim.Adam(net.parameters(), lr=1e-2) for net in (model, reference)]
    generator = torch.Generator().manual_seed(1)
    for _ in range(5):
        images = torch.randint(0, 256, (32, 1, 28, 28), dtype=torch.uint8, generator=generator)
        labels = torch.randint(0, 10, (32,), generator=generator)
        inputs = normalize_images(images, model.mean, model.std)
        logits = (
            model.logits(images),  # the path training takes: pixels -> normalise -> net
            reference(inputs.contiguous(memory_format=model.memory_format)),
        )
        losses = [torch.nn.functional.cross_entropy(each, labels) for each in logits]
        assert torch.equal(losses[0], losses[1])
        for loss, optimizer in zip(losses, optimizers, strict=True):
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    for key, value in ours.state_dict().items():
        assert torch.equal(value, keras.state_dict()[key]), key
    # Checkpoints of the Keras order load unchanged: the same keys.
    assert list(ours.state_dict()) == [
        f"{layer}.{kind}"
        for layer in ("features.0", "features.3", "features.6", "classifier.1", "classifier.3")
        for kind in ("weight", "bias")
    ]


@pytest.mark.parametrize("name", sorted(NETS))
def test_every_registered_net_maps_digits_to_ten_logits(name: str) -> None:
    net = build_net(name)
    assert net(torch.zeros(3, 1, 28, 28)).shape == (3, 10)


def test_unknown_net_is_a_user_error() -> None:
    with pytest.raises(UserError, match="Unknown net 'Nope'"):
        build_net("Nope")
