#!/usr/bin/python3
"""Export an architecture pepr does not build natively as TorchScript, with its weights, so that
`pepr train --model FILE.pt` can fine-tune and meter it like a native one.

  /usr/bin/python3 scripts/export_torchscript.py NAME -o NAME.pt [--num-classes N] [--in-chans C]
                                                 [--no-pretrained] [--torchvision]

NAME is a timm name (needs `pip install timm`; pretrained weights come from the Hugging Face hub)
or, with --torchvision, a torchvision model name (Debian's python3-torchvision; no download
unless pretrained weights are asked for). The model is compiled with torch.jit.script, not traced:
a traced model freezes BatchNorm in the mode it was traced in and would not train.
"""
import argparse
import sys

import torch


def build(args):
    if args.torchvision:
        import torchvision

        ctor = getattr(torchvision.models, args.name, None)
        if ctor is None:
            sys.exit(f"torchvision has no model '{args.name}'")
        weights = "DEFAULT" if args.pretrained else None
        model = ctor(weights=weights)
        if args.num_classes:
            head = _torchvision_head(model)
            if head is None:
                sys.exit(f"{args.name}: cannot find the classifier to resize")
            parent, attr, old = head
            setattr(parent, attr, torch.nn.Linear(old.in_features, args.num_classes))
        if args.in_chans != 3:
            sys.exit("--in-chans other than 3 needs timm (torchvision models take RGB)")
        return model
    try:
        import timm
    except ImportError:
        sys.exit("this needs timm (pip install timm), or use --torchvision for a torchvision model")
    kwargs = {"pretrained": args.pretrained, "in_chans": args.in_chans}
    if args.num_classes:
        kwargs["num_classes"] = args.num_classes
    return timm.create_model(args.name, **kwargs)


def _torchvision_head(model):
    for attr in ("fc", "head", "classifier"):
        m = getattr(model, attr, None)
        if isinstance(m, torch.nn.Linear):
            return model, attr, m
        if isinstance(m, torch.nn.Sequential):
            for i in range(len(m) - 1, -1, -1):
                if isinstance(m[i], torch.nn.Linear):
                    return m, str(i), m[i]
    return None


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("name")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--num-classes", type=int, default=0, help="replace the head (default: keep)")
    p.add_argument("--in-chans", type=int, default=3)
    p.add_argument("--no-pretrained", dest="pretrained", action="store_false")
    p.add_argument("--torchvision", action="store_true", help="NAME is a torchvision model")
    args = p.parse_args()
    model = build(args)
    model.train()
    scripted = torch.jit.script(model)
    tmp = args.output + ".tmp"
    scripted.save(tmp)
    import os

    os.replace(tmp, args.output)
    n = sum(q.numel() for q in model.parameters() if q.requires_grad)
    print(f"{args.output}: {args.name}, {n} trainable parameters, TorchScript (scripted)")


if __name__ == "__main__":
    main()
