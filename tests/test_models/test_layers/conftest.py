import pytest

from mmhrformer.models.layers import (channel_grouped_hidden, depthwise_conv_ffn,
                                      window_attention_function)


@pytest.fixture(params=[False, True], ids=['whole', 'split'])
def split(request, monkeypatch):
    """Runs a test twice: with the wide tensors of the chain ends and of the FFN's inference made
    whole (the small inputs of tests are below ``SPLIT_BYTES``), and cut into parts however small
    they are."""
    if request.param:
        monkeypatch.setattr(channel_grouped_hidden, 'SPLIT_BYTES', 0)
        monkeypatch.setattr(channel_grouped_hidden, 'BACKWARD_GROUP_BYTES', 0)
        monkeypatch.setattr(depthwise_conv_ffn, 'SPLIT_BYTES', 0)
        monkeypatch.setattr(window_attention_function, 'SPLIT_BYTES', 0)
    return request.param
