"""The engine's networks in PyTorch, built from the same description
(`npm run network -- --arch NAME --json`), with helpers to read the engine's
safetensors files and MNIST's IDX files without extra packages.

Used by bench/pytorch_steps.py to check the engine's first training steps against
PyTorch's own (torch.nn, torch.optim.Adam, float32).
"""
import json
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    """Modules named as the description names its layers, so state_dict names match."""

    def __init__(self, desc):
        super().__init__()
        self.desc = desc
        for layer in desc["layers"]:
            if layer["op"] == "conv2d":
                self.add_module(layer["name"], nn.Conv2d(layer["inChannels"], layer["outChannels"], layer["kernel"]))
            elif layer["op"] == "linear":
                self.add_module(layer["name"], nn.Linear(layer["inFeatures"], layer["outFeatures"]))

    def forward(self, x):
        for layer in self.desc["layers"]:
            op = layer["op"]
            if op in ("conv2d", "linear"):
                x = getattr(self, layer["name"])(x)
            elif op == "relu":
                x = F.relu(x)
            elif op == "maxpool2d":
                x = F.max_pool2d(x, layer["kernel"], layer["kernel"])
            elif op == "flatten":
                x = torch.flatten(x, 1)
            elif op == "log_softmax":
                x = F.log_softmax(x, dim=1)
            else:
                raise ValueError(f"unknown op {op}")
        return x


def read_safetensors(path):
    """{name: float32 tensor}, and the metadata."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    meta = header.pop("__metadata__", {})
    out = {}
    for name, e in header.items():
        assert e["dtype"] == "F32", name
        a, b = e["data_offsets"]
        t = torch.frombuffer(bytearray(data[8 + n + a : 8 + n + b]), dtype=torch.float32)
        out[name] = t.reshape(e["shape"]) if e["shape"] else t.reshape(())
    return out, meta


def read_idx(path):
    with open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = struct.unpack(">" + "I" * dims, data[4 : 4 + 4 * dims])
    return torch.frombuffer(bytearray(data[4 + 4 * dims :]), dtype=torch.uint8).reshape(shape)


def prepare(images, size, mean, std):
    """uint8 [n, 28, 28] -> [n, 1, size, size]: /255, bilinear (align_corners=False), normalised."""
    x = images.float().div(255).unsqueeze(1)
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return (x - mean) / std


def write_safetensors(path, tensors, metadata=None):
    """F32 tensors in state_dict order, as the engine's files are."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, t in tensors.items():
        b = t.detach().contiguous().float().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
