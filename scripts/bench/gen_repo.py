#!/usr/bin/env python3
"""Writes the files of a benchmark repository: DIRS directories of FILES files each, about
SIZE bytes apiece, with deterministic content (the same arguments give the same tree).
The caller runs `git init`/`git add`/`git commit`.

Usage: gen_repo.py DEST --dirs 50 --files 100 --size 1024
"""

import argparse
import os
import sys


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("dest")
    p.add_argument("--dirs", type=int, required=True)
    p.add_argument("--files", type=int, required=True)
    p.add_argument("--size", type=int, default=1024)
    a = p.parse_args()
    for d in range(a.dirs):
        dpath = os.path.join(a.dest, f"d{d:03d}")
        os.makedirs(dpath, exist_ok=True)
        for f in range(a.files):
            line = f"dir {d:03d} file {f:04d} of the pipeline benchmark repository\n"
            body = (line * (a.size // len(line) + 1))[: a.size]
            with open(os.path.join(dpath, f"f{f:04d}.txt"), "w", encoding="utf-8") as fh:
                fh.write(body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
