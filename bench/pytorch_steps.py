"""Checks the engine's first training steps against PyTorch's own.

  /usr/bin/python3 bench/pytorch_steps.py bench/networks/lenet5-relu.json /tmp/init.safetensors --make-init
  npm run train:node -- --init /tmp/init.safetensors --epochs 1 --limit 160 --batch-size 16 \
      --no-shuffle --test-limit 64 --out /tmp/trained.safetensors
  /usr/bin/python3 bench/pytorch_steps.py bench/networks/lenet5-relu.json /tmp/init.safetensors /tmp/trained.safetensors

NETWORK is any network file (bench/networks/*.json, one per preset as `npm run -s
network -- --arch NAME --json` prints it, or any other).
--make-init writes PyTorch's default initialisation of the network as an --init file
(batchnorm: weight 1, bias 0, running_mean 0, running_var 1, num_batches_tracked 0,
as I64) that records the network as the engine's files do (metadata "arch" and
"network"), so the engine trains it as that network without --arch, preset or not;
TRAINED, the engine's model after the steps, records it the same way. The comparison trains that network in PyTorch (torch.optim.Adam with its
defaults, lr 1e-3, training mode: batchnorm on batch statistics and updating its
running ones, dropout with the engine's masks for --seed) from INIT's weights on the
first steps*batch MNIST training images in file order, and prints, per tensor of the
state_dict (batchnorm's running_mean and running_var included), the relative
difference ||torch - engine|| / ||torch|| with TRAINED (the engine's model after the
same steps); num_batches_tracked must be equal (exit code 1 otherwise).

--float64 runs the same steps in float64 as well, and prints per tensor
||engine - torch64||, ||torch32 - engine|| and ||torch32 - torch64||, each over
||torch64||: the engine is as good as PyTorch's float32 where its distance to float64
is about PyTorch's. Without TRAINED it prints the last column alone.

--out FILE also writes PyTorch's float32 model after the steps (for
bench/pytorch_eval.py or the engine's eval).

Tensors marked * are a conv2d's or linear's bias right before a batchnorm, and that
batchnorm's running_mean, which carries it: in exact arithmetic the bias gets no
gradient (batchnorm subtracts the batch mean), so in float32 its gradient is rounding
noise, which Adam scales up to steps of up to lr. Their relative differences are
large (1e-3 to 1e-1 after 10 steps) for any float32 implementation, PyTorch's too:
compare the columns, not a fixed tolerance.
"""
import argparse
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from torch_net import MNIST_DIR, MNIST_MEAN, MNIST_STD, Net, network_metadata, prepare, read_mnist, read_safetensors, write_safetensors  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("network")
    ap.add_argument("init")
    ap.add_argument("trained", nargs="?")
    ap.add_argument("--make-init", action="store_true")
    ap.add_argument("--float64", action="store_true", help="also train in float64 and compare both with it")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=1, help="the engine run's --seed, for dropout's masks (default 1)")
    ap.add_argument("--out", help="also write PyTorch's float32 model after the steps here (metadata: arch, mean, std)")
    ap.add_argument("--data", default=MNIST_DIR)
    ap.add_argument("--mean", type=float, default=MNIST_MEAN)
    ap.add_argument("--std", type=float, default=MNIST_STD)
    a = ap.parse_args()
    torch.set_num_threads(1)
    desc = json.load(open(a.network))
    if a.make_init:
        torch.manual_seed(0)
        write_safetensors(a.init, Net(desc).state_dict(), {"format": "pt", **network_metadata(desc)})
        print(f"wrote PyTorch's initialisation of {desc['name']} to {a.init}")
        return
    if not a.trained and not a.float64 and not a.out:
        ap.error("give TRAINED (the engine's model after the steps), --float64 to compare PyTorch's float32 with float64, or --out")
    init, _ = read_safetensors(a.init)
    images, labels = read_mnist(a.data, "train")
    images, labels = images[: a.steps * a.batch], labels[: a.steps * a.batch]
    torch32 = train(desc, init, images, labels, a, torch.float32)
    if a.out:
        write_safetensors(a.out, torch32, {"format": "pt", **network_metadata(desc), "mean": str(a.mean), "std": str(a.std)})
        print(f"wrote PyTorch's float32 model after {a.steps} steps to {a.out}")
    engine = read_safetensors(a.trained)[0] if a.trained else None
    if engine is not None:
        missing = [name for name in torch32 if name not in engine]
        if missing:
            sys.exit(f"{a.trained}: missing {', '.join(missing)}")
    noisy = noise_only(desc)
    if engine is None and not a.float64:
        return
    width = max(len(name) for name in torch32) + 2
    counts_ok = True
    if not a.float64:
        worst, clean = 0.0, 0.0
        for name, t in torch32.items():
            if not t.is_floating_point():
                counts_ok &= print_count(name, width, t, engine[name])
                continue
            rel = relative(t - engine[name], t)
            worst = max(worst, rel)
            clean = clean if name in noisy else max(clean, rel)
            print(f"{mark(name, noisy):{width}s} {rel:.3e}")
        print(f"worst relative difference after {a.steps} steps: {worst:.3e}")
        if noisy:
            print(f"worst over the tensors not marked *: {clean:.3e}")
    else:
        torch64 = train(desc, init, images, labels, a, torch.float64)
        columns = ["|engine-torch64|", "|torch32-engine|", "|torch32-torch64|"] if engine is not None else ["|torch32-torch64|"]
        print(f"{'':{width}s} " + " ".join(f"{c:>18s}" for c in columns) + "   (each over |torch64|)")
        worst, clean = [0.0] * len(columns), [0.0] * len(columns)
        for name, t64 in torch64.items():
            t32 = torch32[name]
            if not t64.is_floating_point():
                counts_ok &= print_count(name, width, t32, engine[name] if engine is not None else t64)
                continue
            if engine is not None:
                e = engine[name].double()
                rels = [relative(e - t64, t64), relative(t32.double() - e, t64), relative(t32.double() - t64, t64)]
            else:
                rels = [relative(t32.double() - t64, t64)]
            worst = [max(w, r) for w, r in zip(worst, rels)]
            clean = clean if name in noisy else [max(w, r) for w, r in zip(clean, rels)]
            print(f"{mark(name, noisy):{width}s} " + " ".join(f"{r:18.3e}" for r in rels))
        print(f"{'worst':{width}s} " + " ".join(f"{w:18.3e}" for w in worst) + f"   after {a.steps} steps")
        if noisy:
            print(f"{'worst not *':{width}s} " + " ".join(f"{w:18.3e}" for w in clean))
    if not counts_ok:
        sys.exit("num_batches_tracked differs")


