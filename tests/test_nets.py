import pytest
import torch

from digit_recognizer.errors import UserError
from digit_recognizer.nets import NETS, SeedCNN, build_net, count_parameters


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


@pytest.mark.parametrize("name", sorted(NETS))
def test_every_registered_net_maps_digits_to_ten_logits(name: str) -> None:
    net = build_net(name)
    assert net(torch.zeros(3, 1, 28, 28)).shape == (3, 10)


def test_unknown_net_is_a_user_error() -> None:
    with pytest.raises(UserError, match="Unknown net 'Nope'"):
        build_net("Nope")
