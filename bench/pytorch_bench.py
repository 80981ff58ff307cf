"""PyTorch's training speed on the CPU for the same network and recipe as the
engine's bench: the network built from the engine's description (torch_net.Net),
Adam (lr 1e-3, PyTorch's defaults), batch 64, shuffled MNIST training images
resized bilinearly to the network's input (28x28 ones as they are) and normalised
per batch, NLL loss on log-softmax, batchnorm in training mode and dropout with the
engine's masks.
Warm-up steps apart, then timed steps; prints one JSON line.

  npm run -s network -- --json > /tmp/net.json
  /usr/bin/python3 bench/pytorch_bench.py /tmp/net.json --steps 200

`npm run bench` runs it when python3 can import torch, and prints the engine's
images/s as a ratio of PyTorch's.
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from torch_net import MNIST_DIR, MNIST_MEAN, MNIST_STD, Net, prepare, read_mnist  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("network", help="the engine's description (npm run network -- --json), or - for stdin")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--warm-up", type=int, default=20)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--data", default=MNIST_DIR)
    ap.add_argument("--mean", type=float, default=MNIST_MEAN)
    ap.add_argument("--std", type=float, default=MNIST_STD)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    desc = json.load(sys.stdin if a.network == "-" else open(a.network))

    t0 = time.perf_counter()
    images, labels = read_mnist(a.data, "train")
    net = Net(desc)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    order = torch.randperm(images.shape[0])

    def step(i):
        idx = order[(i * a.batch) % (images.shape[0] - a.batch) :][: a.batch]
        x = prepare(images[idx], desc["input"], a.mean, a.std)
        opt.zero_grad()
        loss = F.nll_loss(net(x, step=i + 1), labels[idx])
        loss.backward()
        opt.step()
        return loss

    for i in range(a.warm_up):
        step(i)
    setup = time.perf_counter() - t0
    t1 = time.perf_counter()
    for i in range(a.warm_up, a.warm_up + a.steps):
        loss = step(i)
    seconds = time.perf_counter() - t1
    print(json.dumps({
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "setupSeconds": setup,
        "imagesPerSecond": a.steps * a.batch / seconds,
        "msPerStep": 1000 * seconds / a.steps,
        "finalLoss": float(loss),
    }))


if __name__ == "__main__":
    main()