def train(desc, init, images, labels, a, dtype):
    """The state_dict after a.steps Adam steps from init, in dtype."""
    net = Net(desc, seed=a.seed).to(dtype)
    net.load_state_dict(init)
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=a.lr)
    for k in range(a.steps):
        s = slice(k * a.batch, (k + 1) * a.batch)
        x = prepare(images[s], desc["input"], a.mean, a.std, dtype)
        loss = F.nll_loss(net(x, step=k + 1), labels[s])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return {name: t.detach().clone() for name, t in net.state_dict().items()}


def noise_only(desc):
    """The tensors whose exact gradient is zero (see the docstring): a bias right before a batchnorm, and its running_mean."""
    layers = desc["layers"]
    names = set()
    for layer, after in zip(layers, layers[1:]):
        if layer["op"] in ("conv2d", "linear") and after["op"] in ("batchnorm2d", "batchnorm1d"):
            names |= {f"{layer['name']}.bias", f"{after['name']}.running_mean"}
    return names


def mark(name, noisy):
    return f"{name} *" if name in noisy else name


def relative(diff, ref):
    """||diff|| / ||ref||, or ||diff|| alone where ref is all zeros."""
    d, r = diff.double().norm().item(), ref.double().norm().item()
    return d / r if r > 0 else d


def print_count(name, width, torch_count, other):
    same = torch.equal(torch_count, other.long())
    print(f"{name:{width}s} {int(torch_count)} {'equal' if same else f'DIFFERS: {int(other)}'}")
    return same


if __name__ == "__main__":
    main()
