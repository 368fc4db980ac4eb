"""An independent reference of the official HRFormer forward pass, on the official key names.

Written from a reading of the official code (GitHub HRNet/HRFormer, ``cls/models/hrt.py`` and its
modules), not from ours: plain ``torch.nn.functional`` calls on a state dict. Keys are created with
random values the first time the forward pass asks for them, so one pass over an empty dict makes
an official-layout checkpoint, and later passes compute the official model's outputs from it.
"""
import math

import torch
import torch.nn.functional as F


class OfficialReference:
    """``forward(x)`` of an official fork's model.

    ``fork='cls'``: the classifier (nearest upsampling, position bias, HRFormer's head), logits.
    ``fork='pose'``: the pose model (bilinear upsampling, the position bias table built but never
    added, the last module fusing stream 0 only, a 1x1 conv to 17 heatmaps), heatmaps.
    ``fork='seg'``: the segmentation backbone (as cls, no head), the four maps.
    """

    def __init__(self, channels, num_heads, num_modules, fork='cls', window=7, seed=0):
        self.channels, self.num_heads, self.num_modules = channels, num_heads, num_modules
        self.fork, self.window = fork, window
        self.upsample = 'bilinear' if fork == 'pose' else 'nearest'
        self.with_rpe = fork != 'pose'
        self.state = {}
        self.generator = torch.Generator().manual_seed(seed)

    # ---- parameters ----------------------------------------------------------------------
    def param(self, name, *shape, kind='weight'):
        if name not in self.state:
            fan_in = math.prod(shape[1:]) if len(shape) > 1 else 1
            value = torch.randn(*shape, generator=self.generator)
            if kind == 'weight':
                value = value / math.sqrt(fan_in)
            elif kind == 'var':
                value = 0.5 + value.abs()
            elif kind == 'scale':
                value = 1 + 0.1 * value
            else:
                value = 0.1 * value
            self.state[name] = value
        return self.state[name]

    def conv(self, name, x, out, k, stride=1, groups=1, bias=False):
        weight = self.param(f'{name}.weight', out, x.shape[1] // groups, k, k)
        b = self.param(f'{name}.bias', out, kind='bias') if bias else None
        return F.conv2d(x, weight, b, stride, k // 2, 1, groups)

    def bn(self, name, x):
        c = x.shape[1]
        self.state.setdefault(f'{name}.num_batches_tracked', torch.tensor(0))
        return F.batch_norm(x, self.param(f'{name}.running_mean', c, kind='bias'),
                            self.param(f'{name}.running_var', c, kind='var'),
                            self.param(f'{name}.weight', c, kind='scale'),
                            self.param(f'{name}.bias', c, kind='bias'), False, 0., 1e-5)

    def ln(self, name, x):
        c = x.shape[-1]
        return F.layer_norm(x, (c, ), self.param(f'{name}.weight', c, kind='scale'),
                            self.param(f'{name}.bias', c, kind='bias'), 1e-6)

    def linear(self, name, x, out):
        return F.linear(x, self.param(f'{name}.weight', out, x.shape[-1]),
                        self.param(f'{name}.bias', out, kind='bias'))

    # ---- blocks --------------------------------------------------------------------------
    def bottleneck(self, name, x, planes, depthwise=False):
        out = F.relu(self.bn(f'{name}.bn1', self.conv(f'{name}.conv1', x, planes, 1)))
        out = F.relu(self.bn(f'{name}.bn2', self.conv(f'{name}.conv2', out, planes, 3,
                                                      groups=planes if depthwise else 1)))
        out = self.bn(f'{name}.bn3', self.conv(f'{name}.conv3', out, planes * 4, 1))
        if x.shape[1] != planes * 4:
            x = self.bn(f'{name}.downsample.1', self.conv(f'{name}.downsample.0', x, planes * 4, 1))
        return F.relu(out + x)

    def attention(self, name, x, heads):
        """Official window attention on ``B x H x W x C`` (centre padding, no mask)."""
        b, h, w, c = x.shape
        win = self.window
        ph, pw = -h % win, -w % win
        x = F.pad(x, (0, 0, pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))
        hp, wp = h + ph, w + pw
        x = x.view(b, hp // win, win, wp // win, win, c).permute(0, 1, 3, 2, 4, 5)
        x = x.reshape(-1, win * win, c)
        d = c // heads
        q = self.linear(f'{name}.q_proj', x, c) * d**-0.5
        k = self.linear(f'{name}.k_proj', x, c)
        v = self.linear(f'{name}.v_proj', x, c)
        q, k, v = (t.view(t.shape[0], -1, heads, d).transpose(1, 2) for t in (q, k, v))
        logits = q @ k.transpose(-2, -1)
        table = self.param(f'{name}.relative_position_bias_table', (2 * win - 1)**2, heads,
                           kind='bias')
        coords = torch.stack(torch.meshgrid(torch.arange(win), torch.arange(win), indexing='ij'))
        rel = coords.flatten(1)[:, :, None] - coords.flatten(1)[:, None, :] + win - 1
        index = rel[0] * (2 * win - 1) + rel[1]
        self.state.setdefault(f'{name}.relative_position_index', index)
        if self.with_rpe:
            bias = table[index.view(-1)].view(win * win, win * win, heads)
            logits = logits + bias.permute(2, 0, 1)
        out = (logits.softmax(-1) @ v).transpose(1, 2).reshape(-1, win * win, c)
        out = self.linear(f'{name}.out_proj', out, c)
        out = out.view(b, hp // win, wp // win, win, win, c).permute(0, 1, 3, 2, 4, 5)
        out = out.reshape(b, hp, wp, c)
        return out[:, ph // 2:ph // 2 + h, pw // 2:pw // 2 + w]

    def transformer_block(self, name, x, heads):
        tokens = x.permute(0, 2, 3, 1)
        normed = self.ln(f'{name}.norm1', tokens)
        tokens = tokens + self.attention(f'{name}.attn.attn', normed, heads)
        y = self.ln(f'{name}.norm2', tokens).permute(0, 3, 1, 2)
        c = y.shape[1]
        y = self.conv(f'{name}.mlp.fc1', y, 4 * c, 1, bias=True)
        y = F.gelu(self.bn(f'{name}.mlp.norm1', y))
        y = F.gelu(self.bn(f'{name}.mlp.norm2', self.conv(f'{name}.mlp.dw3x3', y, 4 * c, 3,
                                                          groups=4 * c, bias=True)))
        y = F.gelu(self.bn(f'{name}.mlp.norm3', self.conv(f'{name}.mlp.fc2', y, c, 1, bias=True)))
        return (tokens + y.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)

    def fuse(self, name, xs, num_outputs):
        outs = []
        for i in range(num_outputs):
            y = 0
            for j, x in enumerate(xs):
                if j > i:
                    x = self.bn(f'{name}.{i}.{j}.1', self.conv(f'{name}.{i}.{j}.0', x,
                                                               self.channels[i], 1))
                    if self.upsample == 'nearest':
                        x = F.interpolate(x, scale_factor=2**(j - i), mode='nearest')
                    else:
                        x = F.interpolate(x, scale_factor=2**(j - i), mode='bilinear',
                                          align_corners=False)
                elif j < i:
                    for k in range(i - j):
                        out = self.channels[i] if k == i - j - 1 else self.channels[j]
                        x = self.bn(f'{name}.{i}.{j}.{k}.1',
                                    self.conv(f'{name}.{i}.{j}.{k}.0', x, x.shape[1], 3, 2,
                                              groups=x.shape[1]))
                        x = self.conv(f'{name}.{i}.{j}.{k}.2', x, out, 1)
                        x = self.bn(f'{name}.{i}.{j}.{k}.3', x)
                        if k < i - j - 1:
                            x = F.relu(x)
                y = y + x
            outs.append(F.relu(y))
        return outs

    def cls_head(self, xs):
        y = self.bottleneck('incre_modules.0.0', xs[0], 32, depthwise=True)
        for i, planes in enumerate([64, 128, 256]):
            down = self.conv(f'downsamp_modules.{i}.0', y, y.shape[1], 3, 2, groups=y.shape[1],
                             bias=True)
            down = self.bn(f'downsamp_modules.{i}.1', down)
            down = self.conv(f'downsamp_modules.{i}.2', down, planes * 4, 1, bias=True)
            down = F.relu(self.bn(f'downsamp_modules.{i}.3', down))
            y = self.bottleneck(f'incre_modules.{i + 1}.0', xs[i + 1], planes,
                                depthwise=True) + down
        y = F.relu(self.bn('final_layer.1', self.conv('final_layer.0', y, 2048, 1, bias=True)))
        return self.linear('classifier', y.mean(dim=(2, 3)), 1000)

    # ---- the model -----------------------------------------------------------------------
    def forward(self, x):
        x = F.relu(self.bn('bn1', self.conv('conv1', x, 64, 3, 2)))
        x = F.relu(self.bn('bn2', self.conv('conv2', x, 64, 3, 2)))
        for i in range(2):
            x = self.bottleneck(f'layer1.{i}', x, 64)
        xs = [F.relu(self.bn('transition1.0.1',
                             self.conv('transition1.0.0', x, self.channels[0], 3)))]
        xs.append(F.relu(self.bn('transition1.1.0.1',
                                 self.conv('transition1.1.0.0', x, self.channels[1], 3, 2))))
        for stage in range(2, 5):
            if stage > 2:
                t = f'transition{stage - 1}.{stage - 1}.0'
                xs.append(F.relu(self.bn(f'{t}.1', self.conv(f'{t}.0', xs[-1],
                                                             self.channels[stage - 1], 3, 2))))
            for m in range(self.num_modules[stage - 2]):
                prefix = f'stage{stage}.{m}'
                xs = [self.transformer_block(f'{prefix}.branches.{b}.1',
                                             self.transformer_block(f'{prefix}.branches.{b}.0', x,
                                                                    self.num_heads[b]),
                                             self.num_heads[b]) for b, x in enumerate(xs)]
                last = stage == 4 and m == self.num_modules[2] - 1
                xs = self.fuse(f'{prefix}.fuse_layers', xs,
                               1 if last and self.fork == 'pose' else len(xs))
        if self.fork == 'cls':
            return self.cls_head(xs)
        if self.fork == 'pose':
            return self.conv('keypoint_head.final_layer', xs[0], 17, 1, bias=True)
        return xs
